"""Optical flow and warping: a picture moved by a known shift gives that shift back as its
flow, and warping along a known flow moves the picture by it."""

import numpy as np
import pytest

from nst.video.flow import FLOW_METHODS, flows_both_ways, optical_flow
from nst.video.warp import warp

HEIGHT, WIDTH = 96, 128
MARGIN = 16
"""Pixels near the border are left out: there the shifted picture shows what the other lacks."""

TOLERANCE = 0.25
"""Largest distance, in pixels, between the flow found and the true shift inside the margin."""


def texture(dx: float, dy: float, seed: int = 0) -> np.ndarray:
    """A grey picture (uint8 RGB, HEIGHT x WIDTH) of 24 random plane waves (wavelengths 6 to
    32 pixels), moved by (dx, dy): its value at p is the unmoved picture's at p - (dx, dy)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    x, y = x - dx, y - dy
    total = np.zeros((HEIGHT, WIDTH))
    for _ in range(24):
        wavelength, angle, phase = rng.uniform(6, 32), rng.uniform(0, np.pi), rng.uniform(0, 7)
        total += np.sin(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / wavelength + phase)
    grey = np.round(128 + 120 * total / np.abs(total).max()).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def inside(flow: np.ndarray) -> np.ndarray:
    return flow[MARGIN:-MARGIN, MARGIN:-MARGIN]


@pytest.mark.parametrize("method", FLOW_METHODS)
@pytest.mark.parametrize("shift", [(3, -2), (-4, 5), (1.5, 0.25), (0.5, -0.5)])
def test_the_flow_of_a_shifted_picture_is_the_shift(method, shift):
    a, b = texture(0, 0), texture(*shift)
    forward, backward = flows_both_ways(a, b, method)
    assert forward.shape == (HEIGHT, WIDTH, 2) and forward.dtype == np.float32
    error = np.hypot(*np.moveaxis(inside(forward) - shift, 2, 0))
    assert error.max() < TOLERANCE
    error_back = np.hypot(*np.moveaxis(inside(backward) + shift, 2, 0))
    assert error_back.max() < TOLERANCE


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_the_flow_is_the_same_every_time(method):
    a, b = texture(0, 0), texture(1.5, -1)
    assert np.array_equal(optical_flow(a, b, method), optical_flow(a, b, method))


def test_an_unknown_method_or_mismatched_frames_are_refused():
    a = texture(0, 0)
    with pytest.raises(ValueError, match="'lucas-kanade' is not one of dis, farneback"):
        optical_flow(a, a, "lucas-kanade")
    with pytest.raises(ValueError, match="two uint8 RGB frames of one shape"):
        optical_flow(a, a[:-1])


def constant_flow(dx: float, dy: float, height: int = 20, width: int = 30) -> np.ndarray:
    return np.broadcast_to(np.float32([dx, dy]), (height, width, 2)).copy()


@pytest.mark.parametrize(("dx", "dy"), [(3, 2), (-2, 1), (0, -4)])
def test_warping_by_an_integer_flow_moves_every_pixel_exactly(dx, dy):
    image = np.random.default_rng(1).random((20, 30, 3)).astype(np.float32) * 255
    out = warp(image, constant_flow(dx, dy))
    # out(p) = image(p + (dx, dy)), wherever p + (dx, dy) is inside the image
    rows, columns = slice(max(0, -dy), 20 - max(0, dy)), slice(max(0, -dx), 30 - max(0, dx))
    moved_rows = slice(rows.start + dy, rows.stop + dy)
    moved_columns = slice(columns.start + dx, columns.stop + dx)
    assert np.array_equal(out[rows, columns], image[moved_rows, moved_columns])


def test_warping_half_a_pixel_averages_the_two_neighbours():
    image = np.random.default_rng(2).random((20, 30)).astype(np.float32)
    out = warp(image, constant_flow(0.5, 0))
    np.testing.assert_allclose(out[:, :-1], (image[:, :-1] + image[:, 1:]) / 2, atol=1e-6)


def test_points_outside_the_image_take_the_nearest_border_pixel():
    image = np.arange(20 * 30, dtype=np.float32).reshape(20, 30)
    out = warp(image, constant_flow(5, 0))
    assert np.array_equal(out[:, -5:], np.repeat(image[:, -1:], 5, axis=1))
