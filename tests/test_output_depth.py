"""--output-depth and a transparent content's alpha (issue 14, point 2).

- `--output-depth 16` writes the saved iterates <i>.png and generated_image.png as 16-bit
  PNG, made from the optimizer's float image, value = round(clip(p, 0, 255) * 65535 / 255):
  values an 8-bit image scaled up (multiples of 257) could not give, whose 8-bit reduction
  is the 8-bit run's image within one level; generated_image.jpg stays 8-bit.
- The default, 8, writes 8-bit RGB PNGs and no generated_image.png, as before.
- A content with an alpha channel gives result PNGs (the iterates, generated_image.png)
  whose alpha is the content's (resized to the output size; here the sizes are equal);
  an opaque content gives no alpha channel.

The 16-bit files are decoded by TensorFlow's PNG decoder (libpng), not by the writer's code.
"""

from pathlib import Path

import numpy as np
import pytest
from cli_runs import run_cli
from PIL import Image

WIDTH, HEIGHT = 40, 30  # the tiny content's own size: its alpha needs no resizing


def run(content, style, weights, out: Path, *options) -> int:
    """A 2-iteration run at the content's size, saving both iterates, seed 1."""
    return run_cli(content, style, "--weights", weights, "--width", WIDTH, "--height", HEIGHT,
                   "--iterations", 2, "--save-every", 1, "--seed", 1, "--output-dir", out,
                   *options)  # fmt: skip


def png16(path: Path) -> np.ndarray:
    """The PNG file's samples as libpng decodes them at 16 bits (8-bit files are scaled)."""
    import tensorflow as tf

    with tf.Graph().as_default() as graph:  # the program runs TensorFlow without eager mode
        decoded = tf.io.decode_png(path.read_bytes(), channels=0, dtype=tf.uint16)
        with tf.compat.v1.Session(graph=graph) as session:
            return session.run(decoded)


def png_bit_depth(path: Path) -> int:
    """The bit depth in the PNG file's IHDR chunk (byte 24)."""
    return path.read_bytes()[24]


@pytest.fixture(scope="module")
def runs(tiny_images, vgg19_mat, tmp_path_factory):
    """Two runs of the same settings into folders "8" (the default depth) and "16"."""
    content, style = tiny_images
    base = tmp_path_factory.mktemp("depth")
    assert run(content, style, vgg19_mat, base / "8") == 0
    assert run(content, style, vgg19_mat, base / "16", "--output-depth", "16") == 0
    return base


@pytest.mark.parametrize("name", ["0.png", "1.png", "generated_image.png"])
def test_depth_16_files_hold_16_bit_samples_no_8_bit_image_could_give(runs, name):
    path = runs / "16" / name
    assert png_bit_depth(path) == 16
    samples = png16(path)
    assert samples.dtype == np.uint16 and samples.shape == (HEIGHT, WIDTH, 3)
    assert np.count_nonzero(samples % 257) > samples.size // 2  # not 8-bit values x 257


@pytest.mark.parametrize(("name", "eight_bit"), [("0.png", "0.png"), ("1.png", "1.png"),
                                                 ("generated_image.png", "1.png")])  # fmt: skip
def test_depth_16_reduced_to_8_bits_is_the_8_bit_image_within_one_level(runs, name, eight_bit):
    reduced = np.round(png16(runs / "16" / name) / 257.0)
    image8 = np.asarray(Image.open(runs / "8" / eight_bit), dtype=np.float64)
    assert np.abs(reduced - image8).max() <= 1


def test_depth_16_keeps_the_8_bit_jpeg_and_lists_the_png(runs):
    with Image.open(runs / "16" / "generated_image.jpg") as jpeg:
        assert jpeg.mode == "RGB"
    import json

    files = json.loads((runs / "16" / "manifest.json").read_text(encoding="utf-8"))["files"]
    assert "generated_image.png" in files and "generated_image.jpg" in files


def test_the_default_depth_writes_8_bit_rgb_pngs_and_no_final_png(runs):
    for name in ("0.png", "1.png"):
        assert png_bit_depth(runs / "8" / name) == 8
        with Image.open(runs / "8" / name) as image:
            assert image.mode == "RGB"  # an opaque content: no alpha channel
    assert not (runs / "8" / "generated_image.png").exists()


@pytest.fixture(scope="module")
def transparent_content(tmp_path_factory, tiny_images):
    """The tiny content as RGBA: left half transparent (0), a column at 128, the rest 255."""
    rgb = np.asarray(Image.open(tiny_images[0]).convert("RGB"))
    alpha = np.full((HEIGHT, WIDTH), 255, np.uint8)
    alpha[:, : WIDTH // 2] = 0
    alpha[:, WIDTH // 2] = 128
    path = tmp_path_factory.mktemp("transparent") / "content.png"
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path)
    return path, alpha


@pytest.mark.parametrize("depth", ["8", "16"])
def test_a_transparent_contents_alpha_is_kept_in_the_result_pngs(
    transparent_content, tiny_images, vgg19_mat, tmp_path, depth
):
    content, alpha = transparent_content
    out = tmp_path / "out"
    assert run(content, tiny_images[1], vgg19_mat, out, "--output-depth", depth) == 0
    for name in ("0.png", "1.png", "generated_image.png"):
        assert png_bit_depth(out / name) == int(depth)
        samples = png16(out / name)
        assert samples.shape == (HEIGHT, WIDTH, 4)
        np.testing.assert_array_equal(samples[..., 3], alpha.astype(np.uint16) * 257)
    with Image.open(out / "generated_image.jpg") as jpeg:
        assert jpeg.mode == "RGB"  # JPEG holds no alpha
