"""Batches and sweeps on Ray: many runs of neural_art.py, each in its own run folder.

`--batch JOBS.csv` runs a job for each row of a CSV file (a `content` and a
`style` column, and columns named after options), `--batch-content DIR
--batch-style DIR` each content with each style, and `--sweep NAME=V1,V2`
repeats every job for each value. The jobs run on a real Ray: one started by
the batch on this machine, or a cluster given by --ray-address (here ones the
tests start on this machine: two nodes, and one started as the README says).
What the tests hold the batch to:

- every job writes the files of a single run into <index>-<content>-<style>/,
  and with the same arguments gives the same images, bit for bit;
- the weights file is read once, by the batch, not by each job;
- a job whose worker process is killed is run again from its checkpoint
  (--retries), or reported while the others go on;
- Ctrl-C stops the batch with each running job's checkpoint kept, and
  --resume DIR skips the finished jobs and continues the others;
- a bad row is refused before anything runs, naming its row and what is wrong;
- a cluster started with `ray start --head --port P` runs the batch at
  `--ray-address 127.0.0.1:P`, with the token Ray keeps on this machine; an
  address where no cluster admits the batch is refused before anything is
  written, in one line that says what to do;
- batch.json lists every job, and contact_sheet.png shows every result.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from cli_runs import run_cli
from PIL import Image

import nst.batch.engine
from nst.batch.report import BatchRecord, write_contact_sheet
from nst.run.visuals import MARGIN

ROOT = Path(__file__).resolve().parent.parent
RAY = Path(sys.executable).parent / "ray"
SMALL = ["--width", "32", "--height", "24", "--iterations", "4", "--save-every", "2"]
"""A job's size where none runs: 32x24 pixels, 4 iterations, an image saved every 2nd."""
JOB = ["--width", "32", "--height", "24", "--iterations", "30", "--save-every", "1"]
"""The jobs that run: 32x24 pixels, 30 iterations, each saved (so that a test sees how far
a job is)."""
THREADS = max(1, os.cpu_count() // 2)
"""The TensorFlow threads of a job that runs beside another on this machine's cores."""
RUN_FILES = sorted([*(f"{i}.png" for i in range(30)), "checkpoint.npz", "contact_sheet.png",
                    "costs.png", "generated_image.jpg", "manifest.json", "progress.gif",
                    "side_by_side.png"])  # fmt: skip


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def one_line(err: str) -> bool:
    """stderr holds one line of text (an interrupted run starts with an empty one)."""
    return err.endswith("\n") and err.strip().count("\n") == 0 and "Traceback" not in err


def same_run(folder: Path, other: Path) -> None:
    """Assert that two run folders hold the same files, whose images and checkpoints are
    identical, bit for bit."""
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(p.name for p in other.iterdir())
    for name in names:
        if name.endswith((".png", ".jpg")) and name[0].isdigit() or name == "generated_image.jpg":
            assert (folder / name).read_bytes() == (other / name).read_bytes(), name
    with (
        np.load(folder / "checkpoint.npz", allow_pickle=False) as a,
        np.load(other / "checkpoint.npz", allow_pickle=False) as b,
    ):
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            assert np.array_equal(a[key], b[key]), key


@pytest.fixture(scope="module")
def images(tmp_path_factory, tiny_images):
    """Two contents (cat.png, dog.png) and two styles (stone.png, wave.png), 40x30 and 36x36."""
    folder = tmp_path_factory.mktemp("batch-images")
    content, style = tiny_images
    for name, source, flip in (("cat", content, False), ("dog", content, True),
                               ("stone", style, False), ("wave", style, True)):  # fmt: skip
        with Image.open(source) as picture:
            (picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flip else picture).save(
                folder / f"{name}.png"
            )
    return folder


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference(images, vgg19_mat, tmp_path_factory):
    """A single run of neural_art.py: cat.png in the style of stone.png, --seed 8, with the
    threads of a batch job that runs beside another; in a process of its own (TensorFlow
    keeps the threads of a process's first session, so --threads acts only there). Its
    folder."""
    out = tmp_path_factory.mktemp("reference") / "run"
    argv = [images / "cat.png", images / "stone.png", "--weights", vgg19_mat, *JOB, "--seed", 8,
            "--threads", THREADS, "--output-dir", out]  # fmt: skip
    done = subprocess.run([sys.executable, "neural_art.py", *map(str, argv)], cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


# 1. Bad input: refused before anything runs


BAD_ROWS = [
    ("content,style,seed\ncat.png,stone.png,1\ncat.png,stone.png,-1\n",
     "jobs.csv, row 3: argument --seed: must be between 0 and 4294967295, not -1"),
    ("content,style,colour\ncat.png,stone.png,red\n",
     "jobs.csv, row 1: 'colour' is not an option of a job"),
    ("content,style,output-dir\ncat.png,stone.png,x\n",
     "jobs.csv, row 1: 'output-dir' is not an option of a job"),
    ("content,seed\ncat.png,1\n", "jobs.csv, row 1: no style column"),
    ("content,style\ncat.png,stone.png\nmissing.png,stone.png\n",
     "jobs.csv, row 3: image {images}/missing.png does not exist"),
    ("content,style\ncat.png,\n", "jobs.csv, row 2: no style image"),
    ("content,style,preserve-colors\ncat.png,stone.png,maybe\n",
     "jobs.csv, row 2: --preserve-colors is yes or no, not 'maybe'"),
    ("content,style\ncat.png,stone.png,wave.png\n", "jobs.csv, row 2: 3 cells, and row 1 names 2"),
    ("content,style,size\ncat.png,stone.png,40\n",
     "jobs.csv, row 2: give --size, or --width and --height, not both"),
    ("content,style,schedule\ncat.png,stone.png,2;2\n",
     "jobs.csv, row 2: argument --schedule: '2;2' is not a whole number"),
    ("content,style\n", "--batch {images}/jobs.csv holds no jobs"),
]  # fmt: skip


@pytest.mark.parametrize(("csv", "message"), BAD_ROWS)
def test_a_bad_row_is_refused_naming_its_row_before_any_job_runs(
    csv, message, images, vgg19_mat, tmp_path, capsys
):
    jobs = write_csv(images / "jobs.csv", csv)
    out = tmp_path / "batch"
    argv = ["--batch", jobs, "--weights", vgg19_mat, *SMALL, "--output-dir", out]
    assert run_cli(*argv) == 2
    captured = capsys.readouterr()
    assert one_line(captured.err), captured.err
    assert message.format(images=images) in captured.err
    assert not out.exists()  # nothing ran, nothing was written
    assert "Loading" not in captured.out  # refused before the weights are read


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--sweep", "colour=1,2"], "--sweep colour: 'colour' is not an option of a job"),
        (["--sweep", "beta=10,-1"], "--sweep beta=-1: argument --beta: must be a number >= 0"),
        (["--sweep", "beta"], "argument --sweep: 'beta' is not NAME=V1,V2,..."),
        (["--sweep", "clip=yes,perhaps"], "--clip is yes or no, not 'perhaps'"),
        (["--workers", "0"], "argument --workers: must be between 1 and 10000, not 0"),
        (["--retries", "-1"], "argument --retries: must be between 0 and 100"),
    ],
)
def test_a_bad_sweep_or_batch_option_is_refused_in_one_line(
    options, message, images, tmp_path, capsys
):
    grid = ["--batch-content", images / "cat.png", "--batch-style", images / "stone.png"]
    assert run_cli(*grid, *options, "--output-dir", tmp_path / "batch") == 2
    err = capsys.readouterr().err
    assert one_line(err) and message in err, err
    assert not (tmp_path / "batch").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{images}/cat.png", "{images}/stone.png", "--workers", "2"],
         "--workers says how a batch runs"),
        (["--batch-content", "{images}"], "--batch-content makes a grid with --batch-style"),
        (["--batch", "{images}/jobs.csv", "{images}/cat.png"],
         "a batch takes its images from JOBS.csv: give no CONTENT or STYLE"),
        (["--batch", "{images}/jobs.csv", "--batch-content", "{images}", "--batch-style",
          "{images}"], "give --batch JOBS.csv or --batch-content and --batch-style, not both"),
        (["--sweep", "beta=1,2"], "--sweep repeats the runs of a batch or of CONTENT STYLE"),
        (["--batch", "{images}/jobs.csv", "--check-weights"],
         "--check-weights cannot be given with a batch"),
        (["--batch-content", "{empty}", "--batch-style", "{images}"], "holds no image files"),
    ],
)  # fmt: skip
def test_options_that_do_not_make_a_batch_are_refused(argv, message, images, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    argv = [a.format(images=images, empty=tmp_path / "empty") for a in argv]
    assert run_cli(*argv) == 2
    err = capsys.readouterr().err
    assert one_line(err) and message in err, err


def test_a_folder_holding_a_batch_is_not_replaced_by_a_new_one(images, tmp_path, capsys):
    out = tmp_path / "batch"
    out.mkdir()
    (out / "batch.json").write_text("{}", encoding="utf-8")
    grid = ["--batch-content", images / "cat.png", "--batch-style", images / "stone.png"]
    assert run_cli(*grid, "--output-dir", out) == 2
    err = capsys.readouterr().err
    assert one_line(err)
    assert f"--output-dir {out} holds a batch already: continue it with --resume {out}" in err
    assert (out / "batch.json").read_text(encoding="utf-8") == "{}"


# 2. The jobs a batch makes


def jobs_of(*argv) -> list:
    from nst.batch.jobs import make_jobs
    from nst.cli.main import parse_command

    command = parse_command([str(a) for a in argv])
    return make_jobs(command, command.settings.output_dir.absolute())


def test_a_row_gives_its_images_from_the_csvs_folder_and_its_cells_as_options(
    images, tmp_path, monkeypatch
):
    jobs = write_csv(images / "jobs.csv", "content,style,iterations,Learning_Rate,clip\n"
                     "cat.png,stone.png;wave.png,7,0.5,yes\ndog.png,wave.png,,,no\n")  # fmt: skip
    monkeypatch.chdir(tmp_path)  # not the CSV's folder
    first, second = jobs_of("--batch", jobs, "--seed", 3)
    assert first.name == "1-cat-stone+wave" and second.name == "2-dog-wave"
    assert first.argv == (str(images / "cat.png"), str(images / "stone.png"),
                          str(images / "wave.png"), "--seed", "3", "--iterations", "7",
                          "--learning-rate", "0.5", "--clip")  # fmt: skip
    assert second.argv == (str(images / "dog.png"), str(images / "wave.png"), "--seed", "3",
                           "--no-clip")  # fmt: skip
    assert first.source == f"{jobs}, row 2"


def test_a_grid_pairs_each_content_with_each_style_and_a_sweep_repeats_each_job(images):
    (images / "notes.txt").write_text("not an image", encoding="utf-8")
    jobs = jobs_of("--batch-content", images, "--batch-style", images / "wave.png",
                   "--sweep", "beta=10,100", "--sweep", "seed=1,2")  # fmt: skip
    contents = ["cat", "dog", "stone", "wave"]  # every image in the folder, by name
    assert [job.name for job in jobs] == [
        f"{k:02d}-{c}-wave" for k, c in enumerate(np.repeat(contents, 4), 1)
    ]
    assert [job.sweep for job in jobs[:4]] == [
        (("beta", "10"), ("seed", "1")),
        (("beta", "10"), ("seed", "2")),
        (("beta", "100"), ("seed", "1")),
        (("beta", "100"), ("seed", "2")),
    ]
    assert jobs[3].argv[-4:] == ("--beta", "100", "--seed", "2")
    assert jobs[3].source == "content cat.png with style wave.png, --sweep beta=100, --sweep seed=2"


def test_a_sweep_of_values_holding_commas_separates_them_with_semicolons(images):
    jobs = jobs_of(images / "cat.png", images / "stone.png",
                   "--sweep", "style-layers=conv1_1,conv2_1;assignment")  # fmt: skip
    assert [job.argv[-1] for job in jobs] == ["conv1_1,conv2_1", "assignment"]


# 3. A batch on Ray started on this machine


@pytest.fixture(scope="module")
def grid_batch(images, vgg19_mat, tmp_path_factory, ray_env):
    """A batch of cat and dog, each in the style of stone, --seed 8, two at a time, in this
    process. The batch's copy of the weights is deleted once the batch has read it, so
    that no job could read it."""
    base = tmp_path_factory.mktemp("grid")
    weights = shutil.copy(vgg19_mat, base / "weights.mat")
    (contents := base / "contents").mkdir()
    for name in ("cat.png", "dog.png"):
        shutil.copy(images / name, contents / name)
    read = []
    original = nst.batch.engine.load_weights

    def read_then_delete(*args, **kwargs):
        loaded = original(*args, **kwargs)
        read.append(loaded.path)
        Path(weights).unlink()
        return loaded

    argv = ["--batch-content", contents, "--batch-style", images / "stone.png", "--weights",
            weights, *JOB, "--seed", 8, "--workers", 2, "--output-dir", base / "batch"]  # fmt: skip
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        patch.setattr(nst.batch.engine, "load_weights", read_then_delete)
        status = run_cli(*argv)
    return {"status": status, "folder": base / "batch", "out": stdout.getvalue(),
            "err": stderr.getvalue(), "read": read, "weights": Path(weights)}  # fmt: skip


def test_a_batch_runs_every_job_into_its_own_run_folder(grid_batch):
    assert grid_batch["status"] == 0, grid_batch["err"]
    folder = grid_batch["folder"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "1-cat-stone", "2-dog-stone", "batch.json", "contact_sheet.png", "logs"]  # fmt: skip
    for name in ("1-cat-stone", "2-dog-stone"):
        assert sorted(p.name for p in (folder / name).iterdir()) == RUN_FILES
        assert read_json(folder / name / "manifest.json")["status"] == "finished"
        log = (folder / "logs" / f"{name}.log").read_text(encoding="utf-8")
        assert "Iteration 29 :" in log and f"Done: {folder / name / 'generated_image.jpg'}" in log


def test_the_weights_are_read_once_by_the_batch_and_reach_the_jobs_through_ray(grid_batch):
    assert grid_batch["read"] == [grid_batch["weights"]]  # once, and then the file was gone
    for name in ("1-cat-stone", "2-dog-stone"):
        manifest = read_json(grid_batch["folder"] / name / "manifest.json")
        assert manifest["weights"]["path"] == str(grid_batch["weights"])
    assert grid_batch["out"].count("Loading VGG-19") == 1


def test_the_jobs_share_the_cores(grid_batch):
    """Two jobs at once on this machine's cores: each job's TensorFlow gets half of them."""
    for name in ("1-cat-stone", "2-dog-stone"):
        command = read_json(grid_batch["folder"] / name / "manifest.json")["command"]
        assert command[-2:] == ["--threads", str(THREADS)]


def test_a_job_gives_the_images_of_a_single_run_with_the_same_arguments(grid_batch, reference):
    same_run(grid_batch["folder"] / "1-cat-stone", reference)


def test_batch_json_lists_every_job_with_its_status_times_and_result(grid_batch):
    record = read_json(grid_batch["folder"] / "batch.json")
    assert record["status"] == "finished"
    assert record["started"] <= record["ended"]
    assert [job["name"] for job in record["jobs"]] == ["1-cat-stone", "2-dog-stone"]
    for job in record["jobs"]:
        assert job["status"] == "finished" and job["attempts"] == 1
        assert job["result"] == f"{job['name']}/generated_image.jpg"
        assert (grid_batch["folder"] / job["result"]).is_file()
        assert record["started"] <= job["started"] <= job["ended"] <= record["ended"]
        assert job["seconds"] > 0
        assert job["source"].startswith(f"content {job['name'].split('-')[1]}.png with style")


def test_the_batchs_contact_sheet_shows_each_result(grid_batch):
    with Image.open(grid_batch["folder"] / "contact_sheet.png") as sheet:
        pixels = np.asarray(sheet.convert("RGB"))
    for name in ("1-cat-stone", "2-dog-stone"):
        with Image.open(grid_batch["folder"] / name / "generated_image.jpg") as result:
            tile = np.asarray(result.convert("RGB"))
        found = any(
            np.array_equal(pixels[top : top + 24, left : left + 32], tile)
            for top in range(pixels.shape[0] - 23)
            for left in range(pixels.shape[1] - 31)
        )
        assert found, name


def test_the_batchs_contact_sheet_is_as_tall_as_its_thumbnails_and_labels(tmp_path):
    """Two 400x300 results: 256x192 thumbnails right under the top margin, then a line of
    labels and the bottom margin; no empty band (they were once boxed in 256x256 squares)."""
    jobs = []
    for index, colour in ((1, (255, 0, 0)), (2, (0, 0, 255))):
        name = f"{index}-photo-style"
        (tmp_path / name).mkdir()
        Image.new("RGB", (400, 300), colour).save(tmp_path / name / "generated_image.png")
        result = f"{name}/generated_image.png"
        jobs.append({"name": name, "status": "finished", "result": result, "sweep": {}})
    with Image.open(write_contact_sheet(BatchRecord(tmp_path, {"jobs": jobs}))) as sheet:
        pixels = np.asarray(sheet.convert("RGB"))
    red_rows = np.nonzero((pixels == (255, 0, 0)).all(axis=2).any(axis=1))[0]
    assert (red_rows[0], len(red_rows)) == (MARGIN, 192)
    label_line = pixels.shape[0] - (MARGIN + 192 + MARGIN)
    assert 0 < label_line <= 20  # a line of PIL's default font, about 15 pixels


def test_the_batch_shows_its_progress_a_line_per_job_done(grid_batch):
    lines = [line for line in grid_batch["out"].splitlines() if line.startswith("jobs ")]
    assert lines[-1].startswith("jobs 2/2 done, 0 running, 0 failed")
    assert any(line.startswith("jobs 1/2 done, ") and line.endswith(" left") for line in lines)
    assert "Done: 2 of 2 jobs finished" in grid_batch["out"]


# 4. Killed workers, Ctrl-C and --resume (the batch in a process of its own)


def start_batch(env: dict, *argv) -> subprocess.Popen:
    """neural_art.py with `argv` in a new session (its own process group, as a terminal's
    foreground job is)."""
    command = [sys.executable, "neural_art.py", *map(str, argv)]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


@contextlib.contextmanager
def ended(process: subprocess.Popen):
    """The process; killed (with its process group) if the block fails before it ends."""
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def wait_until(process: subprocess.Popen, ready: Callable[[], bool], what: str) -> None:
    """Poll until `ready()`; fails if the batch ends first. The deadline only keeps a
    hanging batch from hanging the tests."""
    deadline = time.monotonic() + 300
    while not ready():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"no {what} after 300 s"
        time.sleep(0.05)


def manifest_of(run_folder: Path) -> dict:
    """The run's manifest.json, or {} while there is none."""
    with contextlib.suppress(FileNotFoundError, ValueError):
        return read_json(run_folder / "manifest.json")
    return {}


def saved(run_folder: Path, count: int) -> Callable[[], bool]:
    """Whether the run has saved `count` iterations (since it was last resumed)."""

    def ready() -> bool:
        manifest = manifest_of(run_folder)
        since = manifest.get("resumed", [-1])[-1]
        return len([c for c in manifest.get("checkpoints", []) if c["iteration"] > since]) >= count

    return ready


def kill_worker(run_folder: Path) -> None:
    """SIGKILL the Ray worker running the job of `run_folder` (the run's lock names it)."""
    pid = int((run_folder / ".neural_art.lock").read_text(encoding="ascii"))
    assert "run_job" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    os.kill(pid, signal.SIGKILL)


def test_a_job_whose_worker_is_killed_continues_from_its_checkpoint_within_its_retries(
    images, vgg19_mat, tmp_path, ray_env, reference
):
    """Two jobs, --retries 1: the first job's worker is killed once, the second's twice."""
    out = tmp_path / "batch"
    first, second = out / "1-cat-stone", out / "2-cat-stone"
    argv = [images / "cat.png", images / "stone.png", "--sweep", "seed=8,9", "--weights",
            vgg19_mat, *JOB, "--workers", 2, "--retries", 1, "--output-dir", out]  # fmt: skip
    with ended(start_batch(ray_env, *argv)) as batch:
        wait_until(batch, saved(first, 3), "3 iterations of job 1")
        kill_worker(first)
        wait_until(batch, saved(second, 3), "3 iterations of job 2")
        kill_worker(second)
        wait_until(batch, lambda: "resumed" in manifest_of(second), "job 2 again")
        wait_until(batch, saved(second, 1), "an iteration of job 2 again")
        kill_worker(second)
        stdout, err = batch.communicate(timeout=300)

    assert batch.returncode == 1
    record = read_json(out / "batch.json")
    assert record["status"] == "failed"
    assert [(j["status"], j["attempts"]) for j in record["jobs"]] == [("finished", 2),
                                                                     ("failed", 2)]  # fmt: skip
    assert len(manifest_of(first)["resumed"]) == 1
    same_run(first, reference)  # continued from its checkpoint: the same images
    assert one_line(err), err  # the failed job, and where its log is
    assert err.startswith("neural_art.py: job 2-cat-stone (CONTENT STYLE, --sweep seed=9) "
                          "failed: its worker died, in 2 attempts: ")  # fmt: skip
    assert err.endswith(f"; its log: {out / 'logs' / '2-cat-stone.log'}\n")
    assert "Done: 1 of 2 jobs finished, 1 failed" in stdout


def test_ctrl_c_stops_a_batch_and_resume_skips_finished_jobs_and_continues_the_others(
    images, vgg19_mat, tmp_path, ray_env, reference
):
    # one job at a time: job 2 starts when job 1 has finished, so it has all its iterations
    # but 3 still to do when Ctrl-C comes (two at once, job 1's start and its pictures can
    # take as long as job 2's 30 iterations on a loaded machine); job 2 with the threads of
    # the reference, a job beside another
    jobs = write_csv(tmp_path / "jobs.csv", f"content,style,iterations,threads\n"
                     f"{images / 'dog.png'},{images / 'wave.png'},4,\n"
                     f"{images / 'cat.png'},{images / 'stone.png'},,{THREADS}\n")  # fmt: skip
    out = tmp_path / "batch"
    first, second = out / "1-dog-wave", out / "2-cat-stone"
    argv = ["--batch", jobs, "--weights", vgg19_mat, *JOB, "--seed", 8, "--workers", 1,
            "--output-dir", out]  # fmt: skip
    with ended(start_batch(ray_env, *argv)) as batch:
        wait_until(batch, lambda: manifest_of(first).get("status") == "finished", "job 1 done")
        wait_until(batch, saved(second, 3), "3 iterations of job 2")
        os.killpg(batch.pid, signal.SIGINT)  # as Ctrl-C on a terminal
        _, err = batch.communicate(timeout=300)

    assert batch.returncode == 130, err
    assert one_line(err), err
    assert "the batch was interrupted with 1 of 2 jobs finished" in err
    assert f"--resume {out}" in err
    record = read_json(out / "batch.json")
    assert record["status"] == "interrupted"
    assert [j["status"] for j in record["jobs"]] == ["finished", "interrupted"]
    stopped = manifest_of(second)
    assert stopped["status"] == "interrupted"
    last = stopped["last_checkpoint"]["iteration"]
    assert 2 <= last < 29
    kept = {p.name: p.read_bytes() for p in first.iterdir()}

    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        assert run_cli("--resume", out) == 0
    assert "(1 to run)" in stdout.getvalue()
    assert {p.name: p.read_bytes() for p in first.iterdir()} == kept  # skipped
    resumed = manifest_of(second)
    assert resumed["status"] == "finished" and resumed["resumed"] == [last]
    record = read_json(out / "batch.json")
    assert record["status"] == "finished"
    assert [(j["status"], j["attempts"]) for j in record["jobs"]] == [("finished", 1),
                                                                     ("finished", 2)]  # fmt: skip
    same_run(second, reference)


def test_resume_of_a_batch_takes_only_the_options_of_how_it_runs(tmp_path, capsys):
    (tmp_path / "batch.json").write_text("{}", encoding="utf-8")
    assert run_cli("--resume", tmp_path, "--iterations", 9) == 2
    err = capsys.readouterr().err
    assert one_line(err)
    assert (
        "only --workers, --ray-address and --retries may be given with it, not --iterations" in err
    )


# 5. A batch on a Ray cluster, by its address


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_ports() -> list[str]:
    """Free ports for the services of one Ray node (two nodes share this machine)."""
    names = ["--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
             "--dashboard-agent-grpc-port", "--runtime-env-agent-port",
             "--metrics-export-port"]  # fmt: skip
    return [str(a) for name in names for a in (name, free_port())]


@pytest.fixture
def ray_cluster(ray_env, tmp_path):
    """A Ray cluster on this machine, a head node and a worker node with one core each,
    started with `ray start --block` (each in its own process group); stopped afterwards,
    however the test ends, and its processes checked to be gone. Its address."""
    port = free_port()
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--block"]
    head = [RAY, "start", "--head", "--port", port, "--include-dashboard", "false",
            "--dashboard-port", free_port(), "--ray-client-server-port", free_port(),
            "--temp-dir", ray_env["RAY_TMPDIR"], "--disable-usage-stats", *common,
            *node_ports()]  # fmt: skip
    worker = [RAY, "start", "--address", f"127.0.0.1:{port}", *common, *node_ports()]
    nodes = []
    try:
        for argv, log in ((head, "head.log"), (worker, "worker.log")):
            with open(tmp_path / log, "w", encoding="utf-8") as file:
                argv = [str(a) for a in argv]
                nodes.append(subprocess.Popen(argv, env=ray_env, stdout=file, cwd=tmp_path,
                                              stderr=subprocess.STDOUT,
                                              start_new_session=True))  # fmt: skip
            wait_until(nodes[-1], started(tmp_path / log), f"Ray's node ({log})")
        yield f"127.0.0.1:{port}"
    finally:
        for node in reversed(nodes):
            node.send_signal(signal.SIGTERM)  # ray start --block stops its node's processes
        for node in reversed(nodes):
            try:
                node.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait()
        assert not processes_in_groups_of(nodes)


def started(log: Path) -> Callable[[], bool]:
    """Whether `ray start` says in its `log` that its node runs."""
    return lambda: "Ray runtime started" in log.read_text(encoding="utf-8", errors="replace")


def processes_in_groups_of(nodes: list[subprocess.Popen]) -> list[str]:
    """The command lines of the processes still alive in the process groups of `nodes`."""
    groups = {node.pid for node in nodes}
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.getpgid(int(entry.name)) in groups:
                    alive.append((entry / "cmdline").read_text(errors="replace"))
    return alive


def test_a_batch_runs_on_a_ray_cluster_by_its_address(
    ray_cluster, images, vgg19_mat, tmp_path, ray_env, reference
):
    out = tmp_path / "batch"
    argv = [images / "cat.png", images / "stone.png", "--sweep", "seed=8,9", "--weights",
            vgg19_mat, *JOB, "--threads", THREADS, "--workers", 2,
            "--ray-address", ray_cluster, "--output-dir", out]  # fmt: skip
    with ended(start_batch(ray_env, *argv)) as batch:
        stdout, err = batch.communicate(timeout=600)
    assert batch.returncode == 0, err
    assert f"on the Ray cluster at {ray_cluster} (2 nodes, 2 cores): 2 at a time" in stdout
    jobs = read_json(out / "batch.json")["jobs"]
    assert [job["status"] for job in jobs] == ["finished", "finished"]
    assert len({job["node"] for job in jobs}) == 2  # one core a node: a job on each
    same_run(out / "1-cat-stone", reference)


# 6. A cluster started as the README says, and addresses where none admits the batch


def user_environment(home: Path) -> dict:
    """A user's environment on this machine with `home` as the home folder: this process's
    without any of Ray's variables (the tests' token among them), and Ray's usage
    statistics off (Ray would send them off this machine)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("RAY_")}
    return {**env, "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0"}


def live_processes() -> dict[int, tuple[str, int, int]]:
    """This machine's processes that have not ended: pid -> (name, parent's pid, group)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                stat = (entry / "stat").read_text(errors="replace")
                name = stat[stat.index("(") + 1 : stat.rindex(")")]
                state, parent, group = stat[stat.rindex(")") + 2 :].split()[:3]
                if state not in ("Z", "X"):  # a zombie has ended
                    table[int(entry.name)] = (name, int(parent), int(group))
    return table


def cluster_processes(group: int) -> dict[int, str]:
    """The processes (pid -> name) of the Ray that `ray start` started in process group
    `group`: those of the group and their descendants (Ray's workers make groups of
    their own)."""
    table = live_processes()
    found = {pid for pid, (_, _, g) in table.items() if g == group}
    while children := {pid for pid, (_, p, _) in table.items() if p in found} - found:
        found |= children
    return {pid: table[pid][0] for pid in found}


def stop_cluster(group: int) -> None:
    """Stop the Ray of process group `group` as `ray stop` stops a machine's Ray (which
    would also stop the Rays of other test runs here): the raylet, then the others, then
    the GCS, each sent SIGTERM, then SIGKILL when it has not ended within 5 s."""
    processes = cluster_processes(group)
    stage = {"raylet": 0, "gcs_server": 2}
    for step in range(3):
        pids = [pid for pid, name in processes.items() if stage.get(name, 1) == step]
        for sent in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sent)
            grace = time.monotonic() + 5
            while (pids := [p for p in pids if p in live_processes()]) and time.monotonic() < grace:
                time.sleep(0.1)
    assert not cluster_processes(group)


@contextlib.contextmanager
def ray_started(env: dict, *argv) -> Iterator[str]:
    """`ray start ARGV` run as a user runs it (it starts Ray's processes and returns), in
    a process group of its own; what it printed. Its Ray is stopped after the block,
    however the block ends."""
    start = subprocess.Popen([str(RAY), "start", *map(str, argv)], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)  # fmt: skip
    try:
        printed, _ = start.communicate()
        assert start.returncode == 0, printed
        yield printed
    finally:
        stop_cluster(start.pid)


@pytest.fixture
def session_folder():
    """A temporary folder for a Ray session, removed afterwards; with a short path, since
    Ray's socket paths in it must be shorter than 108 bytes."""
    folder = tempfile.mkdtemp(prefix="nstray")
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


def test_a_cluster_started_as_the_readme_says_runs_a_batch_by_its_address(
    images, vgg19_mat, tmp_path, session_folder
):
    """The README's steps on one machine, by a user who has a Ray token in
    ~/.ray/auth_token (a batch on Ray started on this machine leaves one there, as does
    `ray get-auth-token --generate`): `ray start --head --port P` starts a cluster that
    admits only clients sending that token, and a batch with `--ray-address 127.0.0.1:P`
    runs on it, from an environment that names no token. A user elsewhere, without the
    token or with another one, is refused in one line that says what to set (the
    cluster test above runs a batch with those variables set). The three try at once: a
    refused ray.init tries for about 20 s, which the batch's run covers. The cluster keeps
    its session in a temporary folder (--temp-dir)."""
    env = user_environment(tmp_path / "home")
    token = subprocess.run([RAY, "get-auth-token", "--generate"], env=env, capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    assert (tmp_path / "home" / ".ray" / "auth_token").read_text(encoding="utf-8") == token
    jobs = write_csv(tmp_path / "jobs.csv", f"content,style,seed\n"
                     f"{images / 'cat.png'},{images / 'stone.png'},8\n"
                     f"{images / 'dog.png'},{images / 'wave.png'},9\n")  # fmt: skip
    port = free_port()
    address = f"127.0.0.1:{port}"

    def batch_into(out: Path) -> list:
        return ["--batch", jobs, "--weights", vgg19_mat, *SMALL, "--output-dir", out,
                "--ray-address", address]  # fmt: skip

    elsewhere = user_environment(tmp_path / "elsewhere")
    another = {**elsewhere, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 32}
    with ray_started(env, "--head", "--port", port, "--temp-dir", session_folder) as printed:
        assert "Token authentication is enabled for this Ray cluster" in printed
        with (  # the user and the two others try at the same time, each on their own
            ended(start_batch(env, *batch_into(tmp_path / "album"))) as batch,
            ended(start_batch(elsewhere, *batch_into(tmp_path / "refused"))) as refused,
            ended(start_batch(another, *batch_into(tmp_path / "mistaken"))) as mistaken,
        ):
            stdout, batch_err = batch.communicate()
            _, err = refused.communicate()
            _, mistaken_err = mistaken.communicate()
    assert batch.returncode == 0, batch_err
    assert f"on the Ray cluster at {address} (1 node, " in stdout
    record = read_json(tmp_path / "album" / "batch.json")
    assert [job["status"] for job in record["jobs"]] == ["finished", "finished"]
    advice = (
        "; set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN to the token that `ray get-auth-token` "
        "prints on its head node\n"
    )
    assert refused.returncode == 2
    assert one_line(err), err
    assert f"--ray-address {address}: the Ray cluster there wants its token{advice}" in err
    assert not (tmp_path / "refused").exists()
    assert mistaken.returncode == 2
    assert one_line(mistaken_err), mistaken_err
    assert (
        f"--ray-address {address}: the Ray cluster there refuses this machine's token{advice}"
    ) in mistaken_err
    assert not (tmp_path / "mistaken").exists()


def test_an_address_where_no_cluster_answers_is_refused_before_anything_is_written(
    images, vgg19_mat, tmp_path, capsys
):
    port = free_port()  # nothing listens there
    out = tmp_path / "album"
    argv = [images / "cat.png", images / "stone.png", "--sweep", "seed=8,9", "--weights",
            vgg19_mat, "--output-dir", out, "--ray-address", f"127.0.0.1:{port}"]  # fmt: skip
    assert run_cli(*argv) == 2
    err = capsys.readouterr().err
    assert one_line(err), err
    assert (
        f"--ray-address 127.0.0.1:{port}: no Ray cluster answers there (Connection refused); "
        f"start one with `ray start --head --port {port}`, or give the address that "
        f"`ray start --head` printed\n"
    ) in err
    assert not out.exists()


class Refusing(http.server.BaseHTTPRequestHandler):
    """An HTTP/1 server's handler that answers every request with an error (it serves no
    method) and logs nothing."""

    def log_message(self, format, *args):
        pass


def test_an_address_where_another_server_answers_is_refused_before_anything_is_written(
    images, vgg19_mat, tmp_path, capsys
):
    """A port where an HTTP/1 server answers (a web server, such as Ray's dashboard) is
    no Ray cluster: the batch is refused at once, before anything is written (ray.init
    would try to connect to it for many minutes)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    out = tmp_path / "album"
    argv = [images / "cat.png", images / "stone.png", "--sweep", "seed=8,9", "--weights",
            vgg19_mat, "--output-dir", out, "--ray-address", f"127.0.0.1:{port}"]  # fmt: skip
    try:
        assert run_cli(*argv) == 2
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert one_line(err), err
    assert (
        f"--ray-address 127.0.0.1:{port}: no Ray cluster answers there (the server there "
        f"speaks no gRPC); start one with `ray start --head --port {port}`, or give the "
        f"address that `ray start --head` printed\n"
    ) in err
    assert not out.exists()
