"""A corpus of bad inputs, made by the tests, each run through the command line in-process.

A refused input must end the run with exit status 2 and exactly one line on
stderr that names it (the file's path or the option), without a traceback and
before anything is written. The "hard but valid" images, 1x1 images, paths with
spaces and non-ASCII characters, and options set to 0 where 0 means something
must be accepted instead.

The cases are counted by category with

    pytest --collect-only -q tests/test_bad_inputs.py

test_refused_image, test_refused_weights and test_refused_option are the bad
inputs; test_accepted_image, test_accepted_image_run and test_accepted_option
the inputs that must work.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import struct
import warnings
import zlib
from io import BytesIO
from pathlib import Path

import h5py
import numpy as np
import pytest
from cli_runs import run_cli
from matconvnet_files import VGG16_BLOCKS, random_kernels, write_keras_h5, write_vgg_mat
from PIL import Image

from nst.images import MAX_PIXELS, read_rgb
from nst.settings import MAX_ITERATIONS, MAX_THREADS

pytestmark = pytest.mark.usefixtures("weights_read_once")  # see conftest.py
CORPUS = "corpus ü"
"""The folder (in tmp_path) of the files made here: its name has a space and a non-ASCII letter."""
RED, BLUE = (220, 30, 30), (30, 30, 220)


# ----- running the command line -----


def cli(capsys, *argv) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of neural_art.py's main(argv), failing on any warning
    (other than a deprecation) that would reach the user's terminal as extra lines."""
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = run_cli(*argv)
    out, err = capsys.readouterr()
    shown = [w for w in caught if not issubclass(w.category, DeprecationWarning)]
    assert not shown, [str(w.message) for w in shown]
    return status, out, err


def assert_refused(status: int, err: str, subject: str) -> None:
    """Exit status 2 and one line on stderr that names `subject`, without a traceback."""
    assert status == 2, err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("neural_art.py: error: "), err
    assert subject in err, err
    assert "Traceback" not in err


@pytest.fixture
def corpus(tmp_path) -> Path:
    """The folder to make the corpus files in."""
    folder = tmp_path / CORPUS
    folder.mkdir()
    return folder


SMALL = ["--width", 32, "--height", 24]
"""The output size of the tiny runs."""


@pytest.fixture
def run_args(vgg19_mat, tmp_path):
    """The options of a tiny run (2 iterations) into tmp_path / out, without its size."""
    return ["--weights", vgg19_mat, "--iterations", 2, "--seed", 3,
            "--output-dir", tmp_path / "out"]  # fmt: skip


# ----- images -----


def photo(height: int = 30, width: int = 40, seed: int = 5) -> np.ndarray:
    """A uint8 RGB picture with smooth colours and some noise (so that it compresses poorly)."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray((rng.random((4, 4, 3)) * 255).astype(np.uint8))
    smooth = np.asarray(coarse.resize((width, height), Image.BILINEAR), dtype=float)
    return np.clip(smooth + rng.normal(0, 25, smooth.shape), 0, 255).astype(np.uint8)


def encoded(pixels: np.ndarray, format: str, **options) -> bytes:
    """`pixels` encoded as a file of `format` by Pillow."""
    buffer = BytesIO()
    Image.fromarray(pixels).save(buffer, format=format, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_file(width: int, height: int, bit_depth: int, colour_type: int, raw: bytes) -> bytes:
    """A PNG file whose header says width x height, with `raw` (filtered rows) as its data."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )


def huge_png(width: int, height: int) -> bytes:
    """A small PNG file whose header declares an RGB image of width x height."""
    return png_file(width, height, 8, 2, b"\0" * (1 + 3 * 64))


def huge_jpeg(width: int, height: int) -> bytes:
    """A valid small JPEG with the size in its start-of-frame marker changed to width x height."""
    data = bytearray(encoded(photo(), "JPEG", quality=90))
    sof = data.index(b"\xff\xc0")  # length (2 bytes), precision (1), height (2), width (2)
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def sixteen_bit_png(samples: np.ndarray) -> bytes:
    """An RGB PNG with 16 bits per sample (which Pillow cannot write) holding `samples`."""
    height, width, _ = samples.shape
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in samples)
    return png_file(width, height, 16, 2, rows)


def sixteen_bit_tiff(samples: np.ndarray) -> bytes:
    """An uncompressed little-endian RGB TIFF with 16 bits per sample holding `samples`."""
    height, width, _ = samples.shape
    pixels = samples.astype("<u2").tobytes()
    entries = 10
    bits_at = 8 + 2 + 12 * entries + 4
    pixels_at = bits_at + 6
    short, long = 3, 4
    tags = [
        (256, long, 1, width),  # ImageWidth
        (257, long, 1, height),  # ImageLength
        (258, short, 3, bits_at),  # BitsPerSample: 16, 16, 16 at bits_at
        (259, short, 1, 1),  # Compression: none
        (262, short, 1, 2),  # PhotometricInterpretation: RGB
        (273, long, 1, pixels_at),  # StripOffsets
        (277, short, 1, 3),  # SamplesPerPixel
        (278, long, 1, height),  # RowsPerStrip
        (279, long, 1, len(pixels)),  # StripByteCounts
        (284, short, 1, 1),  # PlanarConfiguration: chunky
    ]
    ifd = struct.pack("<H", entries)
    ifd += b"".join(struct.pack("<HHII", tag, kind, n, value) for tag, kind, n, value in tags)
    ifd += struct.pack("<I", 0)  # no next IFD
    return b"II" + struct.pack("<HI", 42, 8) + ifd + struct.pack("<HHH", 16, 16, 16) + pixels


def _cut(data: bytes) -> bytes:
    return data[: len(data) // 2]


JUST_OVER = math.isqrt(MAX_PIXELS) + 1
"""The side of the smallest square image over MAX_PIXELS (under Pillow's own refusal)."""
BAD_IMAGES = {
    # name: (the file's bytes, a phrase of the message)
    "zero-byte.jpg": (lambda: b"", "is not an image file"),
    "zero-byte.png": (lambda: b"", "is not an image file"),
    "truncated.jpg": (lambda: _cut(encoded(photo(), "JPEG", quality=95)), "truncated"),
    "truncated.png": (lambda: _cut(encoded(photo(), "PNG")), "truncated"),
    "text.jpg": (lambda: b"Remember to buy milk.\nAnd bread.\n", "is not an image file"),
    "html.jpg": (
        lambda: (
            b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
            b"<body><h1>Not Found</h1></body></html>\n"
        ),
        "is not an image file",
    ),
    "declares-100000x100000.png": (lambda: huge_png(100_000, 100_000), "too large"),
    "declares-65535x65535.jpg": (lambda: huge_jpeg(65_535, 65_535), "too large"),
    f"declares-{JUST_OVER}x{JUST_OVER}.png": (lambda: huge_png(JUST_OVER, JUST_OVER), "too large"),
}


@pytest.mark.parametrize("role", ["content", "style"])
@pytest.mark.parametrize("name", list(BAD_IMAGES))
def test_refused_image(name, role, corpus, tiny_images, run_args, tmp_path, capsys):
    make, phrase = BAD_IMAGES[name]
    bad = corpus / name
    bad.write_bytes(make())
    content, style = tiny_images
    images = [bad, style] if role == "content" else [content, bad]
    status, _, err = cli(capsys, *images, *run_args, *SMALL)
    assert_refused(status, err, f"image {bad} ")
    assert phrase in err
    assert not (tmp_path / "out").exists()


def _exif_rotated(path: Path) -> None:
    """A 40x20 JPEG, red on top and blue below, whose EXIF orientation says "rotate 90 degrees
    clockwise to display": shown, it is 20x40, blue on the left and red on the right."""
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:10], pixels[10:] = RED, BLUE
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(path, exif=exif, quality=95)


def _animated_gif(path: Path) -> None:
    frames = [Image.new("RGB", (8, 6), colour) for colour in (RED, BLUE)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _mean(pixels: np.ndarray) -> np.ndarray:
    return pixels.reshape(-1, 3).mean(axis=0)


# 16-bit samples that are whole multiples of 257 have an exact 8-bit value (v / 257).
DEEP = (np.arange(4 * 5 * 3).reshape(4, 5, 3) * 4 * 257).astype(np.uint16)


def check_cmyk(path: Path) -> None:
    Image.new("RGB", (12, 10), RED).convert("CMYK").save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    image = read_rgb(path)
    assert image.shape == (10, 12, 3) and image.dtype == np.uint8
    assert np.abs(_mean(image) - RED).max() < 12


def check_16_bit_png(path: Path) -> None:
    path.write_bytes(sixteen_bit_png(DEEP))
    np.testing.assert_array_equal(read_rgb(path), DEEP // 257)


def check_16_bit_tiff(path: Path) -> None:
    path.write_bytes(sixteen_bit_tiff(DEEP))
    np.testing.assert_array_equal(read_rgb(path), DEEP // 257)


def check_animated_gif(path: Path) -> None:
    _animated_gif(path)
    assert Image.open(path).n_frames == 2
    image = read_rgb(path)
    assert image.shape == (6, 8, 3)
    assert np.abs(_mean(image) - RED).max() < 8  # the first frame


def check_exif_orientation(path: Path) -> None:
    _exif_rotated(path)
    image = read_rgb(path)
    assert image.shape == (40, 20, 3)  # shown upright: 20 wide, 40 high
    assert np.abs(_mean(image[:, :8]) - BLUE).max() < 12
    assert np.abs(_mean(image[:, 12:]) - RED).max() < 12


def check_one_pixel(path: Path) -> None:
    Image.new("RGB", (1, 1), RED).save(path)
    np.testing.assert_array_equal(read_rgb(path), np.array([[RED]], np.uint8))


HARD_BUT_VALID = {
    "cmyk.jpg": check_cmyk,
    "16-bit.png": check_16_bit_png,
    "16-bit.tif": check_16_bit_tiff,
    "animated.gif": check_animated_gif,
    "exif-orientation-6.jpg": check_exif_orientation,
    "1x1.png": check_one_pixel,
}


@pytest.mark.parametrize("name", list(HARD_BUT_VALID))
def test_accepted_image(name, corpus):
    HARD_BUT_VALID[name](corpus / name)


def _one_pixel_content(folder: Path, tiny_images) -> tuple[list[Path], tuple[int, int]]:
    check_one_pixel(folder / "1x1.png")
    return [folder / "1x1.png", tiny_images[1]], (32, 24)


def _one_pixel_style(folder: Path, tiny_images) -> tuple[list[Path], tuple[int, int]]:
    check_one_pixel(folder / "1x1.png")
    return [tiny_images[0], folder / "1x1.png"], (32, 24)


def _non_ascii_paths(folder: Path, tiny_images) -> tuple[list[Path], tuple[int, int]]:
    pictures = folder / "Bilder für mich"
    pictures.mkdir()
    content, style = pictures / "katze ü.jpg", pictures / "Stil – Öl auf Leinwand.png"
    Image.open(tiny_images[0]).save(content, quality=95)
    Image.open(tiny_images[1]).save(style)
    return [content, style], (32, 24)


def _rotated_content_16_bit_style(folder: Path, tiny_images) -> tuple[list[Path], tuple[int, int]]:
    _exif_rotated(folder / "rotated.jpg")
    (folder / "deep.tif").write_bytes(sixteen_bit_tiff(DEEP))
    return [folder / "rotated.jpg", folder / "deep.tif", "--size", 24], (12, 24)


def _cmyk_content_gif_and_16_bit_styles(
    folder: Path, tiny_images
) -> tuple[list[Path], tuple[int, int]]:
    check_cmyk(folder / "cmyk.jpg")
    _animated_gif(folder / "animated.gif")
    (folder / "deep.png").write_bytes(sixteen_bit_png(DEEP))
    return [folder / "cmyk.jpg", folder / "animated.gif", folder / "deep.png"], (32, 24)


ACCEPTED_RUNS = {
    "1x1-content": _one_pixel_content,
    "1x1-style": _one_pixel_style,
    "non-ascii-paths-with-spaces": _non_ascii_paths,
    "exif-rotated-content-16-bit-tiff-style": _rotated_content_16_bit_style,
    "cmyk-content-gif-and-16-bit-png-styles": _cmyk_content_gif_and_16_bit_styles,
}


@pytest.mark.parametrize("case", list(ACCEPTED_RUNS))
def test_accepted_image_run(case, corpus, tiny_images, vgg19_mat, capsys):
    inputs, size = ACCEPTED_RUNS[case](corpus, tiny_images)
    out_dir = corpus / "Ergebnis ä ö"
    argv = [*inputs, "--weights", vgg19_mat, "--iterations", 2, "--seed", 3,
            "--output-dir", out_dir]  # fmt: skip
    status, out, err = cli(capsys, *argv, *([] if "--size" in inputs else SMALL))
    assert status == 0, err
    assert err == ""
    assert f"{size[0]}x{size[1]} pixels" in out
    assert f"Done: {out_dir / 'generated_image.jpg'}" in out
    assert Image.open(out_dir / "generated_image.jpg").size == size


# ----- weight files -----


class _Trap:
    """Unpickled, it makes a folder: proof that a file was unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def _trap_array(marker: Path) -> np.ndarray:
    trap = np.empty(1, dtype=object)
    trap[0] = _Trap(marker)
    return trap


def _pickled_npy(path: Path, marker: Path) -> None:
    np.save(path, _trap_array(marker), allow_pickle=True)


def _pickled_npz(path: Path, marker: Path) -> None:
    np.savez(path, layers=_trap_array(marker))


def _pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps({"layers": _Trap(marker)}, protocol=pickle.HIGHEST_PROTOCOL))


def _unpickle(path: Path) -> None:
    """What an unsafe reader of `path` would do (np.load with allow_pickle, pickle.load)."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=True) as data:
            data["layers"]
    elif path.suffix == ".npy":
        np.load(path, allow_pickle=True)
    else:
        pickle.loads(path.read_bytes())


def _changed(kernels, name, W=None, b=None):
    changed = dict(kernels)
    old_W, old_b = changed[name]
    changed[name] = (old_W if W is None else W, old_b if b is None else b)
    return changed


def _nan_kernel(kernels):
    W = kernels["conv3_2"][0].copy()
    W[0, 0, 0, :5] = np.nan
    return _changed(kernels, "conv3_2", W=W)


def _infinite_bias(kernels):
    b = kernels["conv5_4"][1].copy()
    b[3] = np.inf
    return _changed(kernels, "conv5_4", b=b)


def _matlab_v73(path: Path) -> None:
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116, b" ")
    header += b"\0" * 8 + struct.pack("<H", 0x0200) + b"IM"
    path.write_bytes(header + b"\0" * 512)


BAD_WEIGHTS = {
    # name: (maker(path, kernels, a good .mat), a phrase of the message)
    "vgg16.mat": (
        lambda p, k, good: write_vgg_mat(p, random_kernels(2, VGG16_BLOCKS), compress=False),
        "holds VGG-16",
    ),
    "truncated.mat": (
        lambda p, k, good: p.write_bytes(_cut(good.read_bytes())),
        "incomplete or damaged",
    ),
    "html.mat": (
        lambda p, k, good: p.write_bytes(
            b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n"
        ),
        "is an HTML page",
    ),
    "text.mat": (lambda p, k, good: p.write_text("weights go here\n"), "not a MATLAB .mat file"),
    "zero-byte.mat": (lambda p, k, good: p.write_bytes(b""), "is empty"),
    "photo.jpg": (lambda p, k, good: Image.new("RGB", (8, 8)).save(p), "is a JPEG image, not a"),
    "matlab-v7.3.mat": (lambda p, k, good: _matlab_v73(p), "v7.3"),
    "wrong-shapes.mat": (
        lambda p, k, good: write_vgg_mat(
            p, _changed(k, "conv2_1", np.zeros((3, 3, 64, 64), np.float32), np.zeros(64, "f4"))
        ),
        "layer conv2_1: kernel has shape (3, 3, 64, 64)",
    ),
    "nan.mat": (lambda p, k, good: write_vgg_mat(p, _nan_kernel(k)), "5 NaN or infinite"),
    "inf.mat": (lambda p, k, good: write_vgg_mat(p, _infinite_bias(k)), "1 NaN or infinite"),
    "zero-byte.h5": (lambda p, k, good: p.write_bytes(b""), "is empty"),
    "empty.h5": (lambda p, k, good: h5py.File(p, "w").close(), "no layer group named"),
    "nan-keras.h5": (lambda p, k, good: write_keras_h5(p, _nan_kernel(k)), "5 NaN or infinite"),
    "pickled.npy": (None, "is a NumPy or pickle file"),
    "pickled.npz": (None, "is a ZIP archive"),
    "weights.pkl": (None, "is a NumPy or pickle file"),
}
PICKLERS = {"pickled.npy": _pickled_npy, "pickled.npz": _pickled_npz, "weights.pkl": _pickle}


@pytest.mark.parametrize("name", list(BAD_WEIGHTS))
def test_refused_weights(name, corpus, tiny_images, vgg19_mat, vgg_kernels, tmp_path, capsys):
    make, phrase = BAD_WEIGHTS[name]
    bad = corpus / name
    marker = tmp_path / "unpickled"
    if name in PICKLERS:
        PICKLERS[name](bad, marker)
    else:
        make(bad, vgg_kernels, vgg19_mat)
    status, _, err = cli(capsys, *tiny_images, *SMALL, "--iterations", 2,
                         "--weights", bad, "--output-dir", tmp_path / "out")  # fmt: skip
    assert_refused(status, err, f"weights file {bad}")
    assert phrase in err
    assert not (tmp_path / "out").exists()
    if name in PICKLERS:
        assert not marker.exists(), "the weights file was unpickled"
        _unpickle(bad)
        assert marker.exists(), "the test file does not run code when unpickled"


# ----- option values -----

HUGE = "1000000000000"  # 10**12
WHOLE = ["0", "-1", "nan", "inf", HUGE]
POSITIVE = ["0", "-1", "nan", "inf", "1e300"]
ZERO_OR_MORE = ["-1", "nan", "inf", "1e300"]
BAD_OPTION_VALUES = {
    "--width": WHOLE,
    "--height": WHOLE,
    "--size": WHOLE,
    "--iterations": WHOLE,
    "--save-every": WHOLE,
    "--coarse-iterations": WHOLE,
    "--threads": WHOLE,
    "--seed": ["-1", "nan", "inf", str(2**32), HUGE],
    "--coarse-levels": ["-1", "nan", "inf", "9", HUGE],
    "--learning-rate": POSITIVE,
    "--style-scale": POSITIVE,
    "--alpha": ZERO_OR_MORE,
    "--beta": ZERO_OR_MORE,
    "--tv-weight": ZERO_OR_MORE,
    "--noise-ratio": [*ZERO_OR_MORE, "1.5"],
    "--level-ratio": ["1", "0.5", "-2", "nan", "inf", "17"],
    "--average": ["-0.1", "1", "nan", "1.5"],
}
BAD_OPTIONS = [(option, value) for option, values in BAD_OPTION_VALUES.items() for value in values]


@pytest.mark.parametrize(("option", "value"), BAD_OPTIONS, ids=[f"{o}={v}" for o, v in BAD_OPTIONS])
def test_refused_option(option, value, tiny_images, run_args, tmp_path, capsys):
    size = [] if option == "--size" else SMALL  # --size replaces --width and --height
    status, _, err = cli(capsys, *tiny_images, *run_args, *size, option, value)
    assert_refused(status, err, f"argument {option}: ")
    assert not (tmp_path / "out").exists()


# Values at the edge that mean something: 0 turns a cost, the noise or the coarse levels off.
ACCEPTED_OPTIONS = [
    ("--alpha", "0", "alpha", 0.0),
    ("--beta", "0", "beta", 0.0),
    ("--tv-weight", "0", "tv_weight", 0.0),
    ("--noise-ratio", "0", "noise_ratio", 0.0),
    ("--seed", "0", "seed", 0),
    ("--coarse-levels", "0", "coarse_levels", 0),
    ("--average", "0", "average", 0.0),
    ("--level-ratio", "1.5", "level_ratio", 1.5),
    ("--iterations", str(MAX_ITERATIONS), "iterations", MAX_ITERATIONS),
    ("--threads", str(MAX_THREADS), "threads", MAX_THREADS),
]


@pytest.mark.parametrize(
    ("option", "value", "field", "expected"),
    ACCEPTED_OPTIONS,
    ids=[f"{o}={v}" for o, v, _, _ in ACCEPTED_OPTIONS],
)
def test_accepted_option(option, value, field, expected, tiny_images, capsys):
    status, out, err = cli(capsys, *tiny_images, option, value, "--show-preset")
    assert (status, err) == (0, "")
    assert json.loads(out)[field] == expected
