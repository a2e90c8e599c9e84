"""Fuzzing the image and weights readers: a damaged file must end in a clear error or a proper read.

Run from the repository root (outside CI; it runs for as long as it is told):

    .venv/bin/python bench/fuzz.py [--seconds 60] [--target images|weights|video|both] [--seed N]

The targets are `nst.images.read_rgb(path)` ("images"),
`nst.weights.guard.read_weights(path)` ("weights") and a clip's reading ("video":
`nst.video.clip_files.open_clip(path)`, then every frame of `Clip.frames()`), the readers
the program uses; "weights-parser" is `nst.weights.formats.parse_weights(path)`, the parser that
read_weights runs in a child process for any unpublished file, called here in
this process, so that its crashes show what the .mat structure walk still
lets through to scipy ("both" is images and weights). Each starts from valid
seed files this script makes itself:

* images: small PNG (RGB, RGBA, palette with transparency, 16-bit grey), JPEG
  (baseline with an EXIF orientation, progressive, CMYK, grey), GIF
  (animated, transparent), TIFF (raw, LZW, float, 16-bit), BMP (24-bit,
  palette) and WebP (lossy, lossless with alpha) files;
* weights: MatConvNet .mat files in both published layouts with the sixteen
  conv layers' names but tiny kernels (fast to read; they reach the shape
  check), a .mat with VGG-19's real shapes and zero kernels, compressed to
  under 100 KB (it decompresses to the full 80 MB, so it can be read
  successfully), the same shapes with random kernels uncompressed (80 MB,
  written once; its mutations aim at the structure between the arrays), and
  the same three kinds as Keras .h5 files;
* video: clips of 6 frames of 16x12 pixels that PyAV writes: H.264 in mp4 with an AAC
  audio stream, H.264 in mkv, MPEG-4 part 2 in avi and in mov, VP9 in webm, and an
  animated GIF.

Each input is a seed with one to four mutations: bit flips, bytes set to edge
values, integer header fields (image sizes, chunk lengths, MATLAB tags, HDF5
offsets) set to edge values, truncation, insertion, deletion and duplication
of chunks; PNG chunk checksums are recomputed half of the time so that a
change gets past them. Each input is written to a file and read in-process
with a time limit (SIGALRM); the outcome is one of:

* a clear error: `nst.errors.InputError` (ImageError, WeightsError);
* a contained crash (weights only): a ReaderCrashError, the clear error
  read_weights reports when its child reader was killed by a signal or hung;
* a successful read: a uint8 (H, W, 3) array with H, W > 0, a dict of the
  sixteen conv layers' finite float32 kernels (3, 3, in, out) and biases (out,), or a
  clip's frames: as many as open_clip counted, at least one, each uint8 of its size;
* anything else, a failure: another exception (also one in the child reader,
  which ends it with a non-zero status), a result of another form, an input
  still running after --timeout seconds, or a crash of the process.

The inputs run in a worker subprocess that the main process watches: if it
crashes (a signal such as SIGSEGV) or stops making progress for --timeout
plus 5 seconds (stuck in C code, where SIGALRM cannot interrupt it), its
current input is recorded as a failure, with the traceback faulthandler
wrote, and a new worker carries on. The workers' stderr (the libraries'
complaints about damaged files) goes to a log, not the terminal. The first
--show failures are printed as they happen; the first --keep failures and
the first of each kind are saved to --failures (default bench/fuzz_failures/,
which ignores itself in git) with a .txt holding the description, the
outcome and the traceback. `--replay FILE...` reads saved files again, in
this process, and prints each outcome.

Each input's mutations come from random.Random(f"{worker seed}:{index}"), so
an input can be made again from the seed and index in its description (but for
the date in a .mat header's text, the seed files are the same in every run). At
the end, per target: the inputs tried, how many ended in a clear error, how
many were read, how many ended otherwise, per seed file and per kind of
failure. The exit status is 1 when any input failed, else 0.
"""

from __future__ import annotations

import argparse
import binascii
import faulthandler
import io
import json
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

DEFAULT_FAILURES = ROOT / "bench" / "fuzz_failures"
TARGETS = ("images", "weights", "weights-parser", "video")
OUTCOMES = ("error", "contained", "read", "other")
HEADER_BYTES = 1024  # mutations favour the first bytes, where the headers are
STALL_GRACE_SECONDS = 5.0  # a worker silent for --timeout plus this long is killed
WEIGHTS_SUFFIXES = (".mat", ".h5")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm")


# ---------------------------------------------------------------- seed files


@dataclass
class Seed:
    """A valid file to mutate.

    fields: (offset, size in bytes, 'little' or 'big') of integer header fields
    worth setting to edge values. hot: offsets near which structure lies (the
    gaps between a large file's arrays). weight: how often it is picked.
    """

    name: str
    suffix: str
    data: bytes = field(repr=False)
    fields: list[tuple[int, int, str]] = field(default_factory=list)
    hot: list[int] = field(default_factory=list)
    weight: float = 1.0


def _encoded(image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def _png_fields(data: bytes) -> list[tuple[int, int, str]]:
    """Each chunk's length field, and IHDR's width, height, depth, colour type and interlace."""
    fields = [(16, 4, "big"), (20, 4, "big"), (24, 1, "big"), (25, 1, "big"), (28, 1, "big")]
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        fields.append((pos, 4, "big"))
        pos += 12 + length
    return fields


def fix_png_crcs(data: bytearray) -> None:
    """Recompute every PNG chunk's CRC in place, so that a change inside a chunk is read."""
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        end = pos + 8 + length
        if end + 4 > len(data):
            return
        data[end : end + 4] = struct.pack(">I", binascii.crc32(data[pos + 4 : end]))
        pos = end + 4


def _jpeg_fields(data: bytes) -> list[tuple[int, int, str]]:
    """Each marker segment's length; the frame header's height, width and components."""
    fields, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        fields.append((pos + 2, 2, "big"))
        if marker in (0xC0, 0xC1, 0xC2):
            fields += [(pos + 5, 2, "big"), (pos + 7, 2, "big"), (pos + 9, 1, "big")]
            fields += [(pos + 11 + 3 * k, 1, "big") for k in range(data[pos + 9])]
        if marker == 0xDA:  # the entropy-coded data follows
            break
        pos += 2 + length
    return fields


def _tiff_fields(data: bytes) -> list[tuple[int, int, str]]:
    """The first IFD's offset and entry count, and each entry's type, count and value."""
    order = "little" if data[:2] == b"II" else "big"
    ifd = int.from_bytes(data[4:8], order)
    fields = [(4, 4, order), (ifd, 2, order)]
    count = int.from_bytes(data[ifd : ifd + 2], order)
    for k in range(count):
        entry = ifd + 2 + 12 * k
        fields += [(entry + 2, 2, order), (entry + 4, 4, order), (entry + 8, 4, order)]
    return fields


BMP_FIELDS = [(2, 4, "little"), (10, 4, "little"), (14, 4, "little"), (18, 4, "little"),
              (22, 4, "little"), (26, 2, "little"), (28, 2, "little"), (30, 4, "little"),
              (34, 4, "little"), (46, 4, "little")]  # fmt: skip
GIF_FIELDS = [(6, 2, "little"), (8, 2, "little"), (10, 1, "little"), (11, 1, "little")]
WEBP_FIELDS = [(4, 4, "little"), (16, 4, "little"), (20, 4, "little"), (24, 3, "little"),
               (27, 3, "little")]  # fmt: skip


def image_seeds() -> list[Seed]:
    """Small valid images of every format and colour mode read_rgb handles specially."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    coarse = Image.fromarray((rng.random((3, 4, 3)) * 255).astype(np.uint8))
    rgb = coarse.resize((16, 12), Image.Resampling.BILINEAR)
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray((rng.random((12, 16)) * 255).astype(np.uint8)))
    palette = rgb.quantize(8)
    grey16 = Image.fromarray((rng.random((12, 16)) * 65535).astype(np.uint16))
    grey_float = Image.fromarray(rng.random((12, 16)).astype(np.float32))  # mode F
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotated, so exif_transpose has work to do
    frames = [rgb, rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    encoded = [
        ("png-rgb", ".png", _encoded(rgb, "PNG")),
        ("png-rgba", ".png", _encoded(rgba, "PNG")),
        ("png-palette-transparent", ".png", _encoded(palette, "PNG", transparency=0)),
        ("png-grey16", ".png", _encoded(grey16, "PNG")),
        ("jpeg-exif-orientation", ".jpg", _encoded(rgb, "JPEG", exif=exif, quality=90)),
        ("jpeg-progressive", ".jpg", _encoded(rgb, "JPEG", progressive=True)),
        ("jpeg-cmyk", ".jpg", _encoded(rgb.convert("CMYK"), "JPEG")),
        ("jpeg-grey", ".jpg", _encoded(rgb.convert("L"), "JPEG")),
        ("gif-animated", ".gif", _encoded(frames[0], "GIF", save_all=True,
                                          append_images=frames[1:], duration=100)),
        ("gif-transparent", ".gif", _encoded(palette, "GIF", transparency=0)),
        ("tiff-raw", ".tif", _encoded(rgb, "TIFF")),
        ("tiff-lzw", ".tif", _encoded(rgba, "TIFF", compression="tiff_lzw")),
        ("tiff-float", ".tif", _encoded(grey_float, "TIFF")),
        ("tiff-grey16", ".tif", _encoded(grey16, "TIFF")),
        ("bmp-rgb", ".bmp", _encoded(rgb, "BMP")),
        ("bmp-palette", ".bmp", _encoded(palette, "BMP")),
        ("webp-lossy", ".webp", _encoded(rgb, "WEBP", quality=80)),
        ("webp-lossless-alpha", ".webp", _encoded(rgba, "WEBP", lossless=True)),
    ]  # fmt: skip
    seeds = []
    for name, suffix, data in encoded:
        kind = name.split("-")[0]
        fields = {
            "png": _png_fields,
            "jpeg": _jpeg_fields,
            "tiff": _tiff_fields,
            "bmp": lambda _: BMP_FIELDS,
            "gif": lambda _: GIF_FIELDS,
            "webp": lambda _: WEBP_FIELDS,
        }[kind](data)
        seeds.append(Seed(name, suffix, data, fields))
    return seeds


def _dataset_offsets(path: Path) -> list[int]:
    """Each contiguous dataset's data offset in the .h5 file at `path`."""
    import h5py

    offsets = []
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda _, item: (
                offsets.append(item.id.get_offset())
                if isinstance(item, h5py.Dataset) and item.id.get_offset() is not None
                else None
            )
        )
    return offsets


def _array_spans(data: bytes, arrays) -> list[int]:
    """Offsets just before and just after each array's bytes (column-major, as savemat
    writes them) in `data`: where the structure between the arrays lies."""
    hot = []
    for array in arrays:
        raw = array.tobytes(order="F")
        start = data.find(raw[:64])
        if start >= 0:
            hot += [max(start - 64, 0), start + len(raw)]
    return hot


def weights_seeds(folder: Path) -> list[Seed]:
    """Stand-in VGG-19 weight files (see the module's docstring), written into `folder`."""
    import numpy as np
    from matconvnet_files import random_kernels, tiny_kernels, write_keras_h5, write_vgg_mat

    tiny = tiny_kernels()
    full = random_kernels(seed=0)
    zeros = {name: (np.zeros_like(W), np.zeros_like(b)) for name, (W, b) in full.items()}
    seeds = []
    tiny_mats = (("mat-tiny-current", "current", "row", False),
                 ("mat-tiny-current-compressed", "current", "row", True),
                 ("mat-tiny-beta16", "beta16", "column", False))  # fmt: skip
    for name, layout, bias_shape, compress in tiny_mats:
        path = write_vgg_mat(folder / f"{name}.mat", tiny, layout, bias_shape, compress)
        seeds.append(Seed(name, ".mat", path.read_bytes(), weight=2.0))
    path = write_vgg_mat(folder / "mat-full-zeros-compressed.mat", zeros, compress=True)
    seeds.append(Seed("mat-full-zeros-compressed", ".mat", path.read_bytes(), weight=0.6))
    path = write_vgg_mat(folder / "mat-full-random.mat", full, compress=False)
    data = path.read_bytes()
    arrays = [a for pair in full.values() for a in pair]
    seeds.append(Seed("mat-full-random", ".mat", data, hot=_array_spans(data, arrays), weight=0.2))
    for name, kernels, names, gzip, weight in (
        ("h5-tiny-keras2", tiny, "keras2", False, 2.0),
        ("h5-tiny-keras1", tiny, "keras1", False, 2.0),
        ("h5-full-zeros-gzip", zeros, "keras2", True, 0.6),
        ("h5-full-random", full, "keras2", False, 0.2),
    ):
        path = folder / f"{name}.h5"
        write_keras_h5(path, kernels, names, compress=gzip)
        offsets = _dataset_offsets(path)
        hot = [o - 64 for o in offsets if o >= 64] + offsets
        seeds.append(Seed(name, ".h5", path.read_bytes(), hot=hot, weight=weight))
    for seed in seeds:  # the MATLAB header's version and endian marks, the first tag
        if seed.suffix == ".mat":
            seed.fields = [(124, 2, "little"), (126, 2, "little"), (128, 4, "little"),
                           (132, 4, "little"), (136, 4, "little"), (140, 4, "little")]  # fmt: skip
        else:  # the superblock's versions, sizes and addresses
            seed.fields = [(8, 1, "little"), (13, 1, "little"), (14, 1, "little"),
                           (24, 8, "little"), (32, 8, "little"), (40, 8, "little"),
                           (48, 8, "little"), (64, 8, "little")]  # fmt: skip
    return seeds


VIDEO_FORMATS = (
    ("mp4-h264-aac", ".mp4", "mp4", "libx264", "aac"),
    ("mkv-h264", ".mkv", "matroska", "libx264", None),
    ("avi-mpeg4", ".avi", "avi", "mpeg4", None),
    ("mov-mpeg4", ".mov", "mov", "mpeg4", None),
    ("webm-vp9", ".webm", "webm", "libvpx-vp9", None),
)
"""(name, suffix, container, video codec, audio codec) of the video seeds."""


def video_seeds() -> list[Seed]:
    """Short clips of every container a user is told to give, and an animated GIF."""
    import av
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    coarse = Image.fromarray((rng.random((3, 4, 3)) * 255).astype(np.uint8))
    still = np.asarray(coarse.resize((16, 12), Image.Resampling.BILINEAR))
    frames = [np.roll(still, n, axis=1) for n in range(6)]
    seeds = []
    for name, suffix, container, codec, audio_codec in VIDEO_FORMATS:
        buffer = io.BytesIO()
        with av.open(buffer, "w", format=container) as output:
            video = output.add_stream(codec, rate=12)
            video.width, video.height, video.pix_fmt = 16, 12, "yuv420p"
            audio = output.add_stream(audio_codec, rate=8000) if audio_codec else None
            for picture in frames:
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                output.mux(video.encode(frame))
            output.mux(video.encode(None))
            if audio is not None:
                samples = np.zeros((1, 8000 // 2), np.float32)  # half a second of silence
                sound = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                sound.sample_rate = 8000
                output.mux(audio.encode(sound))
                output.mux(audio.encode(None))
        seeds.append(Seed(name, suffix, buffer.getvalue()))
    gif = [Image.fromarray(f) for f in frames]
    data = _encoded(gif[0], "GIF", save_all=True, append_images=gif[1:], duration=80)
    seeds.append(Seed("gif-animated", ".gif", data, GIF_FIELDS))
    return seeds


def read_clip(path: Path) -> tuple:
    """What the program reads of a clip: (open_clip's Clip, every frame of it)."""
    from nst.video.clip_files import open_clip

    clip = open_clip(path)
    return clip, list(clip.frames())


def clip_problem(result) -> str | None:
    """What is wrong with read_clip's result, or None for as many frames as the clip
    counts, at least one, each uint8 (height, width, 3) of the clip's size."""
    clip, frames = result
    if clip.frame_count < 1 or len(frames) != clip.frame_count:
        return f"{len(frames)} frames read of a clip of {clip.frame_count}"
    wrong = [image_problem(f) or f.shape[:2] != (clip.height, clip.width) for f in frames]
    return next((f"frame {n}: {w if w is not True else 'of another size'}"
                 for n, w in enumerate(wrong) if w), None)  # fmt: skip


def write_seeds(target: str, folder: Path) -> None:
    """Write the target's seed files and seeds.json (their metadata) into `folder`."""
    makers = {"images": image_seeds, "video": video_seeds}
    seeds = makers[target]() if target in makers else weights_seeds(folder)
    meta = []
    for seed in seeds:
        file = folder / f"{seed.name}{seed.suffix}"
        file.write_bytes(seed.data)
        info = asdict(seed)
        del info["data"]
        meta.append(info)
    (folder / "seeds.json").write_text(json.dumps(meta), encoding="utf-8")


def read_seeds(folder: Path) -> list[Seed]:
    """The seeds write_seeds wrote."""
    meta = json.loads((folder / "seeds.json").read_text(encoding="utf-8"))
    return [
        Seed(
            m["name"],
            m["suffix"],
            (folder / f"{m['name']}{m['suffix']}").read_bytes(),
            [tuple(f) for f in m["fields"]],
            m["hot"],
            m["weight"],
        )
        for m in meta
    ]


# ---------------------------------------------------------------- mutations

EDGE_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)


def _position(rng: random.Random, seed: Seed, n: int) -> int:
    """A byte offset in [0, n): near a structure spot, in the header, or anywhere."""
    if n <= 1:
        return 0
    r = rng.random()
    if seed.hot and r < 0.4:
        p = rng.choice(seed.hot) + rng.randint(-256, 256)
    elif r < 0.7:
        p = rng.randrange(min(n, HEADER_BYTES))
    else:
        p = rng.randrange(n)
    return min(max(p, 0), n - 1)


def _edge_values(size: int, old: int) -> list[int]:
    bits = 8 * size
    top = (1 << bits) - 1
    near = [old + d for d in (-16, -1, 1, 16)] + [old * 2, old // 2, old * 1000]
    return [0, 1, 2, top, top - 1, 1 << (bits - 1), (1 << (bits - 1)) - 1, *near]


def flip_bits(data: bytearray, rng: random.Random, seed: Seed) -> str:
    """Flip one to eight bits."""
    spots = []
    for _ in range(rng.randint(1, 8)):
        p, bit = _position(rng, seed, len(data)), rng.randrange(8)
        data[p] ^= 1 << bit
        spots.append(f"{p}.{bit}")
    return "flip bits " + ",".join(spots)


def set_bytes(data: bytearray, rng: random.Random, seed: Seed) -> str:
    """Set one to four bytes to an edge value (0, 1, 0x7f, 0x80, 0xfe, 0xff)."""
    p, value = _position(rng, seed, len(data)), rng.choice(EDGE_BYTES)
    n = min(rng.randint(1, 4), len(data) - p)
    data[p : p + n] = bytes([value]) * n
    return f"set {n} bytes at {p} to {value:#04x}"


def set_field(data: bytearray, rng: random.Random, seed: Seed) -> str:
    """Set an integer header field (or a random 1-8 byte integer near the start) to an edge
    value, or to the old value nudged, doubled, halved or times 1000."""
    if seed.fields and rng.random() < 0.75:
        offset, size, order = rng.choice(seed.fields)
    else:
        offset = rng.randrange(min(len(data), 256))
        size, order = rng.choice((1, 2, 4, 8)), rng.choice(("little", "big"))
    if offset + size > len(data):
        return "set field (beyond the end: nothing)"
    old = int.from_bytes(data[offset : offset + size], order)
    new = rng.choice(_edge_values(size, old)) % (1 << (8 * size))
    data[offset : offset + size] = new.to_bytes(size, order)
    return f"set {size}-byte {order}-endian field at {offset} from {old} to {new}"


def truncate(data: bytearray, rng: random.Random, seed: Seed) -> str:
    """Cut the file short."""
    p = _position(rng, seed, len(data)) if rng.random() < 0.7 else rng.randrange(len(data) + 1)
    del data[p:]
    return f"truncate to {p} bytes"


def insert_bytes(data: bytearray, rng: random.Random, seed: Seed) -> str:
    """Insert 1 to 64 random or edge bytes."""
    p, n = _position(rng, seed, len(data)), rng.randint(1, 64)
    filler = bytes(rng.getrandbits(8) for _ in range(n)) if rng.random() < 0.5 else None
    filler = filler or bytes([rng.choice(EDGE_BYTES)]) * n
    data[p:p] = filler
    return f"insert {n} bytes at {p}"


def delete_chunk(data: bytearray, rng: random.Random, seed: Seed) -> str:
    """Delete 1 to 256 bytes."""
    p, n = _position(rng, seed, len(data)), rng.randint(1, 256)
    del data[p : p + n]
    return f"delete {n} bytes at {p}"


def duplicate_chunk(data: bytearray, rng: random.Random, seed: Seed) -> str:
    """Copy 1 to 512 bytes of the file to another place in it (inserted there)."""
    src, n = _position(rng, seed, len(data)), rng.randint(1, 512)
    chunk = bytes(data[src : src + n])
    dst = _position(rng, seed, len(data))
    data[dst:dst] = chunk
    return f"duplicate {len(chunk)} bytes from {src} to {dst}"


MUTATIONS = (
    (flip_bits, 25),
    (set_bytes, 15),
    (set_field, 22),
    (truncate, 8),
    (insert_bytes, 10),
    (delete_chunk, 10),
    (duplicate_chunk, 10),
)


def mutate(seed: Seed, rng: random.Random) -> tuple[bytes, str]:
    """A mutated copy of the seed's bytes and a description of what was done to them."""
    data = bytearray(seed.data)
    steps = []
    count = rng.choices((1, 2, 3, 4), weights=(45, 30, 15, 10))[0]
    functions, weights = zip(*MUTATIONS, strict=True)
    for _ in range(count):
        if not data:
            break
        steps.append(rng.choices(functions, weights=weights)[0](data, rng, seed))
    if seed.suffix == ".png" and rng.random() < 0.5:
        fix_png_crcs(data)
        steps.append("fix PNG CRCs")
    return bytes(data), "; ".join(steps)


# ---------------------------------------------------------------- running one input


class Hang(BaseException):
    """The per-input time limit passed. A BaseException, so that no reader's
    `except Exception` turns it into an ordinary error."""


def _on_alarm(signum, frame):
    raise Hang()


def image_problem(result) -> str | None:
    """What is wrong with read_rgb's result, or None for a uint8 (H, W, 3) array."""
    import numpy as np

    if not isinstance(result, np.ndarray):
        return f"returned a {type(result).__name__}, not an array"
    if result.dtype != np.uint8:
        return f"returned a {result.dtype} array, not uint8"
    if result.ndim != 3 or result.shape[2] != 3 or 0 in result.shape:
        return f"returned an array of shape {result.shape}, not (H, W, 3)"
    return None


def kernels_problem(result) -> str | None:
    """What is wrong with read_weights's result, or None for the sixteen conv layers'
    finite float32 kernels (3, 3, in, out) and biases (out,)."""
    import numpy as np

    from nst.networks import VGG19

    if not isinstance(result, dict):
        return f"returned a {type(result).__name__}, not a dict"
    if set(result) != {name for name, _, _ in VGG19.conv_layers}:
        return f"returned the layers {sorted(result)}"
    for name, n_in, n_out in VGG19.conv_layers:
        pair = result[name]
        if not (isinstance(pair, tuple) and len(pair) == 2):
            return f"layer {name} is a {type(pair).__name__}, not (kernel, bias)"
        for label, array, shape in (("kernel", pair[0], (3, 3, n_in, n_out)),
                                    ("bias", pair[1], (n_out,))):  # fmt: skip
            if not isinstance(array, np.ndarray) or array.dtype != np.float32:
                return f"layer {name}'s {label} is not a float32 array"
            if array.shape != shape:
                return f"layer {name}'s {label} has shape {array.shape}, not {shape}"
            if not np.isfinite(array).all():
                return f"layer {name}'s {label} has NaN or infinite values"
    return None


def _reader(target: str):
    if target == "images":
        from nst.images import read_rgb

        return read_rgb, image_problem
    if target == "weights-parser":
        from nst.weights.formats import parse_weights

        return parse_weights, kernels_problem
    if target == "video":
        return read_clip, clip_problem
    from nst.weights.guard import read_weights

    return read_weights, kernels_problem


def _where(tb) -> str:
    """The innermost frame of a traceback, and the innermost one in this project's code."""
    frames = traceback.extract_tb(tb)
    if not frames:
        return "?"
    last = frames[-1]
    spots = [f"{Path(last.filename).name}:{last.lineno}"]
    own = [f for f in frames if str(ROOT / "nst") in f.filename]
    if own and own[-1] is not last:
        spots.append(f"{Path(own[-1].filename).name}:{own[-1].lineno}")
    return " via ".join(spots)


def run_one(target: str, path: Path, timeout: float) -> tuple[str, str, str]:
    """Read `path` with the target's reader: (outcome, kind, details).

    outcome is 'error', 'contained', 'read' or 'other'; for 'other', kind names the
    failure (exception type and place, or what is wrong) and details hold the traceback.
    """
    from nst.errors import InputError
    from nst.weights.guard import ReaderCrashError

    read, problem = _reader(target)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        try:
            result = read(path)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except Hang:
        return "other", f"hang: still running after {timeout:g} s", traceback.format_exc()
    except ReaderCrashError as e:
        if e.returncode is not None and e.returncode >= 0:  # an exception in the child
            return "other", f"the child reader failed: {e}", e.log
        return "contained", "", ""
    except InputError:
        return "error", "", ""
    except (Exception, SystemExit) as e:
        kind = f"{type(e).__module__}.{type(e).__qualname__} at {_where(e.__traceback__)}"
        return "other", kind, traceback.format_exc()
    wrong = problem(result)
    if wrong:
        return "other", f"bad result: {wrong}", ""
    return "read", "", ""


# ---------------------------------------------------------------- state kept for the main process


def new_state(target: str, seeds: list[Seed], run_seed: int) -> dict:
    """The counts of a target's fuzzing, kept in state.json."""
    return {
        "target": target,
        "run_seed": run_seed,
        "counts": {s.name: dict.fromkeys(OUTCOMES, 0) for s in seeds},
        "busy_seconds": dict.fromkeys((s.name for s in seeds), 0.0),
        "kinds": {},
        "failures": 0,
        "saved": 0,
        "shown": 0,
        "current": None,
    }


def save_state(path: Path, state: dict) -> None:
    """Write state.json under a temporary name and rename it into place."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, path)


def record_failure(state: dict, options, data: bytes, current: dict, kind: str, details: str):
    """Count a failing input; save it when among the first --keep or the first of its kind;
    print it when among the first --show."""
    state["failures"] += 1
    number = state["failures"]
    entry = state["kinds"].setdefault(kind, {"count": 0, "example": None})
    entry["count"] += 1
    saved = None
    if entry["example"] is None or state["saved"] < options.keep:
        folder = Path(options.failures)
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Inputs saved by bench/fuzz.py.\n*\n", encoding="utf-8")
        stem = f"{state['target']}-{state['run_seed']}-{number:05d}"
        saved = folder / f"{stem}{current['suffix']}"
        saved.write_bytes(data)
        note = (f"target: {state['target']}\nseed file: {current['seed']}\n"
                f"input: {current['index']} of worker seed {current['worker_seed']}\n"
                f"mutations: {current['description']}\nfailure: {kind}\n\n{details}")  # fmt: skip
        saved.with_suffix(saved.suffix + ".txt").write_text(note, encoding="utf-8")
        state["saved"] += 1
        if entry["example"] is None:
            entry["example"] = str(saved)
    if state["shown"] < options.show:
        state["shown"] += 1
        where = f"; saved as {saved}" if saved else ""
        print(
            f"  FAILURE {number}: {current['seed']} input {current['index']} (worker seed "
            f"{current['worker_seed']}): {current['description']}\n    -> {kind}{where}",
            flush=True,
        )


# ---------------------------------------------------------------- the worker


def worker(options) -> int:
    """Fuzz one target until --until (a time.time() value), updating state.json per input."""
    limit = int(options.memory_limit_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _on_alarm)
    faulthandler.enable()  # a crash's traceback goes to the log the main process keeps
    warnings.simplefilter("ignore")  # damaged files make the libraries warn a lot
    state_dir = Path(options.state_dir)
    state_file = state_dir / "state.json"
    seeds = read_seeds(Path(options.seeds_dir))
    state = json.loads(state_file.read_text(encoding="utf-8"))
    weights = [s.weight for s in seeds]
    _reader(options.target)  # import the reader before the first input's time limit starts
    index = 0
    while time.time() < options.until:
        rng = random.Random(f"{options.worker_seed}:{index}")
        seed = rng.choices(seeds, weights=weights)[0]
        data, description = mutate(seed, rng)
        path = state_dir / f"input{seed.suffix}"
        path.write_bytes(data)
        current = {"seed": seed.name, "suffix": seed.suffix, "index": index,
                   "worker_seed": options.worker_seed, "description": description,
                   "input": str(path)}  # fmt: skip
        state["current"] = current
        save_state(state_file, state)  # before the read: if it crashes, this is the culprit
        started = time.perf_counter()
        try:
            outcome, kind, details = run_one(options.target, path, options.timeout)
        except Hang:  # the alarm went off just as the reader returned
            outcome, kind, details = "other", "hang: at the time limit", ""
        state["busy_seconds"][seed.name] += time.perf_counter() - started
        state["counts"][seed.name][outcome] += 1
        if outcome == "other":
            record_failure(state, options, data, current, kind, details)
        index += 1
    state["current"] = None
    save_state(state_file, state)
    return 0


# ---------------------------------------------------------------- the main process


def fuzz_target(target: str, options, run_seed: int) -> dict:
    """Fuzz `target` for --seconds in worker processes; returns the final state."""
    work = Path(tempfile.mkdtemp(prefix=f"nst-fuzz-{target}-"))
    try:
        seeds_dir, state_dir = work / "seeds", work / "state"
        seeds_dir.mkdir()
        state_dir.mkdir()
        print(f"{target}: writing the seed files", flush=True)
        write_seeds(target, seeds_dir)
        seeds = read_seeds(seeds_dir)
        state_file = state_dir / "state.json"
        state = new_state(target, seeds, run_seed)
        save_state(state_file, state)
        listed = ", ".join(f"{s.name} ({len(s.data):,} B)" for s in seeds)
        print(f"{target}: {len(seeds)} seed files: {listed}", flush=True)
        started = time.monotonic()
        until = time.time() + options.seconds
        restarts = 0
        while time.time() < until - 0.5:
            worker_seed = run_seed * 1000 + restarts
            log = state_dir / f"worker-{worker_seed}.log"
            returncode, stalled = _watch_worker(target, options, worker_seed, until,
                                                seeds_dir, state_dir, log)  # fmt: skip
            if returncode == 0:
                break
            details = _tail(log)
            if returncode > 0 and not stalled:  # more likely a bug of this script: show it
                print(details, file=sys.stderr)
            state = json.loads(state_file.read_text(encoding="utf-8"))
            current = state["current"]
            if current is None:
                raise RuntimeError(f"the {target} worker failed before its first input")
            if stalled:
                kind = f"hang: no progress for {options.timeout + STALL_GRACE_SECONDS:g} s, killed"
            elif returncode < 0:
                kind = f"crash: killed by {signal.Signals(-returncode).name}"
            else:
                kind = f"crash: the worker exited with status {returncode}"
            state["counts"][current["seed"]]["other"] += 1
            data = Path(current["input"]).read_bytes()
            record_failure(state, options, data, current, kind, details)
            state["current"] = None
            save_state(state_file, state)
            restarts += 1
        state = json.loads(state_file.read_text(encoding="utf-8"))
        state["seconds"] = time.monotonic() - started
        state["restarts"] = restarts
        return state
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _watch_worker(
    target, options, worker_seed, until, seeds_dir, state_dir, log: Path
) -> tuple[int, bool]:
    """Run one worker to its end, its stderr going to `log`: (its exit status, whether it
    was stopped for stalling). A stalled worker gets SIGABRT first, so that faulthandler
    writes where it was stuck to the log; then SIGKILL."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", "--target", target,
            "--worker-seed", str(worker_seed), "--until", repr(until),
            "--seeds-dir", str(seeds_dir), "--state-dir", str(state_dir),
            "--timeout", str(options.timeout), "--failures", str(options.failures),
            "--keep", str(options.keep), "--show", str(options.show),
            "--memory-limit-gib", str(options.memory_limit_gib)]  # fmt: skip
    state_file = state_dir / "state.json"
    with log.open("wb") as stderr:
        process = subprocess.Popen(argv, stderr=stderr)
        started = time.time()
        while process.poll() is None:
            time.sleep(0.2)
            last = max(started, state_file.stat().st_mtime)
            if time.time() - last > options.timeout + STALL_GRACE_SECONDS:
                process.send_signal(signal.SIGABRT)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                return process.returncode, True
    return process.returncode, False


def _tail(log: Path, lines: int = 25) -> str:
    """The last lines of a worker's stderr: faulthandler's traceback after a crash."""
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(line for line in text[-lines:] if not line.startswith("Extension modules"))


def report(state: dict) -> str:
    """The figures of one target's run, as lines of text."""
    counts = state["counts"]
    total = {o: sum(c[o] for c in counts.values()) for o in OUTCOMES}
    tried = sum(total.values())
    lines = [
        f"{state['target']}: {tried:,} inputs in {state['seconds']:.1f} s "
        f"(seed {state['run_seed']}, {state['restarts']} worker restarts)",
        f"  clear error (InputError)  {total['error']:>9,}",
        f"  contained reader crash    {total['contained']:>9,}",
        f"  read successfully         {total['read']:>9,}",
        f"  anything else (failures)  {total['other']:>9,}",
        f"  {'seed file':<30}{'tried':>9}{'error':>9}{'contain':>9}{'read':>9}{'other':>9}"
        f"{'ms/input':>10}",
    ]
    for name, c in counts.items():
        n = sum(c.values())
        ms = f"{1000 * state['busy_seconds'][name] / n:10.1f}" if n else f"{'-':>10}"
        lines.append(
            f"  {name:<30}{n:>9,}{c['error']:>9,}{c['contained']:>9,}{c['read']:>9,}"
            f"{c['other']:>9,}{ms}"
        )
    if state["kinds"]:
        lines.append("  kinds of failure (count, kind, first saved input):")
        for kind, entry in sorted(state["kinds"].items(), key=lambda kv: -kv[1]["count"]):
            lines.append(f"  {entry['count']:>7,}  {kind}\n           {entry['example']}")
    return "\n".join(lines)


def replay(options) -> int:
    """Read each --replay file with its target's reader and print the outcome."""
    signal.signal(signal.SIGALRM, _on_alarm)
    warnings.simplefilter("ignore")
    failed = 0
    for name in options.replay:
        path = Path(name)
        target = options.target if options.target != "both" else None
        target = target or ("weights" if path.suffix in WEIGHTS_SUFFIXES else "images")
        target = "video" if path.suffix in VIDEO_SUFFIXES and target == "images" else target
        outcome, kind, details = run_one(target, path, options.timeout)
        print(f"{path} ({target}): {outcome}{': ' + kind if kind else ''}")
        if details:
            print(details)
        failed += outcome == "other"
    return 1 if failed else 0


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (the worker's own options are hidden from --help)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time per target (60)")
    parser.add_argument("--target", choices=(*TARGETS, "both"), default="both")
    parser.add_argument("--seed", type=int, default=None, help="run seed (default: random)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per input (10)")
    parser.add_argument("--failures", default=str(DEFAULT_FAILURES),
                        help="folder for failing inputs (bench/fuzz_failures)")  # fmt: skip
    parser.add_argument("--keep", type=int, default=20, help="failing inputs saved (20) "
                        "besides the first of each kind")  # fmt: skip
    parser.add_argument("--show", type=int, default=5, help="failing inputs printed (5)")
    parser.add_argument("--memory-limit-gib", type=float, default=8.0,
                        help="address-space limit of the worker (8 GiB)")  # fmt: skip
    parser.add_argument("--replay", nargs="+", metavar="FILE",
                        help="read these saved inputs again and print each outcome")  # fmt: skip
    hidden = argparse.SUPPRESS
    parser.add_argument("--worker", action="store_true", help=hidden)
    parser.add_argument("--worker-seed", type=int, help=hidden)
    parser.add_argument("--until", type=float, help=hidden)
    parser.add_argument("--seeds-dir", help=hidden)
    parser.add_argument("--state-dir", help=hidden)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Fuzz the chosen targets and print the figures; 1 when any input failed."""
    options = parse_args(argv)
    if options.worker:
        return worker(options)
    if options.replay:
        return replay(options)
    run_seed = options.seed if options.seed is not None else random.randrange(10**6)
    targets = TARGETS[:2] if options.target == "both" else (options.target,)
    print(
        f"Fuzzing {', '.join(targets)} for {options.seconds:g} s each, seed {run_seed} "
        f"(repeat with --seed {run_seed}), {options.timeout:g} s per input",
        flush=True,
    )
    reports, failed = [], 0
    for target in targets:
        state = fuzz_target(target, options, run_seed)
        failed += sum(c["other"] for c in state["counts"].values())
        reports.append(report(state))
    print("\n" + "\n\n".join(reports))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
