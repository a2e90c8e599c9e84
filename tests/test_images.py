"""Image loading replaces scipy.misc.imread: any common file becomes RGB of the target size."""

import numpy as np
import pytest
from PIL import Image

from nst.images import ImageError, read_rgb, resize
from nst_utils import (
    CONFIG,
    generate_noise_image,
    load_image,
    reshape_and_normalize_image,
    save_image,
)

RNG = np.random.default_rng(0)
PIXELS = (RNG.random((20, 30, 3)) * 255).astype(np.uint8)


def saved(tmp_path, name, image: Image.Image, **options):
    path = tmp_path / name
    image.save(path, **options)
    return path


def test_rgb_png_is_read_exactly(tmp_path):
    path = saved(tmp_path, "a.png", Image.fromarray(PIXELS))
    np.testing.assert_array_equal(read_rgb(path), PIXELS)


def test_resized_to_the_target_size(tmp_path):
    path = saved(tmp_path, "a.jpg", Image.fromarray(PIXELS))
    image = load_image(path)
    assert image.shape == (CONFIG.IMAGE_HEIGHT, CONFIG.IMAGE_WIDTH, 3)
    assert image.dtype == np.uint8
    assert load_image(path, width=17, height=9).shape == (9, 17, 3)


def test_float_images_are_resized_channel_by_channel_and_stay_float32():
    flat = np.dstack([np.full((3, 4), v, np.float32) for v in (-7.5, 0.0, 120.25)])
    assert np.array_equal(
        resize(flat, 8, 6), np.dstack([np.full((6, 8), v) for v in (-7.5, 0, 120.25)])
    )
    ramp = np.tile(np.arange(4.0)[None, :, None], (2, 1, 3))  # float64 in
    wide = resize(ramp, 8, 4, Image.Resampling.BILINEAR)
    assert wide.shape == (4, 8, 3) and wide.dtype == np.float32
    # Output pixel x samples the input at (x + 0.5) / 2 - 0.5, held at the first and last pixel.
    assert np.array_equal(wide[0, :, 0], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])
    assert resize(ramp[:, :, 0], 8, 4).shape == (4, 8)


def test_grayscale_becomes_three_equal_channels(tmp_path):
    path = saved(tmp_path, "g.png", Image.fromarray(PIXELS[..., 0]))
    image = read_rgb(path)
    assert image.shape == (20, 30, 3)
    for channel in range(3):
        np.testing.assert_array_equal(image[..., channel], PIXELS[..., 0])


def test_palette_image_gives_its_colours(tmp_path):
    palette_image = Image.fromarray(PIXELS).convert("P")
    path = saved(tmp_path, "p.png", palette_image)
    np.testing.assert_array_equal(read_rgb(path), np.asarray(palette_image.convert("RGB")))


def test_transparent_pixels_become_white(tmp_path):
    rgba = np.dstack([PIXELS, np.full((20, 30), 255, np.uint8)])
    rgba[:5, :, 3] = 0
    image = read_rgb(saved(tmp_path, "t.png", Image.fromarray(rgba, "RGBA")))
    assert (image[:5] == 255).all()
    np.testing.assert_array_equal(image[5:], PIXELS[5:])


def test_sixteen_bit_samples_are_scaled_to_eight_bits(tmp_path):
    deep = np.array([[0, 257, 65535, 32896]], dtype=np.uint16).repeat(3, axis=0)
    image = read_rgb(saved(tmp_path, "d.png", Image.fromarray(deep)))
    np.testing.assert_array_equal(image[0, :, 0], [0, 1, 255, 128])


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = saved(tmp_path, "c.jpg", Image.fromarray(PIXELS).convert("CMYK"), quality=95)
    image = read_rgb(path)
    assert image.shape == (20, 30, 3)
    assert np.abs(image.astype(int) - PIXELS).mean() < 12


def test_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert tuple(read_rgb(path)[4, 4]) == (255, 0, 0)


def test_exif_orientation_is_honoured(tmp_path):
    tall = Image.fromarray(PIXELS)  # 30 wide, 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    image = read_rgb(saved(tmp_path, "r.jpg", tall, exif=exif, quality=95))
    assert image.shape == (30, 20, 3)


@pytest.mark.parametrize(
    ("name", "data", "phrase"),
    [
        ("empty.jpg", b"", "not an image file"),
        ("page.jpg", b"<html><body>Not found</body></html>", "not an image file"),
        ("notes.png", b"hello", "not an image file"),
    ],
)
def test_files_that_are_not_images(tmp_path, name, data, phrase):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ImageError, match=phrase):
        read_rgb(path)


def test_truncated_image(tmp_path):
    whole = saved(tmp_path, "whole.png", Image.fromarray(PIXELS)).read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ImageError, match="damaged or truncated"):
        read_rgb(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        read_rgb(tmp_path / "none.jpg")
    with pytest.raises(ImageError, match="is a directory"):
        read_rgb(tmp_path)


def test_reshape_and_normalize_subtracts_the_means():
    image = reshape_and_normalize_image(PIXELS)
    assert image.shape == (1, 20, 30, 3)
    np.testing.assert_allclose(image[0, 3, 4], PIXELS[3, 4] - np.array([123.68, 116.779, 103.939]))


def test_noise_image_mixes_noise_and_content():
    content = reshape_and_normalize_image(PIXELS)
    np.random.seed(0)
    mixed = generate_noise_image(content)
    np.random.seed(0)
    noise = np.random.uniform(-20, 20, content.shape).astype("float32")
    np.testing.assert_allclose(mixed, 0.6 * noise + 0.4 * content, rtol=1e-6)
    np.testing.assert_allclose(generate_noise_image(content, noise_ratio=0), content)


def test_save_image_adds_the_means_back_and_clips(tmp_path):
    image = reshape_and_normalize_image(PIXELS.astype(np.float64))
    image[0, 0, 0] = [500, -500, 0]
    path = tmp_path / "out.png"
    save_image(path, image)
    written = np.asarray(Image.open(path))
    np.testing.assert_array_equal(written[1:], PIXELS[1:])
    assert tuple(written[0, 0]) == (255, 0, 103)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary file left


def test_16_bit_samples_become_the_nearest_8_bit_level():
    """v -> round(v * 255 / 65535), the formula read_rgb promises, for every 16-bit v."""
    from fractions import Fraction

    from nst.images import SIXTEEN_TO_EIGHT_BITS

    nearest = [int(Fraction(v * 255, 65535) + Fraction(1, 2)) for v in range(65536)]
    assert SIXTEEN_TO_EIGHT_BITS.tolist() == nearest
