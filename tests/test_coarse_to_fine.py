"""Coarse-to-fine runs: the schedule of sizes, the hand-over between them, and resuming."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from nst.images import resize
from nst.settings import TOLERANCE_WINDOW, Settings
from nst.transfer import _settled, schedule, stylize

W, H = 32, 24


pytestmark = pytest.mark.usefixtures("kernels_in_memory")  # no weights file read


@pytest.fixture
def settings(tiny_run):
    """Six Adam steps at 32x24: three at 16x12 first, then three at the full size."""
    return tiny_run.replace(iterations=6, coarse_levels=1, coarse_iterations=3)


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
def test_a_resumed_coarse_to_fine_run_gives_the_same_images(settings, stopped_after):
    whole = list(stylize(settings))
    resumed = list(stylize(settings, resume=whole[stopped_after].checkpoint))
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
