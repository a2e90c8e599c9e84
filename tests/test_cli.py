"""The command line: a whole run on a tiny image, its output, and every kind of bad input."""

import contextlib
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from cli_runs import COST_BLOCK, run_cli
from matconvnet_files import VGG16_BLOCKS, random_kernels, write_vgg_mat
from PIL import Image
from terminal import screen

from nst.cli.main import parse_args
from nst.cli.options import STYLE_LAYER_PRESETS
from nst.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("weights_read_once")  # see conftest.py
RUN_FILES = ["checkpoint.npz", "contact_sheet.png", "costs.png", "generated_image.jpg",
             "manifest.json", "progress.gif", "side_by_side.png"]  # fmt: skip


@pytest.fixture
def run_args(tiny_images, vgg19_mat, tmp_path):
    """Arguments of a 6-iteration run on a 32x24 image into tmp_path / output."""
    content, style = tiny_images

    def args(seed=1, output="out"):
        return [content, style, "--weights", vgg19_mat, "--width", 32, "--height", 24,
                "--iterations", 6, "--save-every", 2, "--seed", seed,
                "--output-dir", tmp_path / output]  # fmt: skip

    return args


@pytest.fixture
def small_run(run_args):
    """The arguments of run_args with their defaults."""
    return run_args()


@pytest.fixture(scope="module")
def seed_one(tiny_images, vgg19_mat, tmp_path_factory, read_weights_once):
    """One run with run_args' defaults (seed 1), made once for the tests that read it: its
    folder and what it printed."""
    content, style = tiny_images
    folder = tmp_path_factory.mktemp("seed-one") / "out"
    argv = [content, style, "--weights", vgg19_mat, "--width", 32, "--height", 24,
            "--iterations", 6, "--save-every", 2, "--seed", 1, "--output-dir", folder]  # fmt: skip
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()) as out:
        read_weights_once(patch)
        assert run_cli(*argv) == 0
    return SimpleNamespace(folder=folder, out=out.getvalue())


def earlier_run(seed_one, folder: Path) -> None:
    """The files of seed_one's run, copied into `folder` as an earlier run there left them."""
    shutil.copytree(seed_one.folder, folder)


def test_a_run_prints_the_assignments_lines_and_saves_every_nth_image(seed_one):
    out = seed_one.out
    blocks = COST_BLOCK.findall(out)
    assert [int(b[0]) for b in blocks] == [0, 2, 4]
    for _, total, content, style in blocks:
        assert float(total) == pytest.approx(10 * float(content) + 40 * float(style), rel=1e-4)
    assert float(blocks[-1][1]) < float(blocks[0][1])  # Adam lowers the total cost
    files = sorted(p.name for p in seed_one.folder.iterdir())
    assert files == ["0.png", "2.png", "4.png", *RUN_FILES]
    for name in ["0.png", "2.png", "4.png", "generated_image.jpg"]:
        assert Image.open(seed_one.folder / name).size == (32, 24)
    assert "Done: " in out


def test_same_seed_same_image_bit_for_bit(seed_one, run_args, tmp_path):
    first = seed_one.folder  # seed 1
    assert run_cli(*run_args(seed=1, output="again")) == 0
    for name in ("4.png", "generated_image.jpg"):
        assert (first / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    assert run_cli(*run_args(seed=2, output="other")) == 0
    assert (tmp_path / "other" / "4.png").read_bytes() != (first / "4.png").read_bytes()


def test_an_earlier_runs_images_are_kept_unless_overwrite_is_given(
    seed_one, run_args, tmp_path, capsys
):
    earlier_run(seed_one, tmp_path / "out")  # seed 1
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    capsys.readouterr()
    changed = run_args(seed=9)
    assert run_cli(*changed) == 2
    out, err = capsys.readouterr()
    assert "already holds 0.png" in err and "--overwrite" in err
    assert "Loading VGG-19" not in out  # said before the weights are read
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before
    assert run_cli(*changed, "--overwrite") == 0
    assert (tmp_path / "out" / "4.png").read_bytes() != before["4.png"]


def test_a_run_stopped_while_starting_does_not_block_its_folder(
    run_args, tmp_path, monkeypatch, capsys
):
    def stopped_while_starting(*args, **kwargs):
        raise KeyboardInterrupt
        yield

    with monkeypatch.context() as patch:
        patch.setattr("nst.run.painting.stylize", stopped_while_starting)
        assert run_cli(*run_args()) == 130
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["manifest.json"]
    capsys.readouterr()
    assert run_cli("--resume", tmp_path / "out") == 2
    assert "stopped before its first iteration: run it again" in capsys.readouterr().err
    assert run_cli(*run_args()) == 0  # the same command again
    assert (tmp_path / "out" / "4.png").is_file()


def test_an_output_folder_that_cannot_be_made_is_refused_before_the_weights(
    run_args, tmp_path, capsys
):
    (tmp_path / "a file").write_text("", encoding="utf-8")
    argv = run_args(output="a file/run")
    assert run_cli(*argv) == 2
    out, err = capsys.readouterr()
    assert f"--output-dir {tmp_path / 'a file' / 'run'} cannot be made" in err
    assert "Loading VGG-19" not in out


def test_overwrite_leaves_none_of_the_earlier_runs_files_but_keeps_the_users(
    seed_one, run_args, tmp_path
):
    earlier_run(seed_one, tmp_path / "out")  # 0.png, 2.png, 4.png
    (tmp_path / "out" / "notes.txt").write_text("mine", encoding="utf-8")
    shorter = run_args(seed=2)
    shorter[shorter.index("--iterations") + 1] = 2
    assert run_cli(*shorter, "--overwrite") == 0  # 0.png only
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == sorted(["0.png", "notes.txt", *RUN_FILES])


def test_options_reach_the_run(tiny_images, vgg19_mat, tmp_path, capsys):
    content, style = tiny_images
    status = run_cli(content, style, "--weights", vgg19_mat, "--width", 20, "--height", 28,
                     "--iterations", 3, "--save-every", 5, "--output-dir", tmp_path / "o",
                     "--content-layer", "block3_conv2", "--style-layers", "conv1_1,block2_conv1",
                     "--pooling", "max", "--learning-rate", 0.5, "--alpha", 1, "--beta", 0,
                     "--noise-ratio", 0)  # fmt: skip
    assert status == 0
    blocks = COST_BLOCK.findall(capsys.readouterr().out)
    assert [b[0] for b in blocks] == ["0"]
    assert float(blocks[0][1]) == pytest.approx(float(blocks[0][2]), rel=1e-5)  # beta = 0
    assert Image.open(tmp_path / "o" / "generated_image.jpg").size == (20, 28)


def test_layer_names_presets_and_lists_are_parsed():
    base = ["c.jpg", "s.jpg"]
    assert parse_args(base).settings.style_layers == STYLE_LAYER_PRESETS["assignment"]
    eight = parse_args(base + ["--style-layers", "eight"]).settings.style_layers
    assert [n for n, _ in eight] == ["conv1_1", "conv2_1", "conv3_1", "conv3_4", "conv4_1",
                                     "conv5_1", "conv5_2", "conv5_4"]  # fmt: skip
    assert {w for _, w in eight} == {0.125}
    listed = parse_args(
        base + ["--style-layers", "conv1_1:0.2,block5_conv4:0.8"]
    ).settings.style_layers
    assert listed == [("conv1_1", 0.2), ("conv5_4", 0.8)]
    assert parse_args(base + ["--style-layers", "conv1_1,conv2_1"]).settings.style_layers == [
        ("conv1_1", 0.5),
        ("conv2_1", 0.5),
    ]
    assert (
        parse_args(base + ["--content-layer", "block5_conv4"]).settings.content_layer == "conv5_4"
    )


def test_help_documents_every_option_with_its_default(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # no line breaks inside file names
    assert run_cli("--help") == 0
    text = " ".join(capsys.readouterr().out.split())
    options = ["--weights", "--check-weights", "--output-dir", "--overwrite", "--width",
               "--height", "--iterations", "--save-every", "--learning-rate", "--alpha",
               "--beta", "--noise-ratio", "--seed", "--content-layer", "--style-layers",
               "--pooling", "--preset", "--show-preset", "--resume", "--size", "--optimizer",
               "--tv-weight", "--style-blend-weights", "--style-scale", "--init", "--pixels",
               "--clip", "--no-clip", "--preserve-colors", "--style-loss", "--average",
               "--level-ratio", "--batch", "--batch-content", "--batch-style", "--sweep",
               "--workers", "--ray-address", "--retries", "--tile"]  # fmt: skip
    for option in options:
        assert option in text
    for default in ["(default: 400)", "(default: 300)", "(default: 200)", "(default: 20)",
                    "(default: 2.0)", "(default: 10)", "(default: 40)", "(default: 0.6)",
                    "(default: conv4_2)", "(default: assignment)", "(default: avg)",
                    "(default: new, in output/)", "$NEURAL_ART_WEIGHTS", "(default: adam)",
                    "(default: 0.0)", "(default: 1.0)", "(default: noise)",
                    "(default: caffe)", "(default: one per 4 cores)",
                    "(default: this machine's)", "(default: 2)"]:  # fmt: skip
        assert default in text


def bad_weights(tmp_path):
    vgg16 = write_vgg_mat(tmp_path / "vgg16.mat", random_kernels(2, VGG16_BLOCKS), compress=False)
    html = tmp_path / "page.mat"
    html.write_text("<!DOCTYPE html><html><body>Moved</body></html>")
    return vgg16, html


BAD_OPTIONS = [
    (["--width", "0"], "--width: must be at least 1"),
    (["--height", "-3"], "--height: must be at least 1"),
    (["--width", "wide"], "--width: 'wide' is not a whole number"),
    (["--width", "100000"], "--width: 100000 pixels is more than"),
    (["--iterations", "0"], "--iterations: must be at least 1"),
    (["--save-every", "-1"], "--save-every: must be at least 1"),
    (["--learning-rate", "0"], "--learning-rate: must be a number > 0"),
    (["--learning-rate", "nan"], "--learning-rate: must be a number > 0"),
    (["--alpha", "-1"], "--alpha: must be a number >= 0"),
    (["--alpha", "0", "--beta", "0"], "nothing to optimize"),
    (["--noise-ratio", "1.5"], "--noise-ratio: must be a number >= 0 and <= 1"),
    (["--seed", "-1"], "--seed: must be between 0 and"),
    (["--content-layer", "conv9_9"], "unknown layer 'conv9_9'"),
    (["--style-layers", "conv1_1:0.5,fc7:0.5"], "unknown layer 'fc7'"),
    (["--style-layers", "conv1_1:x"], "weight of 'conv1_1:x' is not a number"),
    (["--style-layers", "conv1_1:0.5,conv1_1:0.5"], "listed more than once"),
    (["--style-layers", "conv1_1:0"], "at least one layer needs a positive weight"),
    (["--pooling", "median"], "--pooling: must be avg or max, not 'median'"),
    (["--style-loss", "l1"], "--style-loss: must be gram or wasserstein, not 'l1'"),
    (["--coarse-levels", "-1"], "--coarse-levels: must be between 0 and 8"),
    (["--coarse-levels", "2", "--coarse-iterations", "3"], "leave none of the 6 iterations"),
    (["--coarse-iterations", "0"], "--coarse-iterations: must be at least 1"),
    (["--threads", "0"], "--threads: must be at least 1"),
    (["--precision", "float8"], "--precision: must be float32 or bfloat16, not 'float8'"),
    (["--iteration", "3"], "unrecognized arguments: --iteration 3"),  # no abbreviations
]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_bad_option_values(options, message, small_run, capsys):
    assert run_cli(*small_run, *options) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_files(small_run, tmp_path, capsys):
    vgg16, html = bad_weights(tmp_path)
    text_as_jpg = tmp_path / "photo.jpg"
    text_as_jpg.write_text("not a photo")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    content, style = small_run[:2]
    missing = tmp_path / "missing.jpg"
    cases = [
        ([missing, style], [], "image {} does not exist", missing),
        ([content, text_as_jpg], [], "image {} is not an image file", text_as_jpg),
        ([content, style], ["--weights", tmp_path / "none.mat"], "no VGG-19 weights at {}",
         tmp_path / "none.mat"),
        ([content, style], ["--weights", vgg16], "weights file {} holds VGG-16", vgg16),
        ([content, style], ["--weights", html], "weights file {} is an HTML page", html),
        ([content, style], ["--output-dir", a_file], "--output-dir {} is a file", a_file),
        ([content, style], ["--output-dir", a_file / "sub"], "--output-dir {} cannot be made",
         a_file / "sub"),
    ]  # fmt: skip
    for inputs, options, message, subject in cases:
        argv = inputs + small_run[2:] + options
        assert run_cli(*argv) == 2, message
        err = capsys.readouterr().err
        assert message.format(subject) in err
        assert err.count("\n") == 1 and "Traceback" not in err


def test_the_script_reports_bad_input_in_one_line_without_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "neural_art.py", str(tmp_path / "nope.jpg"), "images/stone.jpg"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == f"neural_art.py: error: image {tmp_path / 'nope.jpg'} does not exist\n"


def test_the_script_runs_end_to_end_quietly(tiny_images, vgg19_mat_beta16, tmp_path):
    content, style = tiny_images
    done = subprocess.run(
        [sys.executable, str(ROOT / "neural_art.py"), str(content), str(style), "--weights",
         str(vgg19_mat_beta16), "--width", "24", "--height", "16", "--iterations", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # none of TensorFlow's start-up chatter
    assert [b[0] for b in COST_BLOCK.findall(done.stdout)] == ["0"]
    run = tmp_path / "output" / "content-style"
    assert sorted(p.name for p in run.iterdir()) == ["0.png", *RUN_FILES]
    assert np.asarray(Image.open(run / "generated_image.jpg")).shape == (16, 24, 3)


def test_without_output_dir_each_run_gets_its_own_folder(
    tiny_images, vgg19_mat, tmp_path, monkeypatch
):
    content, style = tiny_images
    monkeypatch.chdir(tmp_path)
    (tmp_path / "output" / "content-style-2").mkdir(parents=True)  # empty: it is used
    argv = [content, style, "--weights", vgg19_mat, "--width", 16, "--height", 12,
            "--iterations", 1]  # fmt: skip
    for _ in range(3):
        assert run_cli(*argv) == 0
    runs = sorted(p.name for p in (tmp_path / "output").iterdir())
    assert runs == ["content-style", "content-style-2", "content-style-3"]
    for run in runs:
        assert (tmp_path / "output" / run / "generated_image.jpg").is_file()


def test_on_a_terminal_a_status_line_shows_progress_cost_speed_and_time_left(
    run_args, monkeypatch, capsys
):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert run_cli(*run_args()) == 0
    err = capsys.readouterr().err
    for done in range(1, 7):
        assert re.search(rf"\| {done}/6, J \d\.\d+e\+\d\d, [\d.]+s/it, \d\d:\d\d left", err)
    assert re.search(r"100%\|\S+\| 6/6", err)
    assert screen(err)[-1] == ""  # erased at the end


def test_the_last_costs_are_printed_when_the_last_iteration_is_not_a_save_point(seed_one):
    out = seed_one.out  # 6 iterations, every 2nd saved: 0, 2, 4, then 5
    final = re.search(r"^Final costs \(iteration 5\): total cost = (\S+), content cost = (\S+), "
                      r"style cost = (\S+)$", out, re.MULTILINE)  # fmt: skip
    total, content, style = map(float, final.groups())
    assert total == pytest.approx(10 * content + 40 * style, rel=1e-4)
    assert [int(b[0]) for b in COST_BLOCK.findall(out)] == [0, 2, 4]


def test_the_options_beyond_the_assignment_reach_the_settings(tmp_path):
    init = tmp_path / "start.png"
    Image.new("RGB", (8, 8)).save(init)
    argv = ["c.jpg", "s1.jpg", "s2.jpg", "--preset", "eight", "--optimizer", "lbfgs",
            "--tv-weight", "0.5", "--style-blend-weights", "1,3", "--style-scale", "0.5",
            "--init", str(init), "--size", "50", "--pixels", "unit",
            "--preserve-colors"]  # fmt: skip
    s = parse_args(argv).settings
    assert (s.content, s.styles) == (Path("c.jpg"), (Path("s1.jpg"), Path("s2.jpg")))
    assert s.style_layers == STYLE_LAYER_PRESETS["eight"] and s.preset == "eight"
    assert (s.optimizer, s.tv_weight, s.style_scale, s.size) == ("lbfgs", 0.5, 0.5, 50)
    assert s.style_blend_weights == (1.0, 3.0) and s.blend_weights() == [0.25, 0.75]
    assert (s.init, s.pixels, s.preserve_colors, s.clip) == (init, "unit", True, False)
    assert parse_args(["c.jpg", "s.jpg", "--init", "random"]).settings.init == "random"


def test_the_speed_options_reach_the_settings():
    argv = ["c.jpg", "s.jpg", "--coarse-levels", "2", "--coarse-iterations", "30",
            "--threads", "1", "--xla", "--precision", "bfloat16"]  # fmt: skip
    s = parse_args(argv).settings
    assert (s.coarse_levels, s.coarse_iterations) == (2, 30)
    assert (s.threads, s.xla, s.precision) == (1, True, "bfloat16")
    d = parse_args(["c.jpg", "s.jpg"]).settings
    assert (d.coarse_levels, d.threads, d.xla, d.precision) == (0, None, False, "float32")


def test_a_coarse_to_fine_run_saves_every_iterate_and_a_full_size_result(
    tiny_images, vgg19_mat, tmp_path, capsys
):
    content, style = tiny_images
    status = run_cli(content, style, "--weights", vgg19_mat, "--width", 32, "--height", 24,
                     "--iterations", 4, "--save-every", 1, "--coarse-levels", 1,
                     "--coarse-iterations", 2, "--output-dir", tmp_path / "o")  # fmt: skip
    assert status == 0
    assert "32x24 pixels, 4 iterations (2 at 16x12 first)" in capsys.readouterr().out
    sizes = [Image.open(tmp_path / "o" / f"{i}.png").size for i in range(4)]
    assert sizes == [(16, 12), (16, 12), (32, 24), (32, 24)]
    assert Image.open(tmp_path / "o" / "generated_image.jpg").size == (32, 24)


def test_a_run_with_lbfgs_total_variation_two_styles_and_kept_colours(
    tiny_images, vgg19_mat, tmp_path, capsys
):
    content, style = tiny_images
    status = run_cli(content, style, content, "--weights", vgg19_mat, "--size", 24,
                     "--iterations", 3, "--save-every", 2, "--optimizer", "lbfgs",
                     "--tv-weight", 0.01, "--style-blend-weights", "2,1", "--init", "content",
                     "--preserve-colors", "--output-dir", tmp_path / "o")  # fmt: skip
    assert status == 0
    out = capsys.readouterr().out
    assert "24x18 pixels" in out
    assert len(re.findall(r"^total variation cost = \S+$", out, re.MULTILINE)) == 2  # i = 0, 2
    assert Image.open(tmp_path / "o" / "generated_image.jpg").size == (24, 18)


def test_hints_name_the_python_running_and_the_script_as_a_shell_reads_them(tmp_path):
    """A hint run as printed must reach this Python (a bare `python` may be another one)."""
    import shlex

    from nst.project import SCRIPT, program_command

    words = shlex.split(program_command("--resume", tmp_path / "a run"))
    assert words[0] == sys.executable and words[2:] == ["--resume", str(tmp_path / "a run")]
    assert Path(words[1]).resolve() == SCRIPT


def test_help_fits_on_two_screens_with_each_option_in_at_most_four_lines(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert run_cli("--help") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) <= 100
    starts = [k for k, line in enumerate(lines) if line.startswith("  -")] + [len(lines)]
    assert max(b - a for a, b in zip(starts, starts[1:], strict=False)) <= 4


def test_every_option_is_defined_once_and_takes_its_default_from_the_settings():
    """The parser is built from nst.cli.options.OPTIONS: each flag once; an option left out
    gets the Settings field's value (the assignment preset's), or the preset's."""
    from nst.cli.options import OPTIONS

    flags = [option.flag for option in OPTIONS]
    assert len(flags) == len(set(flags))
    assert (
        parse_args(["c.jpg", "s.jpg"]).settings.replace(
            content=None, styles=(), output_dir=Settings().output_dir
        )
        == Settings()
    )
    tf2 = parse_args(["c.jpg", "s.jpg", "--preset", "tf2"]).settings
    assert (tf2.width, tf2.iterations, tf2.clip) == (400, 1000, True)


def test_the_usage_shows_what_each_way_of_running_needs(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    usage = capsys.readouterr().out.split("\n\n")[0]
    assert "neural_art.py CONTENT STYLE [STYLE ...] [options]" in usage
    assert "--resume RUN_DIR" in usage and "--run-notebook PATH" in usage
    assert "--batch JOBS.csv" in usage
    assert "[CONTENT]" not in usage  # CONTENT is not optional for a run


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--iteration", "3"], ["nope.jpg", "images/stone.jpg"], ["images/cat.jpg"]],
)
def test_options_and_images_are_checked_before_tensorflow_is_loaded(argv):
    """A typo or a missing image is answered without the seconds TensorFlow takes to load."""
    code = (
        "import sys, neural_art\n"
        "try:\n    status = neural_art.main(sys.argv[1:])\n"
        "except SystemExit as e:\n    status = e.code\n"
        "print(status, 'tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.stdout.splitlines()[-1] in ("0 False", "2 False")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("--iteration", "--iterations"), ("--optimiser", "--optimizer"),
     ("--learningrate=3", "--learning-rate")],
)  # fmt: skip
def test_a_misspelt_option_is_refused_with_the_option_it_is_close_to(typed, meant, capsys):
    assert run_cli("images/cat.jpg", "images/stone.jpg", typed, "5") == 2
    err = capsys.readouterr().err
    assert f"unrecognized arguments: {typed} 5; did you mean {meant}? (see --help)" in err


def test_an_unknown_option_like_none_is_refused_without_a_guess(capsys):
    assert run_cli("images/cat.jpg", "images/stone.jpg", "--zzz") == 2
    assert "unrecognized arguments: --zzz (see --help)\n" in capsys.readouterr().err
