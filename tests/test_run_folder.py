"""The run folder: what a run leaves behind, and how a stopped run is continued.

Every run of neural_art.py writes into its --output-dir:

- manifest.json, which records the run completely: its status ("running",
  "finished", "interrupted", "failed"), every setting (paths made absolute),
  the seed (a fresh one, recorded, when --seed is not given), the weights
  file's SHA-256, the library versions, the costs and elapsed time at each
  checkpoint, timings, and the list of files the run made;
- checkpoint.npz, the latest image and Adam's state, from which --resume
  continues exactly where the run stopped;
- the saved iterates <i>.png, generated_image.jpg and, at the end, costs.png,
  contact_sheet.png, progress.gif and side_by_side.png.

Ctrl-C (exit status 130) and SIGTERM (143) keep the latest image and
checkpoint; a cost that overflows stops the run (exit status 2) with one line
naming --learning-rate and keeps the last good image. --show-preset prints a
preset's settings as JSON, and options that contradict each other are refused
with one line and exit status 2 before any work starts.
"""

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy
import tensorflow as tf
from cli_runs import COST_BLOCK, run_cli
from PIL import Image

import nst.cpu_kernels
import nst.run.folder
import nst.run.painting
from nst.cli.main import parse_args
from nst.progress import StatusLine
from nst.settings import Settings
from nst.stopping import StopRequests, Terminated, stoppable

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("weights_read_once")  # see conftest.py
PICTURES = ["costs.png", "contact_sheet.png", "progress.gif", "side_by_side.png"]
EIGHT_LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv3_4", "conv4_1", "conv5_1", "conv5_2",
                "conv5_4"]  # fmt: skip


def small_run(content, style, weights, output, iterations=6, seed=None) -> list:
    """Arguments of a run on a 32x24 image saving every 2nd iterate; no --seed when seed=None."""
    seed_option = [] if seed is None else ["--seed", seed]
    return [content, style, "--weights", weights, "--width", 32, "--height", 24,
            "--iterations", iterations, "--save-every", 2, *seed_option,
            "--output-dir", output]  # fmt: skip


@pytest.fixture
def run_args(tiny_images, vgg19_mat, tmp_path):
    """Arguments of a small run into tmp_path / output."""
    content, style = tiny_images

    def args(output="out", iterations=6, seed=1):
        return small_run(content, style, vgg19_mat, tmp_path / output, iterations, seed)

    return args


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def one_line(err: str) -> bool:
    """stderr holds one line of text (an interrupted run starts with an empty one)."""
    return err.endswith("\n") and err.strip().count("\n") == 0 and "Traceback" not in err


@dataclasses.dataclass(frozen=True)
class FinishedRun:
    folder: Path
    stdout: str
    content: Path
    style: Path
    weights: Path


@pytest.fixture(scope="module")
def finished(tiny_images, vgg19_mat, tmp_path_factory, read_weights_once):
    """A finished run of 6 iterations saving every 2nd, without --seed, given relative paths."""
    content, style = tiny_images
    base = tmp_path_factory.mktemp("finished")
    relative = [os.path.relpath(p, base) for p in (content, style, vgg19_mat)]
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(stdout):
        mp.chdir(base)
        read_weights_once(mp)
        assert run_cli(*small_run(*relative, "run")) == 0
    return FinishedRun(base / "run", stdout.getvalue(), content, style, vgg19_mat)


# 1. The manifest of a finished run


def test_a_finished_runs_manifest_says_finished_and_holds_every_setting_with_absolute_paths(
    finished,
):
    m = manifest(finished.folder)
    assert m["status"] == "finished"
    settings = m["settings"]
    assert set(settings) == {field.name for field in dataclasses.fields(Settings)}
    assert (settings["width"], settings["height"]) == (32, 24)
    assert (settings["iterations"], settings["save_every"]) == (6, 2)
    recorded = {
        "content": (settings["content"], finished.content),
        "style": (settings["styles"][0], finished.style),
        "weights": (settings["weights"], finished.weights),
        "output_dir": (settings["output_dir"], finished.folder),
    }
    for name, (path, expected) in recorded.items():
        assert Path(path).is_absolute(), name
        assert Path(path).resolve() == expected.resolve(), name
    assert len(settings["styles"]) == 1


def test_the_seed_is_recorded_and_a_run_without_seed_gets_a_fresh_one_that_repeats_it(
    finished, run_args, tmp_path
):
    seed = manifest(finished.folder)["seed"]
    assert isinstance(seed, int) and 0 <= seed < 2**32
    assert manifest(finished.folder)["settings"]["seed"] == seed

    assert run_cli(*run_args(output="another", seed=None)) == 0
    assert manifest(tmp_path / "another")["seed"] != seed

    assert run_cli(*run_args(output="repeated", seed=seed)) == 0
    repeated = (tmp_path / "repeated" / "generated_image.jpg").read_bytes()
    assert repeated == (finished.folder / "generated_image.jpg").read_bytes()


def test_the_manifest_records_the_command_line_as_given(finished, tiny_images, vgg19_mat):
    command = manifest(finished.folder)["command"]
    assert command[0] == "neural_art.py"
    assert command[1:] == [
        str(a)
        for a in small_run(
            *(os.path.relpath(p, finished.folder.parent) for p in (*tiny_images, vgg19_mat)), "run"
        )
    ]


def test_the_manifest_records_the_weights_checksum_and_the_library_versions(finished):
    m = manifest(finished.folder)
    assert m["weights"]["sha256"] == hashlib.sha256(finished.weights.read_bytes()).hexdigest()
    versions = m["versions"]
    assert versions["python"] == platform.python_version()
    assert versions["tensorflow"] == tf.__version__
    assert versions["numpy"] == np.__version__
    assert versions["scipy"] == scipy.__version__


def test_the_manifest_has_a_checkpoint_with_the_printed_costs_for_each_saved_and_the_last_iterate(
    finished,
):
    checkpoints = manifest(finished.folder)["checkpoints"]
    assert [c["iteration"] for c in checkpoints] == [0, 2, 4, 5]
    assert [c.get("file") for c in checkpoints[:3]] == ["0.png", "2.png", "4.png"]

    printed = COST_BLOCK.findall(finished.stdout)
    assert [int(block[0]) for block in printed] == [0, 2, 4]
    for checkpoint, (_, total, content, style) in zip(checkpoints, printed, strict=False):
        printed_costs = {"total": total, "content": content, "style": style}
        expected = {name: float(np.float32(text)) for name, text in printed_costs.items()}
        assert checkpoint["costs"] == expected  # the same float32s

    final = checkpoints[-1]["costs"]
    assert set(final) == {"total", "content", "style"}
    assert all(np.isfinite(value) and value > 0 for value in final.values())

    elapsed = [c["elapsed_seconds"] for c in checkpoints]
    assert elapsed[0] > 0 and elapsed == sorted(elapsed)


def test_the_manifest_points_at_the_checkpoint_of_the_last_iterate(finished):
    assert manifest(finished.folder)["last_checkpoint"] == {
        "iteration": 5,
        "file": "checkpoint.npz",
    }
    with np.load(finished.folder / "checkpoint.npz", allow_pickle=False) as data:
        assert int(data["i"]) == 5
        assert data["image"].shape == (1, 24, 32, 3)
        assert np.isfinite(data["image"]).all()


def test_the_manifest_records_positive_timings(finished):
    timings = manifest(finished.folder)["timings"]
    for key in ("until_first_iteration_seconds", "seconds_per_iteration", "run_seconds"):
        assert timings[key] > 0, key


def test_the_first_iterations_time_is_the_one_its_manifest_entry_records(finished):
    """Both count from the same moment, the run folder's making."""
    recorded = manifest(finished.folder)
    first = recorded["checkpoints"][0]
    assert first["iteration"] == 0
    assert recorded["timings"]["until_first_iteration_seconds"] == first["elapsed_seconds"]


def test_the_manifest_lists_exactly_the_files_of_the_run_but_itself_and_the_checkpoint(finished):
    files = manifest(finished.folder)["files"]
    present = sorted(p.name for p in finished.folder.iterdir())
    assert sorted(files) == sorted(set(present) - {"manifest.json", "checkpoint.npz"})
    assert sorted(files) == sorted(["0.png", "2.png", "4.png", "generated_image.jpg", *PICTURES])


# 2. The pictures at the end of a run


def test_a_finished_run_leaves_pictures_that_open(finished):
    for name in PICTURES:
        with Image.open(finished.folder / name) as picture:
            picture.load()
            assert picture.width > 0 and picture.height > 0, name


def test_the_animation_has_a_frame_per_saved_iterate_and_one_for_the_result(finished):
    with Image.open(finished.folder / "progress.gif") as gif:
        assert gif.n_frames == 4  # 0.png, 2.png, 4.png and iterate 5, all different
        assert gif.width == 32 and gif.height > 24  # each frame's label is under it


@pytest.fixture(scope="module")
def five_iterations(tiny_images, vgg19_mat, tmp_path_factory, read_weights_once):
    """A run of 5 iterations saving every 2nd (seed 1), with the paths of the images it
    decoded (nst.images.read_rgb_alpha, read_rgb's decoder, which also gives the alpha)."""
    import nst.images

    folder = tmp_path_factory.mktemp("five") / "out"
    read = []
    original = nst.images.read_rgb_alpha

    def counted(path):
        read.append(Path(path).resolve())
        return original(path)

    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()):
        patch.setattr(nst.images, "read_rgb_alpha", counted)
        read_weights_once(patch)
        assert run_cli(*small_run(*tiny_images, vgg19_mat, folder, iterations=5, seed=1)) == 0
    return SimpleNamespace(folder=folder, read=read)


def test_a_last_iterate_that_was_saved_is_shown_once_as_the_result(five_iterations):
    # 5 iterations save 0, 2, 4; 4 is the result
    with Image.open(five_iterations.folder / "progress.gif") as gif:
        assert gif.n_frames == 3


def test_the_run_says_where_and_how_it_computes(finished):
    lines = [line for line in finished.stdout.splitlines() if line.startswith("Computing on ")]
    assert len(lines) == 1 and lines[0].endswith("in float32")


def test_a_run_decodes_each_of_its_images_once(five_iterations, tiny_images):
    folder = five_iterations.folder.resolve()
    inputs_read = [p for p in five_iterations.read if p.parent != folder]  # not iterates
    assert sorted(inputs_read) == sorted(Path(p).resolve() for p in tiny_images)


@pytest.fixture(scope="module")
def recorded(tiny_images, vgg19_mat, tmp_path_factory, read_weights_once):
    """A run of 6 iterations saving every 2nd (seed 1) that hands its cost plot's data to a
    recorder instead of drawing costs.png, and whose status line records the total it shows
    after each iteration: what it printed, the plot's data and the totals shown."""
    plotted, shown = {}, {}

    def record_plot(path, iterations, costs):
        plotted.update(iterations=iterations, costs=costs)

    class RecordedStatus(StatusLine):
        def update(self, done, cost=None):
            shown[done - 1] = cost  # the status after iteration done - 1
            super().update(done, cost)

    folder = tmp_path_factory.mktemp("recorded") / "out"
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(io.StringIO()) as out,
    ):
        patch.setattr(nst.run.folder, "plot_costs", record_plot)
        patch.setattr(nst.run.painting, "StatusLine", RecordedStatus)
        read_weights_once(patch)
        assert run_cli(*small_run(*tiny_images, vgg19_mat, folder, iterations=6, seed=1)) == 0
    return SimpleNamespace(out=out.getvalue(), plotted=plotted, shown=shown)


def test_costs_png_plots_the_total_cost_of_every_iteration(recorded):
    plotted = recorded.plotted  # the run prints and saves 0, 2 and 4 only
    assert plotted["iterations"] == [0, 1, 2, 3, 4, 5]
    totals = plotted["costs"]["total"]
    assert all(np.isfinite(totals))
    for i, J, content, style in COST_BLOCK.findall(recorded.out):
        assert totals[int(i)] == pytest.approx(float(J), rel=1e-6)
        assert plotted["costs"]["content"][int(i)] == pytest.approx(float(content), rel=1e-6)
        assert plotted["costs"]["style"][int(i)] == pytest.approx(float(style), rel=1e-6)
    assert np.isnan(plotted["costs"]["style"][1])  # the parts are known where saved


def test_costs_are_printed_as_the_assignment_printed_its_float32_costs(finished):
    """The session's costs are float32; the assignment printed them with str(), so 5.05e+09,
    not the float64 digits of the same number (5050000384.0)."""
    saved = {c["iteration"]: c["costs"] for c in manifest(finished.folder)["checkpoints"]}
    blocks = COST_BLOCK.findall(finished.stdout)
    assert blocks
    for i, *printed in blocks:
        costs = saved[int(i)]
        expected = [str(np.float32(costs[name])) for name in ("total", "content", "style")]
        assert printed == expected


def test_the_status_line_shows_at_a_saved_iteration_the_total_printed_there(recorded):
    blocks = COST_BLOCK.findall(recorded.out)
    assert [int(i) for i, *_ in blocks] == [0, 2, 4]
    for i, J, _, _ in blocks:
        assert recorded.shown[int(i)] == pytest.approx(float(J), rel=1e-6)


def test_the_costs_of_a_saved_iteration_come_before_its_status_line(run_args, monkeypatch, capsys):
    """As when an iteration took longer than the quiet time: the plain status line printed at
    every update (iteration i + 1 done) follows iteration i's cost lines, never precedes them."""

    class Talkative(StatusLine):
        def __init__(self, total, first=0, **options):
            super().__init__(total, first, io.StringIO(), sys.stdout, 0, **options)

    monkeypatch.setattr(nst.run.painting, "StatusLine", Talkative)
    assert run_cli(*run_args(iterations=6)) == 0
    out = capsys.readouterr().out
    blocks = [int(i) for i, *_ in COST_BLOCK.findall(out)]
    assert blocks == [0, 2, 4]
    for i in blocks:
        assert out.index(f"Iteration {i} :") < out.index(f"iteration {i + 1}/6, J ")


def test_the_status_line_weighs_each_iteration_by_its_size_level(run_args, monkeypatch):
    """--schedule 2,4 on 32x24 pixels: two iterations at 16x12, then four at 32x24."""
    weights = []

    class Recorded(StatusLine):
        def __init__(self, total, first=0, **options):
            weights.extend(options["weights"])
            super().__init__(total, first, io.StringIO(), io.StringIO(), **options)

    monkeypatch.setattr(nst.run.painting, "StatusLine", Recorded)
    args = run_args()
    at = args.index("--iterations")
    del args[at : at + 2]  # --schedule names them
    assert run_cli(*args, "--schedule", "2,4", "--level-ratio", 2) == 0
    assert weights == [16 * 12] * 2 + [32 * 24] * 4


# 3. --resume


@pytest.fixture(scope="module")
def four_iterations(tiny_images, vgg19_mat, tmp_path_factory, read_weights_once):
    """The folder of a finished run of 4 iterations saving every 2nd, --seed 5."""
    folder = tmp_path_factory.mktemp("four") / "out"
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()):
        read_weights_once(patch)
        assert run_cli(*small_run(*tiny_images, vgg19_mat, folder, iterations=4, seed=5)) == 0
    return folder


def test_a_resumed_run_ends_bit_for_bit_where_an_uninterrupted_one_does(
    four_iterations, run_args, tmp_path, capsys
):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert run_cli(*run_args(output="straight", iterations=6, seed=5)) == 0
    shutil.copytree(four_iterations, resumed)  # a run of 4 iterations with --seed 5
    capsys.readouterr()
    assert run_cli("--resume", resumed, "--iterations", 6) == 0
    assert (
        f"6 iterations, continuing from iteration 4, images to {resumed}" in capsys.readouterr().out
    )

    final = "generated_image.jpg"
    assert (resumed / final).read_bytes() == (straight / final).read_bytes()
    with (
        np.load(straight / "checkpoint.npz", allow_pickle=False) as a,
        np.load(resumed / "checkpoint.npz", allow_pickle=False) as b,
    ):
        assert sorted(a.files) == sorted(b.files)
        assert int(b["i"]) == 5
        for key in a.files:
            assert np.array_equal(a[key], b[key]), key

    m = manifest(resumed)
    assert m["status"] == "finished"
    assert m["resumed"] == [3]
    assert [c["iteration"] for c in m["checkpoints"]] == [0, 2, 3, 4, 5]
    assert m["settings"]["iterations"] == 6
    straight_costs = {c["iteration"]: c["costs"] for c in manifest(straight)["checkpoints"]}
    for c in m["checkpoints"][-2:]:
        assert c["costs"] == straight_costs[c["iteration"]]
    assert sorted(m["files"]) == sorted(manifest(straight)["files"])
    with Image.open(resumed / "progress.gif") as gif:
        assert gif.n_frames == 4


def test_resume_removes_the_half_written_file_of_a_killed_run(four_iterations, tmp_path):
    """A run killed while writing leaves atomic_path's hidden temporary file; --resume, holding
    the folder's lock, deletes it and keeps everything else."""
    folder = tmp_path / "killed"
    shutil.copytree(four_iterations, folder)  # a run of 4 iterations with --seed 5
    leftover = folder / ".3.png.x1y2z3.part"
    leftover.write_bytes(b"\x89PNG half")
    kept = sorted(p.name for p in folder.iterdir() if p != leftover)
    assert run_cli("--resume", folder, "--iterations", 5) == 0
    assert not leftover.exists()
    assert set(kept) <= {p.name for p in folder.iterdir()}


def test_resuming_a_finished_run_needs_more_iterations(finished, capsys):
    before = (finished.folder / "manifest.json").read_bytes()
    assert run_cli("--resume", finished.folder) == 2
    err = capsys.readouterr().err
    assert one_line(err)
    assert "already did its 6 iterations" in err and "--iterations" in err
    assert (finished.folder / "manifest.json").read_bytes() == before


def test_resume_refuses_a_folder_without_manifest(tmp_path, capsys):
    assert run_cli("--resume", tmp_path) == 2
    err = capsys.readouterr().err
    assert one_line(err)
    assert f"--resume {tmp_path}: no manifest.json there" in err


def test_resume_refuses_other_setting_options_naming_them(finished, capsys):
    assert run_cli("--resume", finished.folder, "--iterations", 8, "--alpha", 3) == 2
    err = capsys.readouterr().err
    assert one_line(err)
    assert "not --alpha" in err


# 4. Ctrl-C and SIGTERM


@contextlib.contextmanager
def sigint_reaches_children():
    """A child inherits an ignored SIGINT (as under nohup) but not a handled one."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def wait_for_checkpoints(process: subprocess.Popen, folder: Path, count: int) -> None:
    """Poll manifest.json until it lists `count` checkpoints; fails if the run ends first.
    The deadline only keeps a hanging run from hanging the tests."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if len(manifest(folder)["checkpoints"]) >= count:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"no {count} checkpoints in {folder} after 300 s")


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_run_keeps_its_image_and_checkpoint_and_can_be_resumed(
    signum, status, tiny_images, vgg19_mat, tmp_path
):
    content, style = tiny_images
    out = tmp_path / "run"
    command = [sys.executable, "neural_art.py", content, style, "--weights", vgg19_mat,
               "--iterations", 400, "--save-every", 1, "--width", 32, "--height", 24,
               "--output-dir", out]  # fmt: skip
    with sigint_reaches_children():
        process = subprocess.Popen(
            [str(a) for a in command],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        wait_for_checkpoints(process, out, 2)
        process.send_signal(signum)
        _, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == status
    assert one_line(err), err
    assert "interrupted" in err and f"--resume {out}" in err

    m = manifest(out)
    assert m["status"] == "interrupted"
    last = m["last_checkpoint"]["iteration"]
    assert last >= 1
    assert f"{out / f'{last}.png'}" in err
    assert [c["iteration"] for c in m["checkpoints"]] == list(range(last + 1))
    with Image.open(out / f"{last}.png") as image:
        assert image.size == (32, 24)
    with np.load(out / "checkpoint.npz", allow_pickle=False) as data:
        assert int(data["i"]) == last
        assert np.isfinite(data["image"]).all()
    assert [p.name for p in out.iterdir() if p.name.endswith(".part")] == []

    assert run_cli("--resume", out, "--iterations", last + 3) == 0
    m = manifest(out)
    assert m["status"] == "finished"
    assert m["resumed"] == [last]
    assert [c["iteration"] for c in m["checkpoints"]] == list(range(last + 3))
    assert (out / "generated_image.jpg").is_file()


def test_a_closed_standard_output_stops_the_run_as_ctrl_c_does(tiny_images, vgg19_mat, tmp_path):
    """`neural_art.py ... | head`: when the reader of the cost lines goes away, the run keeps
    its latest iterate, says in one line on stderr how to continue, and ends with status 1
    (before, it printed a traceback and hung while TensorFlow's session closed at exit)."""
    content, style = tiny_images
    out = tmp_path / "run"
    command = [sys.executable, "neural_art.py", content, style, "--weights", vgg19_mat,
               "--iterations", 400, "--save-every", 1, "--width", 32, "--height", 24,
               "--output-dir", out]  # fmt: skip
    process = subprocess.Popen([str(a) for a in command], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        while not process.stdout.readline().startswith("Iteration 1 "):
            pass
        process.stdout.close()  # as `head` does once it has its lines
        err = process.stderr.read()
        process.wait(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1
    assert one_line(err), err
    assert "standard output was closed; interrupted after iteration" in err
    assert f"--resume {out}" in err
    m = manifest(out)
    assert m["status"] == "interrupted"
    assert m["last_checkpoint"]["iteration"] >= 1


def test_ctrl_c_before_the_run_has_anything_to_say_is_told_as_interrupted(capsys):
    def starting(stop: StopRequests) -> int:
        raise KeyboardInterrupt  # Ctrl-C while the work starts: no message of its own

    assert stoppable(starting) == 130
    assert capsys.readouterr().err == "\nneural_art.py: interrupted\n"


def test_ctrl_c_before_a_runner_handles_it_ends_in_one_line_with_status_130(
    tiny_images, monkeypatch, capsys
):
    """Ctrl-C in the first moments (Ray or TensorFlow loading, before a runner's handler):
    one line and 130, not a traceback."""
    import neural_art

    def starting(job) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(neural_art, "run_job", starting)
    monkeypatch.setattr(nst.cpu_kernels, "choose_cpu_kernels", lambda: None)  # env unchanged
    assert neural_art.main([str(path) for path in tiny_images]) == 130
    assert capsys.readouterr().err == "\nneural_art.py: interrupted\n"


def test_a_signal_during_the_loop_stops_it_after_the_iteration_and_a_second_one_at_once():
    stop = StopRequests()
    with pytest.raises(KeyboardInterrupt):  # before the loop: at once
        stop(signal.SIGINT, None)
    stop.in_loop = True
    stop.check()  # nothing asked yet
    stop(signal.SIGTERM, None)  # noted, not raised where it lands
    with pytest.raises(Terminated):
        stop.check()
    with pytest.raises(KeyboardInterrupt):  # a second signal does not wait
        stop(signal.SIGINT, None)


# 5. A cost that overflows


def test_an_overflowing_cost_stops_the_run_with_one_line_and_keeps_the_last_good_image(
    run_args, tmp_path, capsys
):
    # Steps of 1e6 on 0..255 pixels make the activations, and so the costs weighted 1e12,
    # outgrow float32 within a few iterations.
    huge = ["--learning-rate", "1e6", "--alpha", "1e12", "--beta", "1e12"]
    assert run_cli(*run_args(iterations=20), *huge) == 2
    err = capsys.readouterr().err
    assert one_line(err)
    assert "infinite or NaN" in err and "--learning-rate" in err

    out = tmp_path / "out"
    m = manifest(out)
    assert m["status"] == "failed"
    assert "--learning-rate" in m["message"]

    named = re.search(r"the last image with finite costs is (\S+\.png)", err)
    assert named, err
    image = Path(named.group(1))
    assert image.parent == out and image.is_file()
    with Image.open(image) as picture:
        assert picture.size == (32, 24)
    last = m["last_checkpoint"]["iteration"]
    assert image.name == f"{last}.png"
    assert last < 19  # it stopped early
    with np.load(out / "checkpoint.npz", allow_pickle=False) as data:
        assert int(data["i"]) == last
        assert np.isfinite(data["image"]).all()


# 6. --show-preset


def shown(capsys, *argv) -> dict:
    assert run_cli(*argv, "--show-preset") == 0
    return json.loads(capsys.readouterr().out)


def test_show_preset_prints_the_tf2_presets_settings_as_json(capsys):
    settings = shown(capsys, "--preset", "tf2")
    expected = {"width": 400, "height": 400, "pixels": "unit", "pooling": "max",
                "content_layer": "conv5_4", "learning_rate": 0.01, "clip": True,
                "iterations": 1000, "save_every": 100, "preset": "tf2"}  # fmt: skip
    assert {name: settings[name] for name in expected} == expected


def test_show_preset_prints_the_eight_presets_eight_style_layers(capsys):
    settings = shown(capsys, "--preset", "eight")
    assert settings["style_layers"] == [[name, 0.125] for name in EIGHT_LAYERS]


def test_an_option_given_overrides_the_preset(capsys):
    assert shown(capsys, "--preset", "tf2", "--iterations", 5)["iterations"] == 5
    assert shown(capsys, "--preset", "tf2")["iterations"] == 1000


def test_the_quality_preset_paints_1024_pixels_with_lbfgs_from_128_pixels_up(capsys):
    settings = shown(capsys, "--preset", "quality")
    expected = {"size": 1024, "optimizer": "lbfgs", "style_loss": "wasserstein",
                "schedule": [100, 60, 40, 20], "level_ratio": 2.0, "iterations": 220,
                "coarse_levels": 3, "init": "content", "clip": True}  # fmt: skip
    assert {name: settings[name] for name in expected} == expected
    assert [w for _, w in settings["style_layers"]] == pytest.approx(
        [256 / 341, 64 / 341, 16 / 341, 4 / 341, 1 / 341]
    )


def test_the_crowsonkb_preset_averages_adam_steps_from_128_pixels_up_in_steps_of_root_2(capsys):
    settings = shown(capsys, "--preset", "crowsonkb")
    expected = {"size": 512, "optimizer": "adam", "learning_rate": 5.1, "adam_beta2": 0.99,
                "adam_warm_start": True, "average": 0.99, "schedule": [1000, 500, 500, 500, 500],
                "style_loss": "wasserstein", "clip": True}  # fmt: skip
    assert {name: settings[name] for name in expected} == expected
    assert settings["level_ratio"] == pytest.approx(2**0.5)


def test_iterations_or_a_width_and_height_replace_a_presets_schedule_or_size(capsys):
    settings = shown(capsys, "--preset", "quality", "--iterations", 50)
    assert (settings["schedule"], settings["iterations"], settings["coarse_levels"]) == (
        None, 50, 0,
    )  # fmt: skip
    settings = shown(capsys, "--preset", "quality", "--width", 64, "--height", 48)
    assert (settings["size"], settings["width"], settings["height"]) == (None, 64, 48)
    assert shown(capsys, "--preset", "quality", "--schedule", "5,4")["iterations"] == 9


# 7. Options that contradict each other


BAD_COMBINATIONS = [
    (["--size", "40"], "give --size, or --width and --height, not both"),
    (["--style-blend-weights", "1,2"],
     "--style-blend-weights: must hold one weight per style image, not 2 for 1"),
    (["--init", "{tmp}/missing.png"], "--init: must be one of noise, content, style, random, "
     "jitter, or an image file's path, not '{tmp}/missing.png'"),
    (["--style-scale", "0"], "--style-scale: must be a number > 0"),
    (["--schedule", "3,2"], "--schedule names every size's iterations; leave out --iterations"),
    (["--schedule", ",".join(["1"] * 10)], "--schedule: 10 sizes are more than the 9"),
]  # fmt: skip


@pytest.mark.parametrize(("options", "message"), BAD_COMBINATIONS)
def test_bad_combinations_are_refused_in_one_line_before_any_work(
    options, message, run_args, tmp_path, capsys
):
    options = [option.format(tmp=tmp_path) for option in options]
    assert run_cli(*run_args(), *options) == 2
    err = capsys.readouterr().err
    assert one_line(err)
    assert message.format(tmp=tmp_path) in err
    assert not (tmp_path / "out").exists()


def test_a_schedule_sets_the_runs_iterations_and_coarse_sizes(tiny_images, capsys):
    assert run_cli(*tiny_images, "--schedule", "30,20,10", "--show-preset") == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["schedule"], shown["iterations"], shown["coarse_levels"]) == ([30, 20, 10], 60, 2)


def test_a_run_that_settles_ends_early_and_says_so(run_args, tmp_path, capsys):
    settle = ["--learning-rate", "1e-6", "--tolerance", "0.01"]  # J hardly moves
    assert run_cli(*run_args(iterations=30), *settle) == 0
    assert "Ended after iteration 10 of 30: the total cost settled" in capsys.readouterr().out
    assert manifest(tmp_path / "out")["status"] == "finished"


def test_lbfgs_with_the_tf2_preset_keeps_its_clipping_as_bounds():
    command = parse_args(["c.png", "s.png", "--preset", "tf2", "--optimizer", "lbfgs"])
    assert command.settings.optimizer == "lbfgs"
    assert command.settings.clip is True


def test_ctrl_c_while_the_result_is_written_lets_the_run_finish_with_it(
    run_args, tmp_path, monkeypatch, capsys
):
    """Once the last iteration is done, a signal no longer stops the run: it would leave the
    iterations done and no result, which --resume could not give without more iterations."""
    write_result = nst.run.folder.RunFolder.write_result

    def interrupted_midway(self, *args):
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C while the pictures are made
        return write_result(self, *args)

    monkeypatch.setattr(nst.run.folder.RunFolder, "write_result", interrupted_midway)
    assert run_cli(*run_args(iterations=2)) == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert (tmp_path / "out" / "generated_image.jpg").is_file()
    assert "interrupted" not in capsys.readouterr().err
