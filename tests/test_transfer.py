"""The Python API `stylize` and each option beyond the assignment, on tiny images."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst.images import Inputs, read_rgb, resize
from nst.levels import output_size
from nst.optimize import build_cost_graph, optimize
from nst.pixels import PIXEL_SPACES
from nst.settings import Settings
from nst.tf1.api import tf as tf1
from nst.transfer import JITTER_AMPLITUDE, initial_image, stylize
from nst_utils import generate_noise_image, load_image, load_vgg_model, reshape_and_normalize_image

ROOT = Path(__file__).resolve().parent.parent

W, H = 32, 24


pytestmark = pytest.mark.usefixtures("kernels_in_memory")  # no weights file read


@pytest.fixture
def settings(tiny_run):
    """A 32x24, 4-step run on the tiny images with the assignment's settings otherwise."""
    return tiny_run


def costs_of(settings: Settings) -> list[dict[str, float]]:
    return [step.costs for step in stylize(settings)]


def last_step(settings: Settings):
    *_, step = stylize(settings)
    return step


def lbfgs_threads() -> list[threading.Thread]:
    """The worker threads of nst.lbfgsb.lbfgs_iterates still running."""
    return [thread for thread in threading.enumerate() if thread.name == "L-BFGS-B"]


def luma_and_chroma(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Y and (Cb, Cr) of uint8 RGB by the JPEG (BT.601 full range) formulas."""
    r, g, b = (rgb[..., k].astype(float) for k in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return y, np.stack([(b - y) / 1.772, (r - y) / 1.402], axis=-1)


def total_variation(rgb: np.ndarray) -> float:
    x = rgb.astype(float)
    return float(((x[1:] - x[:-1]) ** 2).sum() + ((x[:, 1:] - x[:, :-1]) ** 2).sum())


def test_the_assignment_settings_give_the_notebook_steps_numbers(settings, tiny_images, vgg19_mat):
    content, style = tiny_images
    np.random.seed(3)
    content_image = reshape_and_normalize_image(load_image(content, W, H))
    style_image = reshape_and_normalize_image(load_image(style, W, H))
    start = generate_noise_image(content_image)
    with tf1.Graph().as_default(), tf1.Session() as sess:
        model = load_vgg_model(vgg19_mat, W, H)
        graph = build_cost_graph(sess, model, content_image, style_image)
        notebook = [it.costs for it in optimize(sess, graph, start, 4, 1)]
    ours = costs_of(settings)
    assert [(c["total"], c["content"], c["style"]) for c in ours] == notebook  # bit for bit


def test_steps_carry_the_picture_the_costs_and_a_checkpoint(settings):
    steps = list(stylize(settings.replace(save_every=2)))
    assert [s.i for s in steps] == [0, 1, 2, 3]
    assert [s.costs is not None for s in steps] == [True, False, True, True]  # and the last
    for step in steps:
        assert step.image.shape == (H, W, 3) and step.image.dtype == np.uint8
        assert step.checkpoint.i == step.i and step.checkpoint.image.shape == (1, H, W, 3)
        assert len(step.checkpoint.state) == 4  # Adam's beta powers and two moments
    assert steps[1].J_before == pytest.approx(steps[0].costs["total"], rel=1e-6)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_both_optimizers_lower_the_total_cost(settings, optimizer):
    costs = costs_of(settings.replace(optimizer=optimizer, iterations=8))
    assert costs[-1]["total"] < 0.8 * costs[0]["total"]
    totals = [c["total"] for c in costs]
    if optimizer == "lbfgs":  # each L-BFGS step satisfies the Wolfe sufficient decrease
        assert totals == sorted(totals, reverse=True)


def test_total_variation_adds_its_cost_and_smooths_the_result(settings):
    plain = last_step(settings.replace(iterations=10))
    smooth = last_step(settings.replace(iterations=10, tv_weight=1.0))
    c = smooth.costs
    assert c["total"] == pytest.approx(10 * c["content"] + 40 * c["style"] + c["total variation"],
                                       rel=1e-5)  # fmt: skip
    assert "total variation" not in plain.costs
    assert total_variation(smooth.image) < 0.7 * total_variation(plain.image)


def test_preserved_colours_are_the_contents_with_the_results_luminance(settings, tiny_images):
    content_rgb = read_rgb(tiny_images[0])
    content_rgb = resize(content_rgb, W, H)
    plain = last_step(settings)
    kept = last_step(settings.replace(preserve_colors=True))
    _, content_chroma = luma_and_chroma(content_rgb)
    plain_luma, plain_chroma = luma_and_chroma(plain.image)
    kept_luma, kept_chroma = luma_and_chroma(kept.image)
    assert np.abs(kept_luma - plain_luma).mean() < 1.0  # same luminance
    assert np.abs(kept_chroma - content_chroma).mean() < 1.5  # the content's colours
    assert (
        np.abs(plain_chroma - content_chroma).mean()
        > 3 * np.abs(kept_chroma - content_chroma).mean()
    )


def test_blend_weights_choose_how_much_each_style_image_counts(settings, tmp_path, tiny_images):
    other = tmp_path / "other.png"
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (20, 50, 3), dtype=np.uint8)).save(other)
    style = tiny_images[1]
    alone = costs_of(settings)
    first_only = costs_of(settings.replace(styles=(style, other), style_blend_weights=(1.0, 0.0)))
    assert first_only == alone
    other_alone = costs_of(settings.replace(styles=(other,)))
    second_only = costs_of(settings.replace(styles=(style, other), style_blend_weights=(0, 3)))
    assert second_only == other_alone


def test_style_scale_resizes_the_style_image_relative_to_the_output(settings):
    assert costs_of(settings.replace(style_scale=0.5)) != costs_of(settings)
    big = costs_of(settings.replace(style_scale=2.0))
    assert big[-1]["total"] < big[0]["total"]


def test_size_sets_the_longest_side_and_keeps_the_contents_aspect_ratio(settings):
    assert output_size(settings.replace(size=40), (30, 40, 3)) == (40, 30)
    assert output_size(settings.replace(size=100), (300, 150, 3)) == (50, 100)
    assert output_size(settings, (300, 150, 3)) == (W, H)  # without size: width x height
    step = last_step(settings.replace(size=20, iterations=1))
    assert step.image.shape == (15, 20, 3)  # the tiny content image is 40x30


class TestInitialImages:
    def start(self, settings, init, **changes):
        settings = settings.replace(init=init, **changes)
        space = PIXEL_SPACES[settings.pixels]
        content = space.to_network(resize(read_rgb(settings.content), W, H))
        inputs = Inputs.read(settings.content, settings.styles, settings.init_file)
        return content, initial_image(settings, space, content, inputs)

    def test_noise_is_the_assignments_blend_of_noise_and_content(self, settings):
        content, start = self.start(settings, "noise", seed=11)
        np.random.seed(11)
        noise = np.random.uniform(-20, 20, content.shape).astype(np.float32)
        np.testing.assert_array_equal(start, noise * 0.6 + content * 0.4)

    def test_content_style_and_a_file(self, settings, tiny_images):
        content, start = self.start(settings, "content")
        np.testing.assert_array_equal(start, content)
        _, start = self.start(settings, "style")
        style = resize(read_rgb(tiny_images[1]), W, H)
        np.testing.assert_array_equal(PIXEL_SPACES["caffe"].to_rgb(start), style)
        _, start = self.start(settings, tiny_images[1])
        np.testing.assert_array_equal(PIXEL_SPACES["caffe"].to_rgb(start), style)

    def test_random_covers_the_pixel_range(self, settings):
        _, start = self.start(settings, "random", seed=1)
        pixels = start + PIXEL_SPACES["caffe"].means
        assert pixels.min() >= 0 and pixels.max() <= 255
        assert pixels.min() < 10 and pixels.max() > 245

    def test_jitter_adds_bounded_noise_to_the_content_in_either_pixel_space(self, settings):
        for pixels, amplitude in (("caffe", JITTER_AMPLITUDE), ("unit", 0.25)):
            content, start = self.start(settings, "jitter", seed=2, pixels=pixels)
            low, high = PIXEL_SPACES[pixels].bounds()
            assert np.abs(start - content).max() <= amplitude + 1e-6
            assert np.abs(start - content).max() > 0.9 * amplitude
            assert (start >= low).all() and (start <= high).all()

    def test_the_same_seed_gives_the_same_start(self, settings):
        _, a = self.start(settings, "jitter", seed=4)
        _, b = self.start(settings, "jitter", seed=4)
        _, c = self.start(settings, "jitter", seed=5)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_the_tf2_preset_keeps_the_image_in_0_1_after_every_step(tiny_images, vgg19_mat):
    content, style = tiny_images
    tf2 = Settings.preset_settings("tf2", content=content, styles=(style,), weights=vgg19_mat,
                                   width=W, height=W, iterations=5, save_every=1, seed=1,
                                   learning_rate=0.05)  # fmt: skip
    steps = list(stylize(tf2))
    for step in steps:
        image = step.checkpoint.image
        assert image.min() >= 0 and image.max() <= 1
        assert image.min() == 0 or image.max() == 1  # the clip was needed
    assert steps[-1].image.shape == (W, W, 3)
    assert steps[-1].costs["total"] < steps[0].costs["total"]


def test_lbfgs_with_clip_keeps_the_image_in_0_1_which_it_leaves_without(tiny_images, vgg19_mat):
    content, style = tiny_images
    tf2 = Settings.preset_settings("tf2", content=content, styles=(style,), weights=vgg19_mat,
                                   width=W, height=W, iterations=6, save_every=1, seed=1,
                                   optimizer="lbfgs")  # fmt: skip
    steps = list(stylize(tf2))
    images = [step.checkpoint.image for step in steps]
    assert all(image.min() >= 0 and image.max() <= 1 for image in images)
    assert any(image.min() == 0 or image.max() == 1 for image in images)  # the bounds were met
    totals = [step.costs["total"] for step in steps]
    assert totals == sorted(totals, reverse=True) and totals[-1] < 0.8 * totals[0]
    for before, after in zip(steps, steps[1:], strict=False):
        assert after.J_before == pytest.approx(before.costs["total"], rel=1e-6)
    unclipped = [step.checkpoint.image for step in stylize(tf2.replace(clip=False))]
    assert any(image.min() < 0 or image.max() > 1 for image in unclipped)
    assert lbfgs_threads() == []  # the runs ended with their last step, and so did L-BFGS-B


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_closing_the_generator_early_stops_the_run(settings, optimizer):
    steps = stylize(settings.replace(iterations=100, optimizer=optimizer))
    first = next(steps)
    steps.close()
    assert first.i == 0
    with pytest.raises(StopIteration):
        next(steps)
    assert lbfgs_threads() == []


@pytest.mark.parametrize(("optimizer", "tile"), [("adam", None), ("lbfgs", None), ("adam", 128)])
def test_a_program_that_leaves_the_loop_early_ends(tiny_images, vgg19_mat, optimizer, tile):
    """A script that keeps stylize's generator in a variable and stops taking steps (the README:
    "stop early by leaving the loop") exits normally, with TensorFlow's session and L-BFGS-B's
    thread still open when the interpreter ends (it used to hang there)."""
    content, style = tiny_images
    script = f"""
from pathlib import Path
from nst.settings import Settings
from nst.transfer import stylize
settings = Settings(content=Path({str(content)!r}), styles=(Path({str(style)!r}),),
                    weights=Path({str(vgg19_mat)!r}), width=160, height=144, iterations=50,
                    optimizer={optimizer!r}, tile={tile!r})
steps = stylize(settings)
for step in steps:
    if step.i == 1:
        break
print("left at", step.i)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("left at 1")
