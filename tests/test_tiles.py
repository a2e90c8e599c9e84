"""Painting in tiles (nst.tiling, nst.tiles): the whole image's costs and gradient, memory
bounded by the tile, no seams, --resume, and the automatic choice of tiles."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_runs import run_cli
from matconvnet_files import random_kernels

import nst.run.image_job
import nst.tiles
from nst.assignment import load_vgg_model
from nst.costs import total_variation_cost
from nst.images import Inputs, resize
from nst.level_costs import HeldKernels, activations, objective_of, style_images, style_targets
from nst.memory import GIB, HEADROOM, estimate_peak_bytes
from nst.optimize import GraphCosts, cost_graph
from nst.pixels import PIXEL_SPACES
from nst.settings import Settings
from nst.tf1.api import tf as tf1
from nst.tiles import TiledCosts, TileNetwork, tiled_style_targets
from nst.tiling import Tiling
from nst.transfer import initial_image, stylize

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "images"
CAT_AND_STONE = Settings(content=IMAGES / "cat.jpg", styles=(IMAGES / "stone.jpg",), seed=0)


@pytest.fixture(scope="module")
def kernels():
    return random_kernels(0)


# 1. Where the tiles lie


def test_the_cores_cover_every_pixel_once_wherever_the_grid_moves():
    tiling = Tiling(128)
    for i in range(6):
        covered = np.zeros((300, 400), int)
        for x, y in tiling.corners(400, 300, tiling.shift(3, i)):
            covered[max(y, 0) : y + 128, max(x, 0) : x + 128] += 1
        assert (covered == 1).all()


def test_the_grid_moves_by_multiples_of_16_drawn_from_the_seed_and_the_iteration():
    tiling = Tiling(256)
    shifts = [tiling.shift(7, i) for i in range(20)]
    assert all(0 <= s < 256 and s % 16 == 0 for shift in shifts for s in shift)
    assert len(set(shifts)) > 10  # it moves
    assert shifts == [tiling.shift(7, i) for i in range(20)]  # the same again on --resume
    assert shifts != [tiling.shift(8, i) for i in range(20)]


# 2. The whole image's costs and gradient


def whole_and_tiled(settings: Settings, kernels: dict, size: tuple[int, int], tile: int):
    """((J, J_content, J_style[, J_tv]), dJ/dx) of the initial image, computed on the whole
    image and in tiles."""
    s = settings
    space = PIXEL_SPACES[s.pixels]
    inputs = Inputs.read(s.content, s.styles, None)
    content = space.to_network(resize(inputs.content, *size))
    names = [name for name, _ in s.style_layers]
    styles = list(style_images(s, space, inputs, size))
    image = initial_image(s, space, content, inputs)
    a_C = activations(kernels, content, [s.content_layer], s.pooling)[0]
    targets = [style_targets(kernels, x, names, s.pooling, size, s.style_loss) for x in styles]
    with tf1.Graph().as_default() as graph, tf1.Session(graph=graph) as sess:
        held = HeldKernels()
        model = load_vgg_model(kernels, *size, s.pooling, hold=held)
        evaluator = GraphCosts(sess, cost_graph(model, a_C, targets, objective_of(s)))
        sess.run(tf1.global_variables_initializer())
        held.load(sess)
        whole = evaluator.costs(image, 0), evaluator.cost_and_gradient(image, 0)[1]
    with tf1.Graph().as_default() as graph, tf1.Session(graph=graph) as sess:
        held = HeldKernels()
        net = TileNetwork(kernels, Tiling(tile), s.pooling, held, names)
        held.load(sess)
        a_C = net.activations(sess, content, s.content_layer, np.float16)
        targets = [tiled_style_targets(net, sess, x, names, size, s.style_loss) for x in styles]
        tiled = TiledCosts(sess, net, objective_of(s), a_C, targets, size, s.seed)
        return whole, (tiled.costs_of(image, 4), tiled.cost_and_gradient(image, 4)[1])


@pytest.fixture(scope="module", params=["gram, two styles", "wasserstein"])
def whole_and_tiled_gradients(request, kernels):
    """whole_and_tiled at 224x160 in tiles of 128 pixels, and the tiles' corners."""
    changes = {
        "gram, two styles": {
            "styles": (IMAGES / "stone.jpg", IMAGES / "starry_night.jpg"),
            "style_blend_weights": (2.0, 1.0),
        },
        "wasserstein": {
            "style_loss": "wasserstein",
            "style_layers": [("conv1_1", 0.5), ("conv3_1", 0.5)],
        },
    }[request.param]
    settings = CAT_AND_STONE.replace(tv_weight=1e-3, **changes)
    tiling = Tiling(128)
    corners = tiling.corners(224, 160, tiling.shift(settings.seed, 4))
    return whole_and_tiled(settings, kernels, (224, 160), tile=128), corners


def test_tiles_give_the_whole_images_costs_and_gradient(whole_and_tiled_gradients):
    ((costs, gradient), (tiled_costs, tiled_gradient)), _ = whole_and_tiled_gradients
    assert len(tiled_costs) == 4  # J, J_content, J_style, J_tv
    assert np.allclose(tiled_costs, costs, rtol=1e-4)
    error = np.linalg.norm(tiled_gradient - gradient) / np.linalg.norm(gradient)
    assert error < 1e-2


def test_the_total_variation_in_numpy_is_tensorflows_cost_and_gradient(monkeypatch):
    """nst.tiles.total_variation (summed in bands, here of 1,000 values) against
    nst.costs.total_variation_cost and TensorFlow's gradient of it."""
    monkeypatch.setattr(nst.tiles, "BAND_VALUES", 1000)
    image = np.random.default_rng(5).uniform(-100, 100, (1, 37, 53, 3)).astype(np.float32)
    with tf1.Graph().as_default(), tf1.Session() as sess:
        x = tf1.constant(image)
        J = total_variation_cost(x)
        expected_cost, expected_gradient = sess.run([J, tf1.gradients(J, x)[0]])
    gradient = np.ones_like(image)
    cost = nst.tiles.total_variation(image, gradient, weight=0.5)
    assert cost == pytest.approx(expected_cost, rel=1e-6)
    np.testing.assert_allclose(gradient, 1 + 0.5 * expected_gradient, rtol=1e-5, atol=1e-3)
    assert nst.tiles.total_variation(image) == cost


def border_ratio(gradient: np.ndarray, corners: list, tile: int) -> float:
    """The mean |dJ/dx| on the pixels next to the tiles' borders (the two lines of pixels
    on either side of each), over its mean elsewhere."""
    magnitude = np.abs(gradient[0]).sum(axis=-1)
    height, width = magnitude.shape
    near = np.zeros((height, width), bool)
    for x, y in corners:
        for line in (x, x + tile):
            near[:, max(line - 2, 0) : max(line + 2, 0)] = True
        for line in (y, y + tile):
            near[max(line - 2, 0) : max(line + 2, 0), :] = True
    near[:, :2] = near[:, -2:] = near[:2, :] = near[-2:, :] = False  # the image's own edges
    return magnitude[near].mean() / magnitude[~near].mean()


def test_the_gradient_is_no_larger_along_tile_borders_than_elsewhere(whole_and_tiled_gradients):
    ((_, gradient), (_, tiled_gradient)), corners = whole_and_tiled_gradients
    assert border_ratio(tiled_gradient, corners, 128) <= 1.01 * border_ratio(gradient, corners, 128)


# 3. Memory


PEAK = """
import json, sys
sys.path[:0] = [{root!r}, {tests!r}]
from matconvnet_files import random_kernels
from nst.settings import settings_from_dict
from nst.transfer import stylize
settings = settings_from_dict(json.loads({settings!r}))
for step in stylize(settings, kernels=random_kernels(0)):
    pass
with open("/proc/self/status") as status:  # VmHWM: this program's own peak, not the forker's
    print(next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:")))
"""


def peak_bytes(settings: Settings) -> int:
    """The peak resident memory of a fresh process running `settings` (its VmHWM: ru_maxrss
    would count the pytest process it was forked from)."""
    from nst.settings import settings_to_dict

    code = PEAK.format(
        root=str(ROOT), tests=str(ROOT / "tests"), settings=json.dumps(settings_to_dict(settings))
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def test_a_tiled_run_stays_under_a_bound_that_the_whole_image_exceeds():
    settings = CAT_AND_STONE.replace(width=480, height=352, iterations=1, save_every=1)
    tiled, whole = peak_bytes(settings.replace(tile=192)), peak_bytes(settings)
    print(f"peak memory: {tiled / GIB:.3f} GiB in tiles, {whole / GIB:.3f} GiB whole")
    bound = 1.4 * GIB
    assert tiled < bound < whole


# 4. Every option in tiles

OPTIONS = {
    "L-BFGS": {"optimizer": "lbfgs"},
    "coarse-to-fine": {"coarse_levels": 1, "coarse_iterations": 2, "adam_warm_start": True},
    "two styles": {
        "styles": (IMAGES / "stone.jpg", IMAGES / "starry_night.jpg"),
        "style_blend_weights": (2.0, 1.0),
    },
    "the content's colours": {"preserve_colors": True, "tv_weight": 1e-3},
    "averaged iterates": {"average": 0.9, "style_loss": "wasserstein"},
}


@pytest.mark.parametrize("option", OPTIONS)
def test_each_option_paints_in_tiles_what_it_paints_whole(option, kernels):
    """The tiled run's last picture and its costs (of the whole image) are the untiled run's
    but for the rounding of sums taken in another order: the same objective, optimized from
    the same start (measured: costs within 0.1%, pictures 0.05 levels apart on average)."""
    settings = CAT_AND_STONE.replace(
        width=288, height=208, iterations=4, save_every=3, **OPTIONS[option]
    )
    whole = list(stylize(settings, kernels=kernels))
    tiled = list(stylize(settings.replace(tile=128), kernels=kernels))
    assert [step.i for step in tiled] == [step.i for step in whole] == list(range(4))
    assert [step.costs is None for step in tiled] == [step.costs is None for step in whole]
    assert tiled[-1].costs.keys() == whole[-1].costs.keys()
    for name, value in whole[-1].costs.items():
        assert tiled[-1].costs[name] == pytest.approx(value, rel=0.005), name
    assert np.abs(tiled[-1].image.astype(int) - whole[-1].image).mean() < 0.25


# 5. The command line: --resume, the automatic choice, bad values


def tiled_run(images, weights, output, iterations, *more) -> list:
    content, style = images
    return [content, style, "--weights", weights, "--width", 160, "--height", 144,
            "--iterations", iterations, "--save-every", 1, "--seed", 3,
            "--output-dir", output, *more]  # fmt: skip


def test_a_resumed_tiled_run_ends_where_an_uninterrupted_one_does(tiny_images, vgg19_mat, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    shallow = ["--tile", 128, "--style-layers", "conv1_1,conv2_1", "--content-layer", "conv2_2"]
    assert run_cli(*tiled_run(tiny_images, vgg19_mat, straight, 2, *shallow)) == 0
    assert run_cli(*tiled_run(tiny_images, vgg19_mat, resumed, 1, *shallow)) == 0
    assert run_cli("--resume", resumed, "--iterations", 2) == 0
    with (
        np.load(straight / "checkpoint.npz", allow_pickle=False) as a,
        np.load(resumed / "checkpoint.npz", allow_pickle=False) as b,
    ):
        assert int(b["i"]) == 1 and sorted(a.files) == sorted(b.files)
        for key in a.files:
            assert np.array_equal(a[key], b[key]), key
    manifest = json.loads((resumed / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["tile"] == 128


def test_a_run_too_large_for_the_memory_is_painted_in_tiles_and_says_so(
    tiny_images, vgg19_mat, tmp_path, monkeypatch, capsys
):
    """The largest tiles whose estimate fills at most HEADROOM of the memory available."""
    shallow = {"style_layers": [("conv1_1", 1.0)], "content_layer": "conv1_2"}
    settings = Settings(width=480, height=352, **shallow)
    available = math.ceil(estimate_peak_bytes(settings.replace(tile=144), (480, 352)) / HEADROOM)
    assert estimate_peak_bytes(settings, (480, 352)) > available
    assert estimate_peak_bytes(settings.replace(tile=160), (480, 352)) > HEADROOM * available
    monkeypatch.setattr(nst.run.image_job, "available_bytes", lambda: available)
    more = ["--width", 480, "--height", 352, "--style-layers", "conv1_1", "--content-layer",
            "conv1_2"]  # fmt: skip
    assert run_cli(*tiled_run(tiny_images, vgg19_mat, tmp_path / "o", 1, *more)) == 0
    out = capsys.readouterr().out
    assert "The whole 480x352 image would need about " in out
    assert "painting it in tiles of 144 pixels" in out
    assert "480x352 pixels in tiles of 144 px (overlap 64 px)" in out
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["tile"] == 144


@pytest.mark.parametrize(
    "value, message",
    [
        ("big", "--tile: 'big' is not a whole number"),
        ("100", "--tile: must be between 128 and 16384, not 100"),
        ("20000", "--tile: must be between 128 and 16384, not 20000"),
        ("500", "--tile: must be a multiple of 16 (the network's 4 poolings), not 500"),
    ],
)
def test_bad_tile_values_are_refused_in_one_line(tiny_images, value, message, capsys):
    content, style = tiny_images
    assert run_cli(content, style, "--tile", value) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
