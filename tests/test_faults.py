"""Faults during a run: whatever goes wrong, what the run saved before stays intact.

Each fault leaves the earlier iterates, checkpoint and manifest as they were and
readable, no partial (".part") file and no lock file in the output folder, and
ends the run with one line on stderr, without a traceback, and exit status 2:

1. the disk fills up while a file is saved (an iterate, the checkpoint, the
   manifest, the final image or a picture at the end);
2. the output folder is removed while the run writes into it;
3. SIGINT and SIGTERM mid-iteration (exit status 130 and 143) are tested by
   tests/test_run_folder.py, test_a_stopped_run_keeps_its_image_and_checkpoint_and_can_be_resumed,
   which also checks that no .part file remains and that manifest.json parses;
   here only that a stopped run lets go of its folder's lock;
4. a second run into a folder another run is writing to is refused at once;
5. a learning rate so high that the costs overflow is tested by tests/test_run_folder.py,
   test_an_overflowing_cost_stops_the_run_with_one_line_and_keeps_the_last_good_image.

A full disk is made real with /dev/full, where every write fails with ENOSPC:
from the chosen save on, every file the run writes into its folder goes there.
"""

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from cli_runs import run_cli
from PIL import Image

import nst.run.folder
import nst.run.painting
from nst.errors import InputError
from nst.project import program_command
from nst.run.folder import LOCK, lock_folder

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("weights_read_once")  # see conftest.py
DEV_FULL = Path("/dev/full")


def small_run(content, style, weights, output, iterations=6) -> list:
    """Arguments of a run on a 32x24 image saving every 2nd iterate."""
    return [content, style, "--weights", weights, "--width", 32, "--height", 24,
            "--iterations", iterations, "--save-every", 2, "--seed", 1,
            "--output-dir", output]  # fmt: skip


@pytest.fixture
def out(tmp_path):
    """The output folder of the run under test (not made yet)."""
    return tmp_path / "out"


@pytest.fixture
def run_args(tiny_images, vgg19_mat, out):
    """Arguments of a small run into `out`."""
    return small_run(*tiny_images, vgg19_mat, out)


def manifest(folder: Path) -> dict:
    """The run folder's manifest.json, parsed."""
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def one_line(err: str) -> bool:
    """stderr holds one line of text (an interrupted run starts with an empty one)."""
    return err.endswith("\n") and err.strip().count("\n") == 0 and "Traceback" not in err


def contents(folder: Path, but: str = "") -> dict[str, bytes]:
    """Each file in `folder` but the lock file and `but`, with its bytes."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name not in (LOCK, but)}


def assert_readable(folder: Path) -> None:
    """Every image in `folder` opens, the manifest parses and the checkpoint loads."""
    for path in folder.iterdir():
        if path.suffix in (".png", ".jpg", ".gif"):
            with Image.open(path) as image:
                image.load()
    if (folder / "manifest.json").exists():
        assert manifest(folder)["program"] == "neural_art.py"
    if (folder / "checkpoint.npz").exists():
        with np.load(folder / "checkpoint.npz", allow_pickle=False) as data:
            assert np.isfinite(data["image"]).all()


def assert_unlocked(folder: Path) -> None:
    """No lock file in `folder`, and its lock can be taken."""
    assert not (folder / LOCK).exists()
    with lock_folder(folder, "--output-dir"):
        pass


# 1. A full disk


class FullDisk:
    """Fills the disk of `folder` at the `nth` save of the file `name`: that save and every
    later one in the folder write to /dev/full (through a symbolic link at the temporary
    file's name), where each write fails with ENOSPC, as on a full disk."""

    def __init__(self, folder: Path, name: str, nth: int):
        self.folder, self.name, self.nth = folder, name, nth
        self.saves = 0
        self.full = False
        self.kept: dict[str, bytes] | None = None  # the folder's files as the disk filled up
        self.real_mkstemp = tempfile.mkstemp

    def mkstemp(self, *args, **kwargs):
        """tempfile.mkstemp, whose files in `folder` go to /dev/full once the disk is full."""
        fd, tmp = self.real_mkstemp(*args, **kwargs)
        path = Path(tmp)
        if path.parent != self.folder:
            return fd, tmp
        if self.kept is None and path.name.startswith(f".{self.name}."):
            self.saves += 1
            if self.saves == self.nth:
                self.kept = contents(self.folder, but=path.name)
                self.full = True
        if self.full:
            path.unlink()
            path.symlink_to(DEV_FULL)
        return fd, tmp


@pytest.fixture
def full_disk(monkeypatch):
    """full_disk(folder, name, nth): a FullDisk in place of tempfile.mkstemp."""
    if not DEV_FULL.exists():
        pytest.skip("needs /dev/full")
    mode = DEV_FULL.stat().st_mode

    def fill(folder: Path, name: str, nth: int) -> FullDisk:
        disk = FullDisk(folder, name, nth)
        monkeypatch.setattr(tempfile, "mkstemp", disk.mkstemp)
        return disk

    yield fill
    # The program changes a file's mode only after writing it, which /dev/full never allows.
    assert DEV_FULL.stat().st_mode == mode


@pytest.fixture
def unraisable(monkeypatch):
    """The exceptions Python would print as "Exception ignored in ..." (say, a file object
    left open that fails to flush when collected): each would add lines to stderr."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


# (file, the save of it at which the disk fills up, the checkpoint kept for --resume or None);
# a run of 6 iterations saves 0.png, 2.png and 4.png, each with the checkpoint and manifest.
FULL_DISK_CASES = [
    ("manifest.json", 1, None),  # the first manifest, before any iteration
    ("2.png", 1, 0),
    ("checkpoint.npz", 2, 0),
    ("manifest.json", 3, 2),  # after 2.png and its checkpoint
    ("generated_image.jpg", 1, 4),  # before the last iterate's checkpoint
    ("costs.png", 1, None),
    ("contact_sheet.png", 1, None),
    ("progress.gif", 1, None),
    ("side_by_side.png", 1, None),
    ("manifest.json", 5, None),  # the last one, saying "finished"
]


@pytest.mark.parametrize(("name", "nth", "kept_checkpoint"), FULL_DISK_CASES)
def test_a_full_disk_keeps_the_earlier_files_and_ends_the_run_with_one_line(
    name, nth, kept_checkpoint, run_args, out, full_disk, unraisable, capsys
):
    disk = full_disk(out, name, nth)
    assert run_cli(*run_args) == 2
    gc.collect()
    assert unraisable == []
    err = capsys.readouterr().err
    assert one_line(err), err
    assert f"error: cannot write {out / name}: the disk is full" in err

    assert disk.kept is not None
    assert contents(out) == disk.kept  # nothing changed since, no partial file
    assert_readable(out)
    assert_unlocked(out)

    if kept_checkpoint is None:
        assert "--resume" not in err
        return
    assert f"the checkpoint of iteration {kept_checkpoint} is kept" in err
    assert err.endswith(f"continue with: {program_command('--resume', out)}\n")
    disk.full = False  # room again
    assert run_cli("--resume", out) == 0
    m = manifest(out)
    assert m["status"] == "finished"
    assert m["resumed"] == [kept_checkpoint]
    assert [c["iteration"] for c in m["checkpoints"]] == [0, 2, 4, 5]
    assert m["last_checkpoint"]["iteration"] == 5
    assert sorted(contents(out)) == sorted([*m["files"], "manifest.json", "checkpoint.npz"])
    assert_readable(out)
    assert_unlocked(out)


# 2. The output folder removed


@pytest.mark.parametrize("after", [2, 5], ids=["during-the-iterations", "before-the-pictures"])
def test_a_removed_output_folder_ends_the_run_with_one_line_naming_it(
    after, run_args, out, monkeypatch, capsys
):
    stylize = nst.run.painting.stylize

    def stylize_then_remove(*args, **kwargs):
        for step in stylize(*args, **kwargs):
            yield step
            if step.i == after:
                shutil.rmtree(out)

    monkeypatch.setattr(nst.run.painting, "stylize", stylize_then_remove)
    assert run_cli(*run_args) == 2
    err = capsys.readouterr().err
    assert one_line(err), err
    assert f"error: cannot write {out}/" in err
    assert f"the folder {out} no longer exists" in err
    assert "--resume" not in err
    assert not out.exists()  # not made again


# 3. SIGINT and SIGTERM (see the module's docstring)


def test_a_run_stopped_mid_iteration_lets_go_of_its_folder(run_args, out, monkeypatch, capsys):
    stylize = nst.run.painting.stylize

    def stylize_signalled(*args, **kwargs):
        for step in stylize(*args, **kwargs):
            if step.i == 3:  # the signal lands while the iteration is under way
                os.kill(os.getpid(), signal.SIGTERM)
            yield step

    monkeypatch.setattr(nst.run.painting, "stylize", stylize_signalled)
    assert run_cli(*run_args) == 143
    assert one_line(capsys.readouterr().err)
    assert manifest(out)["status"] == "interrupted"
    assert not [p.name for p in out.iterdir() if p.name.endswith(".part")]
    assert_unlocked(out)


# 4. Two runs into one folder


def test_the_lock_refuses_a_second_holder_naming_the_first_and_goes_with_its_file(tmp_path):
    with lock_folder(tmp_path, "--output-dir"):
        assert (tmp_path / LOCK).read_text() == f"{os.getpid()}\n"
        with pytest.raises(InputError) as refused, lock_folder(tmp_path, "--resume"):
            pass
        assert str(refused.value) == (
            f"--resume {tmp_path} is in use by another run (pid {os.getpid()})"
        )
    assert not (tmp_path / LOCK).exists()

    with pytest.raises(RuntimeError), lock_folder(tmp_path, "--output-dir"):
        raise RuntimeError("the run failed")
    assert_unlocked(tmp_path)


def test_a_lock_file_left_by_a_killed_run_does_not_lock(tmp_path):
    (tmp_path / LOCK).write_text("999999\n")  # its flock went with the process
    with lock_folder(tmp_path, "--output-dir"):
        assert (tmp_path / LOCK).read_text() == f"{os.getpid()}\n"
    assert not (tmp_path / LOCK).exists()


def test_without_fcntl_the_lock_files_exclusive_creation_is_the_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(nst.run.folder, "fcntl", None)
    with lock_folder(tmp_path, "--output-dir"):
        with pytest.raises(InputError) as refused, lock_folder(tmp_path, "--output-dir"):
            pass
        assert str(refused.value) == (
            f"--output-dir {tmp_path} is in use by another run (pid {os.getpid()}); "
            f"if that run has ended, delete {tmp_path / LOCK}"
        )
    assert not (tmp_path / LOCK).exists()


@pytest.mark.parametrize("option", ["--output-dir", "--resume"])
def test_a_run_into_a_locked_folder_is_refused_before_any_work(option, run_args, out, capsys):
    out.mkdir()
    argv = run_args if option == "--output-dir" else ["--resume", out]
    with lock_folder(out, "--output-dir"):
        assert run_cli(*argv) == 2
        assert os.listdir(out) == [LOCK]
    captured = capsys.readouterr()
    assert one_line(captured.err), captured.err
    assert f"error: {option} {out} is in use by another run (pid {os.getpid()})" in captured.err
    assert "Loading VGG-19" not in captured.out
    assert os.listdir(out) == []


def test_a_second_process_is_refused_while_the_first_completes_unharmed(
    tiny_images, vgg19_mat, out, capsys
):
    argv = small_run(*tiny_images, vgg19_mat, out, iterations=40)
    first = subprocess.Popen(
        [sys.executable, "neural_art.py", *map(str, argv)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not (out / "0.png").exists():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run saved no image in 300 s"
            time.sleep(0.05)
        first.send_signal(signal.SIGSTOP)  # so that it is surely still running
        try:
            assert run_cli(*argv) == 2
        finally:
            first.send_signal(signal.SIGCONT)
        _, first_err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()

    err = capsys.readouterr().err
    assert one_line(err), err
    assert f"error: --output-dir {out} is in use by another run (pid {first.pid})" in err

    assert first.returncode == 0, first_err
    m = manifest(out)
    assert m["status"] == "finished"
    assert [c["iteration"] for c in m["checkpoints"]] == [*range(0, 40, 2), 39]
    assert_readable(out)
    assert sorted(contents(out)) == sorted([*m["files"], "manifest.json", "checkpoint.npz"])
    assert_unlocked(out)
