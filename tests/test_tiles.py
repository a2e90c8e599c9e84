"""Painting in tiles (nst.tile_grid, nst.tiled_costs): the whole image's costs and gradient, memory
bounded by the tile, no seams, --resume, and the automatic choice of tiles."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_runs import run_cli
from matconvnet_files import VGG16_BLOCKS, random_kernels

import nst.run.image_job
import nst.tiled_costs
from nst.assignment import load_vgg_model
from nst.costs import total_variation_cost
from nst.images import Inputs, resize
from nst.level_costs import HeldKernels, activations, objective_of, style_images, style_targets
from nst.memory import GIB, HEADROOM, estimate_peak_bytes
from nst.optimize import GraphCosts, cost_graph
from nst.pixels import PIXEL_SPACES
from nst.settings import Settings
from nst.tf1.api import tf as tf1
from nst.tile_grid import Tiling
from nst.tiled_costs import TiledCosts, TileNetwork, tiled_style_targets
from nst.transfer import initial_image, stylize
from nst.video.temporal_targets import TemporalTargets

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("weights_read_once")  # see conftest.py
IMAGES = ROOT / "images"
CAT_AND_STONE = Settings(content=IMAGES / "cat.jpg", styles=(IMAGES / "stone.jpg",), seed=0)


@pytest.fixture(scope="module")
def kernels():
    return random_kernels(0)


# 1. Where the tiles lie


def covered(tiles: list, width: int, height: int) -> np.ndarray:
    """How many cores of `tiles` hold each pixel."""
    count = np.zeros((height, width), int)
    for tile in tiles:
        count[tile.rows.start : tile.rows.stop, tile.columns.start : tile.columns.stop] += 1
    return count


@pytest.mark.parametrize("size", [(400, 300), (1000, 130), (3000, 2000), (272, 272)])
def test_the_cores_cover_every_pixel_once_wherever_the_borders_move(size):
    tiling = Tiling(128, size)
    for i in range(6):
        assert (covered(tiling.tiles(*size, tiling.grid(3, i)), *size) == 1).all()


@pytest.mark.parametrize("size", [(400, 300), (1000, 130), (3000, 2000), (272, 272)])
def test_each_window_holds_its_core_and_the_halo_where_the_image_goes_on(size):
    """One window shape for every tile, no side longer than tile + 2 halo; corners and core
    borders on multiples of 16; 64 pixels around each core inside the window, unless the
    image ends first."""
    tiling = Tiling(128, size)
    (side_x, side_y), (width, height) = tiling.window_shape, size
    assert side_x <= 256 and side_y <= 256
    for i in range(6):
        for tile in tiling.tiles(width, height, tiling.grid(3, i)):
            x, y = tile.corner
            assert x % 16 == 0 and y % 16 == 0
            for core, start, side, extent in ((tile.columns, x, side_x, width),
                                              (tile.rows, y, side_y, height)):  # fmt: skip
                assert core.start % 16 == 0 and (core.stop % 16 == 0 or core.stop == extent)
                assert start <= max(core.start - 64, 0)
                assert start + side >= min(core.stop + 64, extent)


def test_the_windows_are_as_few_as_their_largest_size_allows():
    """An image of 400x300 in tiles of 128 pixels: windows of at most 256 pixels, the first
    and last cores at most 192 pixels (a halo on one side), the others 128: 3 x 2."""
    tiling = Tiling(128, (400, 300))
    assert len(tiling.tiles(400, 300)) == 3 * 2
    assert tiling.window_shape == (224, 224)  # 3 x 224 - 4 x 64 >= 400, 2 x 224 - 2 x 64 >= 300


def test_the_borders_between_cores_move_as_far_as_the_windows_leave_room():
    """1000x700 in tiles of 256: 4 windows of 352 pixels hold 4 x 352 - 6 x 64 = 1024 >= 1008
    columns (1000 rounded up to 16), so each border between columns has 2 places; the 3 rows
    of windows of 320 pixels fill 704 exactly, so the borders between rows stay. The draws
    come from the seed and the iteration, so --resume draws them again."""
    tiling = Tiling(256, (1000, 700))
    assert tiling.window_shape == (352, 320)

    def borders(seed: int, i: int) -> tuple:
        tiles = tiling.tiles(1000, 700, tiling.grid(seed, i))
        return tuple(sorted({t.columns.start for t in tiles})), tuple(
            sorted({t.rows.start for t in tiles})
        )

    layouts = [borders(7, i) for i in range(20)]
    assert {rows for _, rows in layouts} == {(0, 256, 448)}  # 320 - 64, + 320 - 128
    assert len({columns for columns, _ in layouts}) > 1  # they move
    assert layouts == [borders(7, i) for i in range(20)]
    assert layouts != [borders(8, i) for i in range(20)]


# 2. The whole image's costs and gradient


def whole_and_tiled(
    settings: Settings, kernels: dict, size: tuple[int, int], tile: int, temporal=None
):
    """((J, J_content, J_style[, J_tv][, J_temporal]), dJ/dx) of the initial image, computed
    on the whole image and in tiles (with a clip frame's `temporal` targets when given)."""
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
        evaluator = GraphCosts(sess, cost_graph(model, a_C, targets, objective_of(s), temporal))
        sess.run(tf1.global_variables_initializer())
        held.load(sess)
        whole = evaluator.costs(image, 0), evaluator.cost_and_gradient(image, 0)[1]
    with tf1.Graph().as_default() as graph, tf1.Session(graph=graph) as sess:
        held = HeldKernels()
        net = TileNetwork(kernels, Tiling(tile, size), s.pooling, held, names)
        held.load(sess)
        a_C = net.activations(sess, content, s.content_layer, np.float16)
        targets = [tiled_style_targets(net, sess, x, names, size, s.style_loss) for x in styles]
        tiled = TiledCosts(sess, net, objective_of(s), a_C, targets, size, s.seed, temporal)
        return whole, (tiled.costs_of(image, 4), tiled.cost_and_gradient(image, 4)[1])


SIZE = (448, 288)
"""In tiles of 128 pixels: 3 x 2 windows of 240 x 208 pixels, the middle ones with a halo on
both sides."""


@pytest.fixture(scope="module", params=["gram, two styles", "wasserstein"])
def whole_and_tiled_gradients(request, kernels):
    """whole_and_tiled at SIZE in tiles of 128 pixels, with the total variation and a clip
    frame's temporal cost, and the tiles (those of step 4)."""
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
    tiling = Tiling(128, SIZE)
    tiles = tiling.tiles(*SIZE, tiling.grid(settings.seed, 4))
    assert len(tiles) == 6
    rng = np.random.default_rng(11)  # a clip's frame: an earlier result, certain at 70%
    width, height = SIZE
    warped = rng.uniform(-100, 100, (1, height, width, 3)).astype(np.float32)
    certain = (rng.random((height, width)) < 0.7).astype(np.float32)
    temporal = TemporalTargets(30.0, (warped,), (certain,))
    return whole_and_tiled(settings, kernels, SIZE, tile=128, temporal=temporal), tiles


def test_with_vgg16_the_halo_holds_the_whole_receptive_field():
    """A 3x3 convolution at a stride of s pixels sees s pixels further; up to conv5_1, VGG-16
    sees 2 x 1 + 2 x 2 + 3 x 4 + 3 x 8 + 16 = 58 pixels beyond a core aligned to 16 pixels:
    within the 64-pixel halo, so the cores' activations are the whole image's, and the
    tiles' costs and gradient are the whole image's but for the order of the sums. (VGG-19's
    fourth convolutions of blocks 3 and 4 make it 70.)"""
    settings = CAT_AND_STONE.replace(network="vgg16")
    (costs, gradient), (tiled_costs, tiled_gradient) = whole_and_tiled(
        settings, random_kernels(0, VGG16_BLOCKS), SIZE, tile=128
    )
    assert np.allclose(tiled_costs, costs, rtol=1e-5)
    assert np.linalg.norm(tiled_gradient - gradient) < 1e-5 * np.linalg.norm(gradient)


def test_tiles_give_the_whole_images_costs_and_gradient(whole_and_tiled_gradients):
    ((costs, gradient), (tiled_costs, tiled_gradient)), _ = whole_and_tiled_gradients
    assert len(tiled_costs) == 5  # J, J_content, J_style, J_tv, J_temporal
    assert np.allclose(tiled_costs, costs, rtol=1e-4)
    error = np.linalg.norm(tiled_gradient - gradient) / np.linalg.norm(gradient)
    assert error < 1e-2


def test_the_total_variation_in_numpy_is_tensorflows_cost_and_gradient(monkeypatch):
    """nst.tiled_costs.total_variation (summed in bands, here of 1,000 values) against
    nst.costs.total_variation_cost and TensorFlow's gradient of it."""
    monkeypatch.setattr(nst.tiled_costs, "BAND_VALUES", 1000)
    image = np.random.default_rng(5).uniform(-100, 100, (1, 37, 53, 3)).astype(np.float32)
    with tf1.Graph().as_default(), tf1.Session() as sess:
        x = tf1.constant(image)
        J = total_variation_cost(x)
        expected_cost, expected_gradient = sess.run([J, tf1.gradients(J, x)[0]])
    gradient = np.ones_like(image)
    cost = nst.tiled_costs.total_variation(image, gradient, weight=0.5)
    assert cost == pytest.approx(expected_cost, rel=1e-6)
    np.testing.assert_allclose(gradient, 1 + 0.5 * expected_gradient, rtol=1e-5, atol=1e-3)
    assert nst.tiled_costs.total_variation(image) == cost


def border_ratio(gradient: np.ndarray, tiles: list) -> float:
    """The mean |dJ/dx| on the pixels next to the borders between the tiles' cores (the two
    lines of pixels on either side of each), over its mean elsewhere."""
    magnitude = np.abs(gradient[0]).sum(axis=-1)
    near = np.zeros(magnitude.shape, bool)
    for tile in tiles:
        if tile.columns.start > 0:
            near[:, tile.columns.start - 2 : tile.columns.start + 2] = True
        if tile.rows.start > 0:
            near[tile.rows.start - 2 : tile.rows.start + 2, :] = True
    return magnitude[near].mean() / magnitude[~near].mean()


def test_the_gradient_is_no_larger_along_tile_borders_than_elsewhere(whole_and_tiled_gradients):
    ((_, gradient), (_, tiled_gradient)), tiles = whole_and_tiled_gradients
    assert border_ratio(tiled_gradient, tiles) <= 1.01 * border_ratio(gradient, tiles)


# 3. Memory


PEAK = """
import json, sys
sys.path[:0] = [{root!r}, {tests!r}]
from matconvnet_files import VGG16_BLOCKS, random_kernels
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


def test_a_tiled_runs_memory_grows_with_the_image_far_less_than_the_whole_images():
    """From 240x176 to 960x720 pixels, with the costs on conv1_1, conv2_1 and conv2_2 (the
    widest layers, which hold two thirds of the activations up to conv5_1 for a quarter of the
    computation), nst.memory's estimate of the whole image's peak grows by its network's
    activations, 2.80 GB (22.5 bytes per value, 192 values per pixel up to conv2_2); with
    --tile 256 (which paints 240x176 in one piece and 960x720 in 12 tiles) only by the whole
    image's own arrays and a larger piece (240x176, then windows of 336x336 pixels), 0.21 GB:
    7.4% of the whole image's growth (measured on a loaded Zen 3: 3.08 and 0.165 GiB, 5.4%,
    as with --tile 128, whose 35 windows take longer to paint). Growths of
    runs in one session, so what differs between CPU kinds and machines (oneDNN or Eigen
    kernels, TensorFlow's own memory) cancels out. A quarter leaves room for the noise of a
    peak: a CI run measured a tiled growth of 0.30 GiB from 240x176 to 640x480, where this
    machine measures 0.12 GiB, which the whole image's growth to 960x720 (not to 640x480,
    1.3 GiB) takes with room to spare. At 240x176 the run with --tile 256 is the run without
    it (one piece), so both growths start from one measured peak."""
    wide = {"style_layers": [("conv1_1", 0.5), ("conv2_1", 0.5)], "content_layer": "conv2_2"}
    settings = CAT_AND_STONE.replace(iterations=1, save_every=1, **wide)
    small = peak_bytes(settings.replace(width=240, height=176))
    whole = peak_bytes(settings.replace(width=960, height=720))
    tiled = peak_bytes(settings.replace(tile=256, width=960, height=720))
    print(f"peaks: at 240x176 {small / GIB:.3f} GiB, at 960x720 whole {whole / GIB:.3f} GiB, "
          f"in tiles {tiled / GIB:.3f} GiB")  # fmt: skip
    assert tiled - small < (whole - small) / 4


# 4. Every option in tiles

OPTIONS = {
    "L-BFGS": {"optimizer": "lbfgs"},
    "coarse-to-fine": {"coarse_levels": 1, "coarse_iterations": 2, "adam_warm_start": True},
    "two styles, the content's colours, total variation, averaged iterates, Wasserstein": {
        "styles": (IMAGES / "stone.jpg", IMAGES / "starry_night.jpg"),
        "style_blend_weights": (2.0, 1.0),
        "preserve_colors": True,
        "tv_weight": 1e-3,
        "average": 0.9,
        "style_loss": "wasserstein",
    },
}


@pytest.mark.parametrize("option", OPTIONS)
def test_each_option_paints_in_tiles_what_it_paints_whole(option, kernels):
    """The tiled run's last picture and its costs (of the whole image) are the untiled run's
    but for the rounding of sums taken in another order: the same objective, optimized from
    the same start (measured after 4 iterations: costs within 0.1%, pictures 0.05 levels apart
    on average). Two iterations, the second from what the first made of the tiled gradient;
    with coarse-to-fine three, the third at full size after two at half."""
    iterations = 3 if "coarse_levels" in OPTIONS[option] else 2
    settings = CAT_AND_STONE.replace(
        width=272, height=272, iterations=iterations, save_every=2, **OPTIONS[option]
    )  # in tiles of 128: 2 x 2 windows of 208 x 208 pixels
    whole = list(stylize(settings, kernels=kernels))
    tiled = list(stylize(settings.replace(tile=128), kernels=kernels))
    assert [step.i for step in tiled] == [step.i for step in whole] == list(range(iterations))
    assert [step.costs is None for step in tiled] == [step.costs is None for step in whole]
    assert tiled[-1].costs.keys() == whole[-1].costs.keys()
    for name, value in whole[-1].costs.items():
        assert tiled[-1].costs[name] == pytest.approx(value, rel=0.005), name
    assert np.abs(tiled[-1].image.astype(int) - whole[-1].image).mean() < 0.25


# 5. The command line: --resume, the automatic choice, bad values


def tiled_run(images, weights, output, iterations, *more) -> list:
    content, style = images
    return [content, style, "--weights", weights, "--width", 272, "--height", 272,
            "--iterations", iterations, "--save-every", 1, "--seed", 3,
            "--output-dir", output, *more]  # fmt: skip


class TilesCounted:
    """Counts the tiles placed into the network and, at the `nth` tile of the passes of
    iteration `at`, sends this process SIGINT (as Ctrl-C does): `after` counts the tiles
    placed after it (the one under way when it came not counted)."""

    def __init__(self, monkeypatch, at: int, nth: int):
        self.at, self.nth, self.placed, self.after, self.i = at, nth, 0, None, None
        place, evaluate = (
            nst.tiled_costs.TileNetwork.place,
            nst.tiled_costs.TiledCosts.cost_and_gradient,
        )

        def counted_place(net, *args):
            if self.after is not None:
                self.after += 1
            elif self.i == self.at:
                self.placed += 1
                if self.placed == self.nth:
                    self.after = 0
                    os.kill(os.getpid(), signal.SIGINT)
            return place(net, *args)

        def noted_evaluation(costs, image, i):
            self.i = i
            return evaluate(costs, image, i)

        monkeypatch.setattr(nst.tiled_costs.TileNetwork, "place", counted_place)
        monkeypatch.setattr(nst.tiled_costs.TiledCosts, "cost_and_gradient", noted_evaluation)


def checkpoint_arrays(folder: Path) -> dict:
    with np.load(folder / "checkpoint.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_ctrl_c_during_a_tile_pass_stops_it_at_the_next_tile_and_keeps_the_last_iteration(
    optimizer, tiny_images, vgg19_mat, tmp_path, monkeypatch, capsys
):
    """Ctrl-C at the second of 4 tiles of iteration 1's first pass: no tile starts after the
    one under way (with L-BFGS-B, whose evaluations run in its worker thread, at most one,
    started before the main thread's handler noted the signal); the run keeps iteration 0
    and exits with 130, and --resume paints iteration 1 as a run without the signal does
    (for L-BFGS-B, which starts afresh on --resume, one stopped after iteration 0 and
    resumed)."""
    shallow = ["--tile", 128, "--style-layers", "conv1_1,conv2_1", "--content-layer", "conv2_2",
               "--optimizer", optimizer]  # fmt: skip
    stopped, straight = tmp_path / "stopped", tmp_path / "straight"
    tiles = TilesCounted(monkeypatch, at=1, nth=2)
    assert run_cli(*tiled_run(tiny_images, vgg19_mat, stopped, 2, *shallow)) == 130
    assert tiles.after <= (1 if optimizer == "lbfgs" else 0)
    err = capsys.readouterr().err
    assert "interrupted after iteration 0" in err and err.strip().count("\n") == 0
    manifest = json.loads((stopped / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "interrupted" and manifest["settings"]["tile"] == 128
    assert int(checkpoint_arrays(stopped)["i"]) == 0

    monkeypatch.undo()
    assert run_cli("--resume", stopped, "--iterations", 2) == 0
    first = 2 if optimizer == "adam" else 1
    assert run_cli(*tiled_run(tiny_images, vgg19_mat, straight, first, *shallow)) == 0
    if first < 2:
        assert run_cli("--resume", straight, "--iterations", 2) == 0
    resumed, expected = checkpoint_arrays(stopped), checkpoint_arrays(straight)
    assert int(resumed["i"]) == 1 and resumed.keys() == expected.keys()
    for key, value in expected.items():
        assert np.array_equal(resumed[key], value), key


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
