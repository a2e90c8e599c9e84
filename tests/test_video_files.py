"""A clip's files: video files and folders of frames read back as they were made, mp4 written
with the input's frame rate, frame count and audio, and each kind of bad input refused in one
sentence that names the file."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from nst.errors import InputError
from nst.video.clip_files import open_clip, side_by_side_frames, write_clip
from nst.video.clip_paths import is_clip

RATE = Fraction(24000, 1001)
WIDTH, HEIGHT = 32, 24
COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40), (40, 220, 220), (128,) * 3]
"""The colour of each frame of the clips made here, in order."""
CLOSE = 6
"""Largest difference, in 0..255 levels, between a flat colour and its value after a lossy
codec (H.264, VP9, MPEG-4 part 2) and the conversions to and from YUV."""
AUDIO_RATE = 48000

# (file name, video encoder, audio encoder, audio samples a frame, audio sample format)
CONTAINERS = [
    ("clip.mp4", "libx264", "aac", 1024, "fltp"),
    ("clip.mkv", "libx264", "libopus", 960, "s16"),
    ("clip.webm", "libvpx-vp9", "libopus", 960, "s16"),
    ("clip.avi", "mpeg4", "pcm_s16le", None, "s16"),
    ("clip.mov", "mpeg4", "pcm_s16le", None, "s16"),
]
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
"""The sample data of Debian's opencv-doc package (apt-get install opencv-doc): real clips."""


def make_clip(path: Path, video_codec="libx264", audio_codec="aac", frame_size=1024,
              sample_format="fltp", colours=COLOURS, audio=True) -> Path:  # fmt: skip
    """A clip at `path`, made with PyAV: a flat frame of each colour, RATE frames a second,
    and (with `audio`) a 440 Hz sine tone as long as the video, mono at AUDIO_RATE."""
    with av.open(str(path), "w") as output:
        video = output.add_stream(video_codec, rate=RATE)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = output.add_stream(audio_codec, rate=AUDIO_RATE, layout="mono") if audio else None
        for k, colour in enumerate(colours):
            frame = av.VideoFrame.from_ndarray(np.full((HEIGHT, WIDTH, 3), colour, np.uint8))
            frame.pts = k
            output.mux(video.encode(frame))
        output.mux(video.encode())
        if sound is None:
            return path
        t = np.arange(int(AUDIO_RATE * len(colours) / RATE)) / AUDIO_RATE
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
        whole = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
        whole.sample_rate, whole.pts = AUDIO_RATE, 0
        resampler = av.AudioResampler(sample_format, "mono", AUDIO_RATE, frame_size=frame_size)
        for chunk in resampler.resample(whole) + resampler.resample(None):
            output.mux(sound.encode(chunk))
        output.mux(sound.encode())
    return path


def streams(path: Path) -> dict:
    """{stream type: (codec name, seconds)} of the file at `path`, as PyAV reads it."""
    with av.open(str(path)) as container:
        return {
            s.type: (s.codec_context.name, float(s.duration * s.time_base))
            for s in container.streams
        }


def colours_of(frames) -> list[tuple]:
    """The colour at the middle of each frame."""
    return [tuple(int(v) for v in frame[HEIGHT // 2, WIDTH // 2]) for frame in frames]


def assert_close(found: list[tuple], expected: list[tuple]) -> None:
    assert len(found) == len(expected)
    assert np.abs(np.int32(found) - np.int32(expected)).max() <= CLOSE


@pytest.mark.parametrize("made", CONTAINERS, ids=[c[0] for c in CONTAINERS])
def test_a_video_file_reads_back_as_it_was_made(tmp_path, made):
    name, *codecs = made
    clip = open_clip(make_clip(tmp_path / name, *codecs))
    assert (clip.frame_count, clip.fps, clip.width, clip.height) == (6, RATE, WIDTH, HEIGHT)
    assert clip.has_audio
    frames = list(clip.frames())
    assert all(f.shape == (HEIGHT, WIDTH, 3) and f.dtype == np.uint8 for f in frames)
    assert_close(colours_of(frames), COLOURS)


def test_frames_a_to_b_are_the_zero_based_slice(tmp_path):
    clip = open_clip(make_clip(tmp_path / "clip.mp4"))
    assert_close(colours_of(clip.frames(2, 5)), COLOURS[2:5])
    assert_close(colours_of(clip.frames(4)), COLOURS[4:])
    assert list(clip.frames(3, 3)) == []
    with pytest.raises(ValueError, match="frames 4:7 of a clip of 6 frames"):
        next(clip.frames(4, 7))


def test_a_video_with_a_display_rotation_is_read_upright(tmp_path):
    # as a phone held upright records: pictures stored on their side, and a display matrix
    # that turns them a quarter turn clockwise (-90 degrees counterclockwise) to be shown
    picture = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    picture[:6, :6] = 255  # a white top-left corner, as stored
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as output:
        video = output.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.set_display_rotation(-90)
        for k in range(2):
            frame = av.VideoFrame.from_ndarray(picture)
            frame.pts = k
            output.mux(video.encode(frame))
        output.mux(video.encode())
    clip = open_clip(path)
    assert (clip.width, clip.height) == (HEIGHT, WIDTH)
    shown = next(clip.frames())
    assert shown.shape == (WIDTH, HEIGHT, 3)
    # a quarter turn clockwise takes the top-left corner to the top right
    assert shown[:6, -6:].min() >= 255 - CLOSE and shown[:, :-8].max() <= CLOSE


def test_an_animated_gif_is_a_clip_at_its_frame_delay(tmp_path):
    path = tmp_path / "clip.gif"
    pictures = [Image.new("RGB", (WIDTH, HEIGHT), colour) for colour in COLOURS]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=100, loop=0)
    clip = open_clip(path)
    assert (clip.frame_count, clip.fps, clip.has_audio) == (6, 10, False)
    assert_close(colours_of(clip.frames()), COLOURS)
    assert is_clip(path)
    pictures[0].save(tmp_path / "still.gif")
    assert not is_clip(tmp_path / "still.gif")


def test_a_folder_of_frames_is_read_in_the_natural_order_of_its_names(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    # frame1 ... frame6: in the order of the numbers, which is not the order of the strings
    # ("frame10" would sort before "frame2"); frame5 a JPEG among PNGs
    for k, colour in zip([1, 2, 9, 10, 11, 100], COLOURS, strict=True):
        suffix = ".jpg" if k == 11 else ".png"
        Image.new("RGB", (WIDTH, HEIGHT), colour).save(folder / f"frame{k}{suffix}")
    (folder / "notes.txt").write_text("not a frame")
    (folder / ".frame0.png").write_bytes(b"a hidden file, not a frame")
    clip = open_clip(folder, fps=Fraction(12))
    assert (clip.frame_count, clip.fps, clip.width, clip.height) == (6, 12, WIDTH, HEIGHT)
    assert not clip.has_audio and clip.audio_span() is None
    assert [p.name for p in clip.frame_files][:3] == ["frame1.png", "frame2.png", "frame9.png"]
    assert_close(colours_of(clip.frames()), COLOURS)
    assert colours_of(clip.frames(0, 1)) == [COLOURS[0]]  # PNG: lossless
    assert is_clip(folder)
    assert open_clip(folder).fps == 24


def test_the_written_mp4_has_the_inputs_frame_count_rate_and_audio(tmp_path):
    clip = open_clip(make_clip(tmp_path / "clip.mp4"))
    out = tmp_path / "stylized.mp4"
    assert write_clip(out, clip.frames(), clip.fps, clip.audio_span()) == 6
    written = open_clip(out)
    assert (written.frame_count, written.fps, written.width, written.height) == (6, RATE, 32, 24)
    assert_close(colours_of(written.frames()), COLOURS)
    found = streams(out)
    assert found["video"] == ("h264", pytest.approx(6 / RATE))
    # the AAC stream is copied, as long as the video within one AAC frame (1024 samples)
    assert found["audio"][0] == "aac"
    assert found["audio"][1] == pytest.approx(6 / RATE, abs=1024 / AUDIO_RATE)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize(("name", "audio_codec"), [("clip.mkv", "opus"), ("clip.avi", "aac")])
def test_audio_is_copied_when_mp4_holds_its_codec_and_made_aac_otherwise(
    tmp_path, name, audio_codec
):
    made = next(c for c in CONTAINERS if c[0] == name)
    clip = open_clip(make_clip(tmp_path / name, *made[1:]))
    write_clip(tmp_path / "out.mp4", clip.frames(), clip.fps, clip.audio_span())
    assert streams(tmp_path / "out.mp4")["audio"][0] == audio_codec  # opus copied; PCM as AAC


def test_part_of_a_clip_is_written_with_its_part_of_the_audio(tmp_path):
    clip = open_clip(make_clip(tmp_path / "clip.avi", "mpeg4", "pcm_s16le", None, "s16"))
    out = tmp_path / "part.mp4"
    write_clip(out, clip.frames(2, 5), clip.fps, clip.audio_span(2, 5))
    assert_close(colours_of(open_clip(out).frames()), COLOURS[2:5])
    _, seconds = streams(out)["audio"]
    assert seconds == pytest.approx(3 / RATE, abs=1024 / AUDIO_RATE)


def test_odd_sides_get_one_more_row_or_column_a_copy_of_the_last(tmp_path):
    image = np.zeros((25, 33, 3), np.uint8)
    image[:, -1] = 250  # a white last column
    image[-1, :-1] = 120  # a grey last row
    out = tmp_path / "odd.mp4"
    write_clip(out, [image] * 3, Fraction(25))
    written = open_clip(out)
    assert (written.width, written.height) == (34, 26)
    frame = next(written.frames()).astype(int)
    for row in (10, 15):
        assert np.abs(frame[row, -2:] - 250).max() <= CLOSE  # the last column and its copy
    for column in (10, 20):
        assert np.abs(frame[-2:, column] - 120).max() <= CLOSE  # the last row and its copy


def test_side_by_side_puts_the_input_scaled_to_the_results_height_on_the_left():
    content = np.full((20, 40, 3), 10, np.uint8)
    result = np.full((10, 15, 3), 200, np.uint8)
    [frame] = side_by_side_frames([content], [result])
    assert frame.shape == (10, 20 + 15, 3)
    assert (frame[:, :20] == 10).all() and (frame[:, 20:] == 200).all()


@pytest.mark.skipif(not (OPENCV_DATA / "Megamind.avi").exists(), reason="needs Debian's opencv-doc")
def test_a_real_clips_ac3_audio_is_copied_into_the_mp4(tmp_path):
    clip = open_clip(OPENCV_DATA / "Megamind.avi")  # MPEG-4 part 2 video, AC-3 audio
    assert (clip.frame_count, clip.fps, clip.width, clip.height) == (270, Fraction(2997, 125),
                                                                      720, 528)  # fmt: skip
    out = tmp_path / "part.mp4"
    assert write_clip(out, clip.frames(100, 112), clip.fps, clip.audio_span(100, 112)) == 12
    found = streams(out)
    assert found["video"] == ("h264", pytest.approx(12 / clip.fps))
    assert found["audio"][0] == "ac3"
    assert found["audio"][1] == pytest.approx(12 / clip.fps, abs=0.02)


def message(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        open_clip(path)
    return str(caught.value)


def test_a_truncated_mp4_is_damaged_or_truncated(tmp_path):
    whole = make_clip(tmp_path / "whole.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 2])  # its index (moov) comes last, so it is lost
    assert message(cut) == f"video {cut} is damaged or truncated: moov atom not found"


def test_a_video_stream_of_a_codec_ffmpeg_cannot_decode_is_refused(tmp_path):
    """Found by bench/fuzz.py's video target: a damaged header can name no known codec."""
    made = make_clip(tmp_path / "made.mkv", audio=False).read_bytes()
    assert made.count(b"V_MPEG4/ISO/AVC") == 1  # Matroska's name of H.264
    path = tmp_path / "unknown.mkv"
    path.write_bytes(made.replace(b"V_MPEG4/ISO/AVC", b"V_NOTHING/KNOWN"))
    assert message(path) == f"video {path} is damaged, or its video cannot be decoded here"


def test_a_text_file_named_mp4_is_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("a shopping list, not a video\n")
    assert message(path).startswith(f"{path} is not a video file that FFmpeg can read (")


def test_an_empty_file_is_empty(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    assert message(path) == f"video {path} is empty (0 bytes)"


def test_a_file_without_video_is_not_a_clip(tmp_path):
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w", format="mp4") as output:
        sound = output.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
        frame.sample_rate, frame.pts = AUDIO_RATE, 0
        output.mux(sound.encode(frame))
        output.mux(sound.encode())
    assert message(path) == f"{path} holds no video stream, only audio: not a clip"


def test_a_video_stream_without_frames_holds_no_frames(tmp_path):
    path = tmp_path / "nothing.avi"
    with av.open(str(path), "w") as output:
        video = output.add_stream("mpeg4", rate=RATE)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        output.start_encoding()  # the header, with its stream; then no frame
    assert message(path) == f"video {path} holds no frames"


def test_a_missing_clip_does_not_exist(tmp_path):
    assert message(tmp_path / "gone.mp4") == f"clip {tmp_path / 'gone.mp4'} does not exist"


def test_an_empty_folder_holds_no_frames(tmp_path):
    (tmp_path / "readme.txt").write_text("no frames here")
    assert message(tmp_path) == f"folder {tmp_path} holds no frames: no .jpeg, .jpg, .png files"


def test_frames_of_different_sizes_name_the_first_that_differs(tmp_path):
    for k, size in enumerate([(WIDTH, HEIGHT), (WIDTH, HEIGHT), (20, 10), (10, 20)], start=1):
        Image.new("RGB", size).save(tmp_path / f"frame{k}.png")
    assert message(tmp_path) == (
        f"frame {tmp_path / 'frame3.png'} is 20x10 pixels, but the first frame, frame1.png, "
        f"is {WIDTH}x{HEIGHT}: a clip's frames must all be one size"
    )


def test_an_unreadable_frame_is_named(tmp_path):
    Image.new("RGB", (WIDTH, HEIGHT)).save(tmp_path / "frame1.png")
    (tmp_path / "frame2.png").write_text("not a picture")
    assert message(tmp_path) == (
        f"image {tmp_path / 'frame2.png'} is not an image file of a known format"
    )
