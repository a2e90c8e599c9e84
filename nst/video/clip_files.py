"""A clip's files: a video file or a folder of frames read a frame at a time, and H.264 mp4 written.

Reading and writing go through PyAV (FFmpeg's libraries); nothing here decodes or encodes by
hand. A clip's frames are uint8 RGB arrays (height, width, 3), numbered from 0: frames(a, b)
are frames a, a + 1, ..., b - 1, as in a Python slice.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.logging
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from nst.errors import InputError
from nst.files import atomic_path
from nst.images import MAX_PIXELS, read_rgb, resize
from nst.video.clip_paths import FRAME_SUFFIXES

DEFAULT_FPS = Fraction(24)
"""Frames per second of a folder of frames, or of a video file that does not say, unless given."""

H264_OPTIONS = {"crf": "18", "preset": "medium"}
"""libx264's settings: constant quality 18 (about as good as the eye can tell, and a painted
frame's strokes are fine detail), at its default speed."""

MP4_FASTSTART = {"format": "mp4", "options": {"movflags": "+faststart"}}
"""av.open's arguments for an mp4 whose index is at its start, where a player finds it first."""

MP4_AUDIO_CODECS = frozenset(("aac", "mp3", "ac3", "eac3", "alac", "flac", "opus"))
"""Audio codecs that an mp4 file holds as they are, and common players read there: such an
audio stream is copied packet by packet; any other (PCM, Vorbis, ...) is encoded to AAC."""


@dataclass(frozen=True)
class AudioSpan:
    """The part of a file's first audio stream that goes with some frames of its video: from
    `start` to `stop`, in seconds of the file's own clock (av.Stream.time_base times pts)."""

    path: Path
    start: Fraction
    stop: Fraction


@dataclass(frozen=True)
class Clip:
    """A video file, or a folder of frames, as open_clip found it.

    frame_count: the frames that decode (what every frame iterator yields); fps: frames
    per second; width x height: each frame's size in pixels, as shown; has_audio: the file
    has an audio stream (a folder never does); frame_files: a folder's frames in order
    (empty for a video file); first_time: the time of a video file's first frame, in
    seconds; quarter_turns: the quarter turns counterclockwise, 0 to 3, that a video file's
    display matrix asks of its stored pictures, made by frames() (3 for a phone held
    upright: its pictures are stored lying on their side).
    """

    path: Path
    frame_count: int
    fps: Fraction
    width: int
    height: int
    has_audio: bool
    frame_files: tuple[Path, ...] = ()
    first_time: Fraction = Fraction(0)
    quarter_turns: int = 0

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Frames start, start + 1, ..., stop - 1 (to the last when stop is None), one at a
        time, as uint8 RGB (height, width, 3). A video is decoded from its start (frames
        before `start` are decoded and dropped, so that every frame is the one counted)."""
        stop = self.frame_count if stop is None else stop
        if not 0 <= start <= stop <= self.frame_count:
            raise ValueError(f"frames {start}:{stop} of a clip of {self.frame_count} frames")
        if start == stop:
            return
        if self.frame_files:
            for path in self.frame_files[start:stop]:
                yield _frame_file(path, (self.height, self.width))
            return
        stored = (self.width, self.height)[:: -1 if self.quarter_turns % 2 else 1]
        with _opened_video(self.path) as (container, stream):
            decoded = 0
            for decoded, frame in enumerate(_decoded(self.path, container, stream), start=1):
                if decoded > start:
                    picture = frame.to_ndarray(format="rgb24", width=stored[0], height=stored[1])
                    yield np.ascontiguousarray(np.rot90(picture, self.quarter_turns))
                if decoded == stop:
                    return
            if decoded < stop:
                raise InputError(
                    f"video {self.path} now ends after {decoded} frames, not {self.frame_count}: "
                    "it changed since it was opened"
                )

    def audio_span(self, start: int = 0, stop: int | None = None) -> AudioSpan | None:
        """The audio that plays with frames start .. stop - 1 (the last when stop is None),
        from the start of frame `start` to the end of frame stop - 1; None without audio."""
        if not self.has_audio:
            return None
        stop = self.frame_count if stop is None else stop
        return AudioSpan(
            self.path, self.first_time + start / self.fps, self.first_time + stop / self.fps
        )


def open_clip(path: str | os.PathLike, fps: Fraction = DEFAULT_FPS) -> Clip:
    """The clip at `path`: a video file, or a folder of PNG or JPEG frames in the natural
    order of their names (frame2 before frame10), shown at `fps` frames per second (also the
    rate of a video file that does not give one).

    Every frame is decoded once, here: the count is then exact whatever the container
    claims (OpenCV's sample tree.avi says 444 frames and holds 68), and a damaged frame is
    found before any is painted (vtest.avi, 795 frames of 768x576 MPEG-4, takes 0.4 s on a
    2-core AMD Zen 3). Bad input is an InputError naming the file: missing,
    empty, damaged or truncated, not a video, without a video stream or frames, a folder
    without frames, frames of different sizes, or an unreadable frame.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"clip {path} does not exist")
    if path.is_dir():
        return _open_folder(path, fps)
    return _open_video(path, fps)


def _open_folder(folder: Path, fps: Fraction) -> Clip:
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and p.name[0] != "."),
        key=lambda p: _natural_key(p.name),
    )
    if not files:
        raise InputError(
            f"folder {folder} holds no frames: no {', '.join(sorted(FRAME_SUFFIXES))} files"
        )
    height, width, _ = read_rgb(files[0]).shape
    for path in files[1:]:
        _frame_file(path, (height, width), files[0])
    return Clip(folder, len(files), fps, width, height, False, tuple(files))


def _natural_key(name: str) -> list:
    """The sort key of a name whose runs of digits compare as numbers: "f2" < "f10"."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _frame_file(path: Path, shape: tuple[int, int], first: Path | None = None) -> np.ndarray:
    """The frame in image file `path` (nst.images.read_rgb), which must be height x width
    = `shape` (as `first`, the folder's first frame, when given)."""
    frame = read_rgb(path)
    if frame.shape[:2] != shape:
        height, width = frame.shape[:2]
        others = f"the first frame, {first.name}, is" if first else "the clip's frames are"
        raise InputError(
            f"frame {path} is {width}x{height} pixels, but {others} {shape[1]}x{shape[0]}: "
            "a clip's frames must all be one size"
        )
    return frame


def _open_video(path: Path, fps: Fraction) -> Clip:
    if path.stat().st_size == 0:
        raise InputError(f"video {path} is empty (0 bytes)")
    with _opened_video(path) as (container, stream):
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > MAX_PIXELS:
            raise InputError(
                f"video {path} is {width}x{height} pixels, too large: more than the "
                f"{MAX_PIXELS:,} this program reads"
            )
        rate = stream.average_rate or stream.guessed_rate or fps
        count, first_time, turns = 0, Fraction(0), 0
        for count, frame in enumerate(_decoded(path, container, stream), start=1):
            if count == 1:
                turns = round(frame.rotation / 90) % 4
                if frame.pts is not None:
                    first_time = Fraction(frame.pts) * frame.time_base
        if count == 0:
            raise InputError(f"video {path} holds no frames")
        has_audio = bool(container.streams.audio)
    if turns % 2:
        width, height = height, width
    return Clip(path, count, Fraction(rate), width, height, has_audio, (), first_time, turns)


@contextmanager
def _opened_video(path: Path) -> Iterator[tuple]:
    """(the container, its first video stream) of video file `path`, closed afterwards;
    InputError naming the file when FFmpeg cannot read it or it has no video stream."""
    with _ffmpeg_log() as log:
        try:
            container = av.open(str(path))
        except PermissionError:
            raise InputError(f"video {path} cannot be read: permission denied") from None
        except (av.FFmpegError, OSError, ValueError) as e:
            # a reader that recognized the file and then failed logged why (a truncated mp4:
            # "moov atom not found"); FFmpeg names no reader for a file of no known format
            if log:
                reason = log[-1][2].strip()
                raise InputError(f"video {path} is damaged or truncated: {reason}") from None
            raise InputError(
                f"{path} is not a video file that FFmpeg can read ({getattr(e, 'strerror', e)})"
            ) from None
    with container:
        if not container.streams.video:
            kinds = " and ".join(sorted({s.type for s in container.streams}))
            only = f", only {kinds}" if kinds else ""
            raise InputError(f"{path} holds no video stream{only}: not a clip")
        stream = container.streams.video[0]
        if stream.codec_context is None:  # FFmpeg has no decoder for what the stream says
            raise InputError(f"video {path} is damaged, or its video cannot be decoded here")
        stream.thread_type = "AUTO"
        yield container, stream


def _decoded(path: Path, container, stream) -> Iterator[av.VideoFrame]:
    """The frames of `stream` as FFmpeg decodes them; InputError naming the file and the
    frame when decoding fails."""
    count = 0
    frames = container.decode(stream)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except (av.FFmpegError, ValueError) as e:
            raise InputError(
                f"video {path} is damaged: frame {count + 1} cannot be decoded "
                f"({getattr(e, 'strerror', e)})"
            ) from None
        count += 1
        yield frame


@contextmanager
def _ffmpeg_log() -> Iterator[list]:
    """FFmpeg's error messages while the block runs, as (level, source, message) tuples, kept
    rather than printed (PyAV's own level, off by default, is put back afterwards)."""
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture() as log:
            yield log
    finally:
        av.logging.set_level(previous)


def write_clip(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: Fraction,
    audio: AudioSpan | None = None,
) -> int:
    """Write `frames` (uint8 RGB (height, width, 3), all one size) to `path` as an mp4 of
    H.264 video at `fps` frames per second, one picture per frame, with `audio` when given;
    the number of frames written.

    The video: libx264 (H264_OPTIONS), yuv420p in BT.709 limited range, tagged so. yuv420p
    keeps colour at half the resolution, so both sides must be even: an odd width or height
    gets one more column or row, a copy of the last (every pixel of the frames is kept).
    The audio: the span's audio stream, copied packet by packet when an mp4 holds its codec
    (MP4_AUDIO_CODECS), else encoded to AAC; it starts with the first frame. The file
    appears only when complete (nst.files.atomic_path), with its index at the start
    (MP4_FASTSTART), so that a player can start before it has all of it.
    """
    with atomic_path(path) as tmp, av.open(str(tmp), "w", **MP4_FASTSTART) as output:
        return _write(output, frames, fps, audio)


def _write(output, frames: Iterable[np.ndarray], fps: Fraction, audio: AudioSpan | None) -> int:
    """write_clip's streams, frames and audio in open mp4 container `output`."""
    video = output.add_stream("libx264", rate=fps, options=dict(H264_OPTIONS))
    video.pix_fmt = "yuv420p"
    context = video.codec_context
    context.colorspace, context.color_range = Colorspace.ITU709, ColorRange.MPEG
    context.color_primaries = context.color_trc = 1  # BT.709
    with _audio_packets(audio, output) as packets:
        count = 0
        pending = next(packets, None)
        for count, image in enumerate(frames, start=1):
            if count == 1:
                shape = image.shape
                video.height, video.width = (side + side % 2 for side in shape[:2])
            elif image.shape != shape:
                raise ValueError(f"frame {count} is {image.shape}, the first was {shape}")
            frame = av.VideoFrame.from_ndarray(_even(image), format="rgb24")
            frame = frame.reformat(
                format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
            )
            frame.pts = count - 1
            output.mux(video.encode(frame))
            while pending is not None and pending[0] < count / fps:
                output.mux(pending[1])
                pending = next(packets, None)
        if count == 0:
            raise ValueError("write_clip: no frames")
        output.mux(video.encode())
        while pending is not None:
            output.mux(pending[1])
            pending = next(packets, None)
    return count


def _even(image: np.ndarray) -> np.ndarray:
    """uint8 RGB `image` with its last row and column repeated where its height and width
    are odd, so that both are even."""
    height, width = image.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return image
    return np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")


@contextmanager
def _audio_packets(span: AudioSpan | None, output) -> Iterator[Iterator[tuple]]:
    """(time in seconds from the span's start, packet) for `output`'s new audio stream, made
    from `span` (nothing when it is None), in order: add the stream before any is written."""
    if span is None:
        yield iter(())
        return
    with av.open(str(span.path)) as source:
        stream = source.streams.audio[0]
        if stream.codec_context.name in MP4_AUDIO_CODECS:
            yield _copied(source, stream, output.add_stream_from_template(stream), span)
        else:
            context = stream.codec_context
            # FFmpeg's usual layout of as many channels ("2c": stereo); some files, such as
            # an AVI's PCM, say only their number of channels, which AAC's encoder refuses
            layout = f"{context.channels}c"
            target = output.add_stream("aac", rate=context.sample_rate, layout=layout)
            yield _encoded(source, stream, target, span)


def _copied(source, stream, target, span: AudioSpan) -> Iterator[tuple]:
    """The span's packets of `stream`, moved to start at 0 and bound for `target`."""
    for packet in source.demux(stream):
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is None:
            continue  # the demuxer's empty packet at the end
        time = stamp * packet.time_base
        if time < span.start:
            continue
        if time >= span.stop:
            return
        shift = round(span.start / packet.time_base)
        packet.pts = None if packet.pts is None else packet.pts - shift
        packet.dts = None if packet.dts is None else packet.dts - shift
        packet.stream = target
        yield time - span.start, packet


def _encoded(source, stream, target, span: AudioSpan) -> Iterator[tuple]:
    """The span's audio of `stream`, moved to start at 0 and encoded to `target`'s AAC."""
    rate = target.codec_context.sample_rate
    resampler = av.AudioResampler(
        format="fltp", layout=target.codec_context.layout.name, rate=rate, frame_size=1024
    )
    samples = 0

    def encode(frame) -> Iterator[tuple]:
        nonlocal samples
        for chunk in resampler.resample(frame):
            chunk.pts, chunk.time_base = samples, Fraction(1, rate)
            samples += chunk.samples
            for packet in target.encode(chunk):
                yield packet.pts * packet.time_base, packet

    for frame in source.decode(stream):
        time = Fraction(frame.pts) * frame.time_base
        if time < span.start:
            continue
        if time >= span.stop:
            break
        frame.pts = None
        yield from encode(frame)
    yield from encode(None)
    for packet in target.encode(None):
        yield packet.pts * packet.time_base, packet


def side_by_side_frames(
    inputs: Iterable[np.ndarray], results: Iterable[np.ndarray]
) -> Iterator[np.ndarray]:
    """Each input frame beside its result (input left, result right), as one uint8 RGB frame:
    the input scaled (Lanczos) to the result's height, keeping its aspect ratio."""
    for content, result in zip(inputs, results, strict=True):
        height, width = content.shape[:2]
        scaled_width = max(1, round(width * result.shape[0] / height))
        yield np.hstack([resize(content, scaled_width, result.shape[0]), result])
