"""Coarse-to-fine runs: the schedule of sizes, the hand-over between them, and resuming."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from PIL import Image

from nst.assignment_config import CONFIG
from nst.images import resize
from nst.levels import schedule
from nst.settings import TOLERANCE_WINDOW, Settings, crowsonkb_levels
from nst.transfer import _settled, stylize

W, H = 32, 24
MEANS = CONFIG.MEANS[0, 0]  # the caffe pixel space: network value = pixel - MEANS


pytestmark = pytest.mark.usefixtures("kernels_in_memory")  # no weights file read


@pytest.fixture
def settings(tiny_run):
    """Six Adam steps at 32x24: three at 16x12 first, then three at the full size."""
    return tiny_run.replace(iterations=6, coarse_levels=1, coarse_iterations=3)


@pytest.fixture(scope="module")
def painted() -> dict:
    """The steps of uninterrupted runs, by their settings' repr: painted once for the tests
    that resume them from several iterations."""
    return {}


def uninterrupted(painted: dict, settings: Settings) -> list:
    """The steps of stylize(settings), painted once per module (see `painted`)."""
    key = repr(settings)
    if key not in painted:
        painted[key] = list(stylize(settings))
    return painted[key]


def resumed_from(settings: Settings, step) -> list:
    """The steps of stylize(settings) resumed from a copy of `step`'s checkpoint (so that
    the step stays as it was painted)."""
    return list(stylize(settings, resume=copy.deepcopy(step.checkpoint)))


def test_each_coarse_level_halves_the_sides_and_runs_its_share_of_the_iterations():
    s = Settings(iterations=10, coarse_levels=2, coarse_iterations=3)
    assert schedule(s, (400, 300)) == [
        ((100, 75), range(0, 3)),
        ((200, 150), range(3, 6)),
        ((400, 300), range(6, 10)),
    ]


def test_without_coarse_levels_every_step_runs_at_the_output_size():
    assert schedule(Settings(iterations=7), (400, 300)) == [((400, 300), range(0, 7))]


def test_the_steps_images_grow_from_the_coarse_size_to_the_output_size(settings):
    shapes = [step.image.shape for step in stylize(settings)]
    assert shapes == [(12, 16, 3)] * 3 + [(H, W, 3)] * 3


def test_the_full_size_starts_from_the_upsampled_coarse_result(settings):
    steps = list(stylize(settings.replace(learning_rate=1e-6)))  # Adam moves each pixel ~1e-6
    coarse_result = steps[2].checkpoint.image
    first_full_size = steps[3].checkpoint.image
    enlarged = resize(coarse_result[0], W, H, Image.Resampling.BILINEAR)[None]
    assert np.allclose(first_full_size, enlarged, rtol=0, atol=1e-4)


@pytest.mark.parametrize("stopped_after", [0, 2, 3])  # inside, at the end of, after the coarse
def test_a_resumed_coarse_to_fine_run_gives_the_same_images(settings, stopped_after, painted):
    whole = uninterrupted(painted, settings)
    resumed = resumed_from(settings, whole[stopped_after])
    assert [s.i for s in resumed] == list(range(stopped_after + 1, 6))
    for again, original in zip(resumed, whole[stopped_after + 1 :], strict=True):
        assert np.array_equal(again.image, original.image)
        assert again.costs == original.costs


def test_lbfgs_runs_coarse_to_fine_too(settings):
    steps = list(stylize(settings.replace(optimizer="lbfgs")))
    assert steps[-1].image.shape == (H, W, 3)
    assert steps[-1].costs["total"] < steps[3].J_before


# --schedule: the iterations of each size, named one by one


def test_a_schedule_names_each_sizes_iterations_smallest_first():
    s = Settings(schedule=(5, 3, 2))
    assert schedule(s, (400, 300)) == [
        ((100, 75), range(0, 5)),
        ((200, 150), range(5, 8)),
        ((400, 300), range(8, 10)),
    ]


def test_a_run_with_a_schedule_runs_the_iterations_it_names(tiny_run):
    shapes = [step.image.shape for step in stylize(tiny_run.replace(schedule=(2, 3)))]
    assert shapes == [(12, 16, 3)] * 2 + [(H, W, 3)] * 3


# --tolerance: a size's iterations end when the total cost has settled


def test_settled_compares_the_total_cost_over_the_window():
    falling = [100.0 - k for k in range(TOLERANCE_WINDOW + 1)]  # fell by 10 of 100
    assert not _settled(falling, tolerance=0.1)  # 10% is not less than 10%
    assert _settled(falling, tolerance=0.11)
    assert not _settled(falling[:-1], tolerance=0.5)  # not yet a whole window
    assert not _settled([5.0] * 50, tolerance=0)  # 0: never


def test_a_run_with_a_tolerance_ends_once_the_cost_settles(tiny_run):
    run = tiny_run.replace(iterations=40, learning_rate=1e-6)  # J hardly moves
    assert [step.i for step in stylize(run)] == list(range(40))
    settled = [step.i for step in stylize(run.replace(tolerance=0.01))]
    assert settled == list(range(TOLERANCE_WINDOW + 1))


# --level-ratio: how much larger each size is than the one before


def test_with_a_level_ratio_of_root_two_each_size_has_sides_root_two_times_the_last():
    s = Settings(schedule=(4, 3, 2, 1, 1), level_ratio=2**0.5)
    sizes = [size for size, _ in schedule(s, (512, 384))]
    # crowsonkb's sizes for 512 px: round(512 / 2^(k/2)) for k = 4 .. 0
    assert [width for width, _ in sizes] == [128, 181, 256, 362, 512]
    assert sizes[-1] == (512, 384)
    assert [round(w / h, 2) for w, h in sizes] == [1.33] * 5


def test_coarse_levels_follow_the_level_ratio_too():
    s = Settings(iterations=6, coarse_levels=1, coarse_iterations=3, level_ratio=4.0)
    assert schedule(s, (400, 300)) == [((100, 75), range(0, 3)), ((400, 300), range(3, 6))]


def test_sizes_below_the_min_size_give_their_iterations_to_the_first_size_kept():
    s = Settings(schedule=(100, 60, 40, 20), min_size=128)
    assert schedule(s, (1024, 768))[0] == ((128, 96), range(0, 100))  # none below 128 px
    assert schedule(s, (512, 384)) == [
        ((128, 96), range(0, 160)),  # 64x48's 100 iterations, then its own 60
        ((256, 192), range(160, 200)),
        ((512, 384), range(200, 220)),
    ]
    assert schedule(s, (100, 75)) == [((100, 75), range(0, 220))]  # the output size stays


def test_a_run_with_a_min_size_runs_the_merged_iterations_at_the_size_kept(tiny_run):
    run = tiny_run.replace(schedule=(2, 1, 3), min_size=14)  # 8x6 is below 14 px, 16x12 not
    shapes = [step.image.shape for step in stylize(run)]
    assert shapes == [(12, 16, 3)] * 3 + [(H, W, 3)] * 3


def test_crowsonkb_levels_counts_the_sizes_down_to_128_pixels():
    assert [crowsonkb_levels(size) for size in (100, 128, 180, 181, 512, 1024)] == [
        1, 1, 1, 2, 5, 7,
    ]  # fmt: skip


# Adam's warm start: a new size keeps Adam's moments, enlarged


def adam_step_count(state: tuple[np.ndarray, ...]) -> int:
    """How many steps t Adam has taken, from its beta1 power, the smaller of its two scalars:
    TF 1.x's Adam holds 0.9^(t + 1) (and 0.999^(t + 1)) for the next step's bias correction."""
    beta1_power = min(float(v) for v in state if np.ndim(v) == 0)
    return round(np.log(beta1_power) / np.log(0.9)) - 1


def test_without_a_warm_start_adam_starts_afresh_at_each_size(settings):
    steps = list(stylize(settings))
    assert [adam_step_count(s.checkpoint.state) for s in steps] == [1, 2, 3, 1, 2, 3]


def test_with_a_warm_start_adam_goes_on_with_its_moments_enlarged(settings):
    steps = list(stylize(settings.replace(adam_warm_start=True)))
    assert [adam_step_count(s.checkpoint.state) for s in steps] == [1, 2, 3, 4, 5, 6]
    shapes = {np.shape(v) for v in steps[3].checkpoint.state if np.ndim(v) == 4}
    assert shapes == {(1, H, W, 3)}


# --average: the picture is the moving average of the iterates


def test_the_picture_is_the_bias_corrected_moving_average_of_the_iterates(tiny_run):
    decay = 0.8
    plain = list(stylize(tiny_run))
    averaged = list(stylize(tiny_run.replace(average=decay)))
    iterates = [s.checkpoint.image.astype(np.float64) for s in plain]
    for t, step in enumerate(averaged, start=1):
        # the iterates themselves do not change: averaging only changes what is shown
        assert np.array_equal(step.checkpoint.image, plain[t - 1].checkpoint.image)
        weights = [(1 - decay) * decay ** (t - k) for k in range(1, t + 1)]
        mean = sum(w * x for w, x in zip(weights, iterates, strict=False)) / sum(weights)
        expected = np.clip(mean[0] + MEANS, 0, 255)
        np.testing.assert_allclose(step.pixels, expected, atol=1e-3)


def test_the_costs_given_are_those_of_the_average(tiny_run):
    averaged = list(stylize(tiny_run.replace(average=0.9)))
    plain = list(stylize(tiny_run))
    # the first average is the first iterate; later ones lag behind the iterates
    assert averaged[0].costs == pytest.approx(plain[0].costs, rel=1e-5)
    assert averaged[-1].costs["total"] > plain[-1].costs["total"]


def test_the_next_size_starts_from_the_average(settings):
    steps = list(stylize(settings.replace(average=0.9, learning_rate=1e-6)))
    coarse_average = steps[2].pixels
    first_full_size = steps[3].checkpoint.image[0] + MEANS  # before the average moves it
    enlarged = resize(coarse_average, W, H, Image.Resampling.BILINEAR)
    np.testing.assert_allclose(first_full_size, enlarged, atol=1e-2)


@pytest.mark.parametrize("stopped_after", [1, 2, 4])
def test_a_resumed_averaging_run_gives_the_same_images(settings, stopped_after, painted):
    run = settings.replace(average=0.9, adam_warm_start=True)
    whole = uninterrupted(painted, run)
    resumed = resumed_from(run, whole[stopped_after])
    for again, original in zip(resumed, whole[stopped_after + 1 :], strict=True):
        assert np.array_equal(again.pixels, original.pixels)
