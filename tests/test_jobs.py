"""The command line makes a job of each kind (nst/job.py), neural_art.py hands it to the runner
of its kind, bad input is answered before TensorFlow loads, and the assignment's bare image
names are found in images/."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runs import run_cli

from nst.cli.main import parse_args
from nst.job import BatchJob, ImageJob, NotebookJob, SettingsJob, WeightsJob

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "argv, kind",
    [
        (["c.jpg", "s.jpg"], ImageJob),
        (["--resume", "output/c-s"], ImageJob),
        (["--batch", "jobs.csv"], BatchJob),
        (["--batch-content", "photos", "--batch-style", "paintings"], BatchJob),
        (["c.jpg", "s.jpg", "--sweep", "seed=1,2"], BatchJob),
        (["--check-weights"], WeightsJob),
        (["--download-weights", "--network", "vgg16"], WeightsJob),
        (["--run-notebook", "art.ipynb"], NotebookJob),
        (["c.jpg", "s.jpg", "--show-preset"], SettingsJob),
    ],
)
def test_each_command_is_a_job_of_its_kind(argv, kind, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no batch.json here: --resume names a single run
    assert type(parse_args(argv)) is kind


def test_a_resumed_batch_folder_is_a_batch_job(tmp_path):
    (tmp_path / "batch.json").write_text("{}")
    assert type(parse_args(["--resume", str(tmp_path)])) is BatchJob


LOADS_NOTHING = """
import json, sys
sys.path[:0] = [{root!r}, {tests!r}]
from cli_runs import run_cli
status = run_cli(*{argv!r})
print(json.dumps([status, "tensorflow" in sys.modules, "ray" in sys.modules]))
"""


def status_and_loaded(argv: list[str], cwd: Path) -> tuple[int, bool, bool, str]:
    """neural_art.py's exit status for `argv` in a fresh process, whether TensorFlow and Ray
    were loaded by then, and what it printed on stderr."""
    code = LOADS_NOTHING.format(root=str(ROOT), tests=str(ROOT / "tests"), argv=argv)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, check=True
    )
    status, tensorflow, ray = json.loads(done.stdout.strip().splitlines()[-1])
    return status, tensorflow, ray, done.stderr


def test_bad_input_of_every_kind_is_answered_before_tensorflow_or_ray_loads(
    tiny_images, vgg19_mat, tmp_path
):
    content, style = map(str, tiny_images)
    (tmp_path / "a file").write_text("not a folder")
    frames = tmp_path / "frames"  # a clip: a folder of frames
    frames.mkdir()
    for name in ("1.png", "2.png"):
        shutil.copy(content, frames / name)
    (tmp_path / "damaged.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    bad = {
        "a missing image": [content, "missing.png", "--weights", str(vgg19_mat)],
        "an output folder that is a file": [content, style, "--weights", str(vgg19_mat),
                                            "--output-dir", str(tmp_path / "a file")],
        "missing weights": [content, style, "--weights", str(tmp_path / "none.mat")],
        "a missing JOBS.csv": ["--batch", str(tmp_path / "jobs.csv")],
        "a batch row's missing image": ["--batch-content", content,
                                        "--batch-style", str(tmp_path / "none")],
        "a clip's missing weights": [str(frames), style, "--weights", str(tmp_path / "none.mat")],
        "a clip's output folder that is a file": [str(frames), style, "--weights",
                                                  str(vgg19_mat), "--output-dir",
                                                  str(tmp_path / "a file")],
        "a damaged video": [str(tmp_path / "damaged.mp4"), style, "--weights", str(vgg19_mat)],
        "frames outside a clip": [str(frames), style, "--weights", str(vgg19_mat),
                                  "--frames", "2:5"],
    }  # fmt: skip
    for what, argv in bad.items():
        status, tensorflow, ray, err = status_and_loaded(argv, tmp_path)
        assert status == 2, what
        assert err.count("\n") == 1 and err.startswith("neural_art.py: error: "), (what, err)
        assert not tensorflow and not ray, what
    status, tensorflow, ray, _ = status_and_loaded(
        ["--check-weights", "--weights", content], tmp_path
    )
    assert (status, tensorflow, ray) == (2, False, False)  # its report says why, on stdout


@pytest.fixture
def assignment_folder(tmp_path, tiny_images, monkeypatch):
    """A folder laid out as the assignment's: the images in images/, the working folder."""
    (tmp_path / "images").mkdir()
    for name, path in zip(("cat.png", "stone.png"), tiny_images, strict=True):
        shutil.copy(path, tmp_path / "images" / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_bare_image_name_missing_here_is_taken_from_images(assignment_folder):
    settings = parse_args(["cat.png", "stone.png"]).settings
    assert settings.content == Path("images/cat.png")
    assert settings.styles == (Path("images/stone.png"),)
    assert settings.output_dir == Path("output/cat-stone")


def test_an_image_in_the_current_folder_comes_before_the_one_in_images(assignment_folder):
    shutil.copy(assignment_folder / "images" / "stone.png", assignment_folder / "cat.png")
    assert parse_args(["cat.png", "stone.png"]).settings.content == Path("cat.png")
    assert parse_args(["./images/cat.png", "stone.png"]).settings.content == Path("images/cat.png")


def test_an_image_in_neither_place_is_refused_naming_both(assignment_folder, vgg19_mat, capsys):
    assert run_cli("dog.png", "stone.png", "--weights", vgg19_mat) == 2
    err = capsys.readouterr().err
    assert err == "neural_art.py: error: image dog.png does not exist (nor images/dog.png)\n"
    assert not (assignment_folder / "output").exists()


def test_the_design_cards_command_finds_the_assignments_images_in_the_project_folder():
    environ = {**os.environ, "NEURAL_ART_WEIGHTS": "/nonexistent/weights.mat"}
    done = subprocess.run(
        [sys.executable, "neural_art.py", "cat.jpg", "stone.jpg", "--show-preset"],
        capture_output=True, text=True, cwd=ROOT, env=environ, check=True,
    )  # fmt: skip
    shown = json.loads(done.stdout)
    assert (shown["content"], shown["styles"]) == ("images/cat.jpg", ["images/stone.jpg"])
