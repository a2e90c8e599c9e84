"""--color-transfer and --color-match: the colours of the style images (or of the content)
are matched to the other's once, before the transfer.

The expected statistics are computed here with NumPy from the images themselves.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_runs import run_cli

from nst.colors import COVARIANCE_EPSILON, match_colors
from nst.images import Inputs, read_rgb, resize
from nst.setting_checks import SettingError
from nst.settings import Settings
from nst.transfer import recolored

QUANTILES = np.linspace(0.01, 0.99, 99)


def correlated_image(seed: int, shape: tuple[int, int], mean: list[float], mix: list[list[float]]):
    """uint8 RGB pixels mean + z @ mix, z standard normal: colours with correlated channels."""
    z = np.random.default_rng(seed).normal(size=(*shape, 3))
    return np.clip(np.round(z @ np.array(mix) + mean), 0, 255).astype(np.uint8)


@pytest.fixture
def content():
    """A 60x80 image of brownish colours."""
    return correlated_image(0, (60, 80), [120, 100, 90], [[30, 5, 0], [0, 20, 5], [3, 0, 25]])


@pytest.fixture
def style():
    """A 50x50 image of bluish colours, with other correlations than the content's."""
    return correlated_image(1, (50, 50), [80, 140, 170], [[15, 0, 8], [4, 25, 0], [0, 6, 18]])


def mean_and_covariance(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean colour and the 3x3 population covariance of an image's pixels."""
    pixels = image.reshape(-1, 3).astype(np.float64)
    return pixels.mean(axis=0), np.cov(pixels, rowvar=False, bias=True)


def quantiles(image: np.ndarray, channel: int) -> np.ndarray:
    """The channel's 1%, 2%, .., 99% quantiles, each a level of the image."""
    return np.quantile(image[..., channel], QUANTILES, method="inverted_cdf").astype(int)


def recolor(mode: str, method: str, inputs: Inputs, **settings) -> Inputs:
    return recolored(Settings(color_transfer=mode, color_match=method, **settings), inputs)


def test_covariance_matching_gives_the_styles_the_contents_mean_and_covariance(content, style):
    """The linear map matches the mean and covariance exactly before rounding to uint8.

    When nothing is clipped (no pixel at 0 or 255), rounding moves each value by e, |e| <= 0.5:
    the mean by at most 0.5, and covariance (i, j) by at most
    |cov(x_i, e_j)| + |cov(e_i, x_j)| + |cov(e_i, e_j)| <= 0.5 (sd_i + sd_j) + 0.25. The
    epsilon added to the style's covariance shrinks the result's covariance by at most
    ||Sigma_t|| epsilon / (lambda_min(Sigma_s) + epsilon).
    """
    (recoloured,) = recolor("style", "covariance", Inputs(content, [style])).styles
    assert recoloured.dtype == np.uint8 and recoloured.shape == style.shape
    assert recoloured.min() > 0 and recoloured.max() < 255  # nothing clipped
    mu_t, sigma_t = mean_and_covariance(content)
    _, sigma_s = mean_and_covariance(style)
    mu, sigma = mean_and_covariance(recoloured)
    sd = np.sqrt(np.diag(sigma_t))
    shrink = np.linalg.norm(sigma_t, 2) * COVARIANCE_EPSILON / np.linalg.eigvalsh(sigma_s)[0]
    tolerance = 0.5 * (sd[:, None] + sd[None, :]) + 0.25 + shrink
    assert np.abs(mu - mu_t).max() <= 0.5
    assert (np.abs(sigma - sigma_t) <= tolerance).all()
    assert (np.abs(sigma_s - sigma_t) > 4 * tolerance).any()  # the style's colours did differ


def test_histogram_matching_gives_each_channel_the_contents_quantiles(content, style):
    """Each channel's 1% .. 99% quantiles are the content's within one level (rounding
    to whole levels; in the outer 1% each level holds too few pixels to compare)."""
    (recoloured,) = recolor("style", "histogram", Inputs(content, [style])).styles
    assert recoloured.dtype == np.uint8 and recoloured.shape == style.shape
    for channel in range(3):
        assert np.abs(quantiles(recoloured, channel) - quantiles(content, channel)).max() <= 1
        assert np.abs(quantiles(style, channel) - quantiles(content, channel)).max() > 10


@pytest.mark.parametrize("method", ["covariance", "histogram"])
def test_content_mode_changes_the_content_and_leaves_the_styles(content, style, method):
    inputs = Inputs(content, [style])
    changed = recolor("content", method, inputs)
    assert changed.styles[0] is style
    assert changed.content.shape == content.shape and not np.array_equal(changed.content, content)
    mu, _ = mean_and_covariance(changed.content)
    assert np.abs(mu - mean_and_covariance(style)[0]).max() <= 1.0


def test_content_mode_matches_the_blend_of_the_styles(content, style):
    """With blend weights 3 and 1, the target colours are the two styles' pixels pooled with
    shares 3/4 and 1/4: the target mean is 3/4 mu_1 + 1/4 mu_2."""
    other = correlated_image(2, (40, 30), [110, 120, 150], [[10, 0, 0], [0, 10, 0], [0, 0, 10]])
    inputs = Inputs(content, [style, other])
    changed = recolor("content", "covariance", inputs, style_blend_weights=(3.0, 1.0))
    assert changed.styles[0] is style and changed.styles[1] is other
    blend = 0.75 * mean_and_covariance(style)[0] + 0.25 * mean_and_covariance(other)[0]
    assert changed.content.min() > 0 and changed.content.max() < 255
    assert np.abs(mean_and_covariance(changed.content)[0] - blend).max() <= 0.5


@pytest.mark.parametrize("method", ["covariance", "histogram"])
def test_off_leaves_the_inputs_as_they_are(content, style, method):
    inputs = Inputs(content, [style])
    assert recolor("off", method, inputs) is inputs
    assert Settings().color_transfer == "off"


@pytest.mark.parametrize("method", ["covariance", "histogram"])
def test_a_flat_image_is_recoloured_without_nan(content, method):
    """A single-colour source takes the target's mean (covariance) or median (histogram)
    colour; a single-colour target makes every pixel its colour."""
    flat = np.full((6, 5, 3), (30, 200, 90), np.uint8)
    recoloured = match_colors(flat, [content], method=method)
    assert recoloured.dtype == np.uint8
    pixels = content.reshape(-1, 3)
    centre = pixels.mean(axis=0) if method == "covariance" else np.median(pixels, axis=0)
    assert (np.abs(recoloured.astype(float) - centre) <= 1.0).all()
    assert (match_colors(content, [flat], method=method) == (30, 200, 90)).all()


def test_unknown_settings_values_are_refused(content, style):
    with pytest.raises(SettingError, match="^color_transfer: must be off, style or content"):
        recolor("both", "covariance", Inputs(content, [style]))
    with pytest.raises(SettingError, match="^color_match: must be covariance or histogram"):
        recolor("style", "median", Inputs(content, [style]))


def test_init_content_starts_from_the_recoloured_content(tiny_run, monkeypatch):
    """--color-transfer content is applied before the initial image is made."""
    import nst.transfer
    from nst.pixels import PIXEL_SPACES

    made = []
    original = nst.transfer.initial_image

    def spy(settings, space, content, inputs):
        made.append(original(settings, space, content, inputs))
        return made[-1]

    monkeypatch.setattr(nst.transfer, "initial_image", spy)
    s = tiny_run.replace(init="content", color_transfer="content", iterations=1)
    next(nst.transfer.stylize(s))
    content, style = read_rgb(s.content), read_rgb(s.styles[0])
    expected = resize(match_colors(content, [style]), s.width, s.height)
    assert np.array_equal(PIXEL_SPACES[s.pixels].to_rgb(made[0]), expected)
    assert not np.array_equal(expected, resize(content, s.width, s.height))


def test_a_run_with_color_transfer_style_records_it(tiny_images, vgg19_mat, tmp_path):
    content, style = tiny_images
    status = run_cli(content, style, "--weights", vgg19_mat, "--width", 32, "--height", 24,
                     "--iterations", 2, "--color-transfer", "style", "--color-match",
                     "histogram", "--output-dir", tmp_path / "o")  # fmt: skip
    assert status == 0
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    settings = manifest["settings"]
    assert (settings["color_transfer"], settings["color_match"]) == ("style", "histogram")


@pytest.mark.parametrize(
    ("option", "value"), [("--color-transfer", "both"), ("--color-match", "median")]
)
def test_bad_values_are_refused_in_one_line(tiny_images, option, value, tmp_path, capsys):
    content, style = tiny_images
    assert run_cli(content, style, option, value, "--output-dir", tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert f"argument {option}: must be " in err and f", not '{value}'" in err
    assert err.count("\n") == 1 and "Traceback" not in err
