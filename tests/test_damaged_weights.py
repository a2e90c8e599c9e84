"""A damaged weights file never crashes the program.

bench/fuzz.py found .mat files that made scipy's reader kill the process with a
segmentation fault (seed 20261201 and seed 777, 60 s each). They are made here
again from the fuzz script's seed files (tiny kernels, tests/matconvnet_files.py)
and the mutations it recorded. Each must end a run, --check-weights and --resume
with exit status 2 and one line naming the file, without a traceback.

Two defences stand between such a file and a crash, and each is tested on its
own: the .mat structure walk (nst.weights.mat_structure) refuses these files before
scipy reads them, with a precise message; and any file whose checksum is not a
published one is read in a child process (nst.weights.guard), so a file that
got past the walk still ends in one clear line when the reader crashes on it.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_runs import run_cli
from matconvnet_files import tiny_kernels, write_keras_h5, write_vgg_mat

import nst.weights.guard
from nst.weights.guard import ReaderCrashError, read_weights
from nst.weights.sources import PublishedFile, digests

CRASHERS = {
    # name: ((layout, bias shape) of the seed file, mutations, what the walk says)
    "seed 20261201, input 1071": (
        ("current", "row"),
        [("set", 620, 4, 0x7F), ("set", 521, 3, 0x7F)],
        "the array at byte 504 lacks its imaginary part",
    ),
    "seed 777, worker 777000, input 2151": (
        ("beta16", "column"),
        [("flip", 619948, 3), ("flip", 770, 6)],
        "the array at byte 619904 lacks its real part",
    ),
    "seed 777, worker 777001, input 327": (
        ("beta16", "column"),
        [("flip", 681, 1), ("flip", 273, 1), ("flip", 625, 3)],
        "the array at byte 608 lacks its imaginary part",
    ),
}
"""The crashing inputs bench/fuzz.py saved, as '<seed file> + <mutations>'.
("set", offset, count, value): count bytes set to value; ("flip", offset, bit): one bit."""

SMALL = ("--width", 16, "--height", 12, "--iterations", 2, "--save-every", 1, "--seed", 1)
WALK_OFF = (
    "import runpy, nst.weights.mat_structure as walk; walk.check_mat_structure = lambda path: []; "
    "runpy.run_module('nst.weights.guard', run_name='__main__')"
)
"""The guard's child with the .mat structure walk switched off: scipy gets any file."""


def make_crasher(folder: Path, name: str) -> Path:
    """The crashing input `name` of CRASHERS, written into `folder`."""
    (layout, bias_shape), mutations, _ = CRASHERS[name]
    seed = write_vgg_mat(folder / "seed.mat", tiny_kernels(), layout, bias_shape, compress=False)
    data = bytearray(seed.read_bytes())
    for kind, offset, *args in mutations:
        if kind == "set":
            count, value = args
            data[offset : offset + count] = bytes([value]) * count
        else:
            data[offset] ^= 1 << args[0]
    path = folder / f"damaged {name.replace(',', '')}.mat"
    path.write_bytes(data)
    return path


def one_line_naming(path: Path, status: int, err: str) -> bool:
    return (
        status == 2
        and err.count("\n") == 1
        and f"weights file {path}" in err
        and ("Traceback" not in err)
    )


@pytest.fixture(params=list(CRASHERS))
def crasher(request, tmp_path) -> tuple[Path, str]:
    """A crashing input and what the structure walk says of it."""
    return make_crasher(tmp_path, request.param), CRASHERS[request.param][2]


@pytest.mark.skipif(sys.platform == "win32", reason="signals are POSIX")
def test_each_recorded_input_really_crashes_scipy(crasher):
    """The inputs are what the fuzz script found: scipy.io.loadmat (the pinned version)
    dies on each with a segmentation fault, so the refusals below mean something."""
    path, _ = crasher
    code = "import sys, scipy.io; scipy.io.loadmat(sys.argv[1])"
    reader = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True)
    assert reader.returncode == -signal.SIGSEGV


def test_a_run_ends_with_one_line_and_status_2(crasher, tiny_images, tmp_path, capsys):
    path, says = crasher
    status = run_cli(*tiny_images, *SMALL, "--weights", path, "--output-dir", tmp_path / "out")
    err = capsys.readouterr().err
    assert one_line_naming(path, status, err)
    assert says in err and "incomplete or damaged" in err
    assert not (tmp_path / "out").exists()


def test_check_weights_reports_it_with_status_2(crasher, capsys):
    path, says = crasher
    assert run_cli("--check-weights", "--weights", path) == 2
    out, err = capsys.readouterr()
    assert f"structure: not usable: weights file {path}" in out and says in out
    assert f"format:    MATLAB .mat, damaged ({says})" in out
    assert "Traceback" not in out + err


def test_resume_ends_with_one_line_and_status_2_and_keeps_the_run(
    tiny_images, vgg19_mat, tmp_path, capsys
):
    out = tmp_path / "run"
    assert run_cli(*tiny_images, *SMALL, "--weights", vgg19_mat, "--output-dir", out) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    path = make_crasher(tmp_path, "seed 20261201, input 1071")
    capsys.readouterr()
    status = run_cli("--resume", out, "--iterations", 4, "--weights", path)
    assert one_line_naming(path, status, capsys.readouterr().err)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.skipif(sys.platform == "win32", reason="signals are POSIX")
def test_a_reader_crash_that_gets_past_the_walk_becomes_one_clear_line(
    crasher, tiny_images, tmp_path, monkeypatch, capsys
):
    path, _ = crasher
    monkeypatch.setattr(nst.weights.guard, "CHILD_COMMAND", (sys.executable, "-c", WALK_OFF))
    with pytest.raises(ReaderCrashError) as caught:
        read_weights(path)
    assert caught.value.returncode == -signal.SIGSEGV
    assert str(caught.value) == (
        f"weights file {path} ({path.stat().st_size:,} bytes) is damaged: the MATLAB .mat "
        "reader crashed (SIGSEGV) on it; download "
        "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat again"
    )
    status = run_cli(*tiny_images, *SMALL, "--weights", path, "--output-dir", tmp_path / "out")
    assert one_line_naming(path, status, capsys.readouterr().err)
    assert run_cli("--check-weights", "--weights", path) == 2
    assert "reader crashed (SIGSEGV)" in capsys.readouterr().out


@pytest.fixture(params=["mat", "h5"])
def unpublished_file(request, tmp_path) -> Path:
    """A well-formed stand-in weights file of each format (tiny kernels: refused, if read)."""
    if request.param == "h5":
        return write_keras_h5(tmp_path / "weights.h5", tiny_kernels())
    return write_vgg_mat(tmp_path / "weights.mat", tiny_kernels())


@pytest.mark.skipif(sys.platform == "win32", reason="signals are POSIX")
@pytest.mark.parametrize(
    ("child", "returncode", "what"),
    [
        ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", -11, "crashed (SIGSEGV)"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGBUS)", -7, "crashed (SIGBUS)"),
        ("import os, signal; os.kill(os.getpid(), 9)", -9, "was killed (SIGKILL: out of memory?)"),
        ("raise RuntimeError('a bug')", 1, "failed (exit status 1)"),
        ("print('OK'); print('short')", 0, "sent 6 of 80,097,536 bytes"),
        ("import time; time.sleep(30)", None, "did not finish within 1 s"),
    ],
)
def test_however_the_child_ends_the_file_is_named_in_one_sentence(
    unpublished_file, monkeypatch, child, returncode, what
):
    monkeypatch.setattr(nst.weights.guard, "CHILD_COMMAND", (sys.executable, "-c", child))
    seconds = 1.0 if "sleep" in child else 600.0  # only the sleeper meets the time limit
    monkeypatch.setattr(nst.weights.guard, "CHILD_SECONDS", seconds)
    reader = "HDF5" if unpublished_file.suffix == ".h5" else "MATLAB .mat"
    with pytest.raises(ReaderCrashError) as caught:
        read_weights(unpublished_file)
    message = str(caught.value)
    assert message.startswith(f"weights file {unpublished_file} (")
    assert f"is damaged: the {reader} reader {what} on it; download " in message
    assert "\n" not in message and caught.value.returncode == returncode


def test_a_child_that_cannot_start_is_one_clear_line(unpublished_file, tmp_path, monkeypatch):
    missing = tmp_path / "no-python"
    monkeypatch.setattr(nst.weights.guard, "CHILD_COMMAND", (str(missing), "-m", "x"))
    with pytest.raises(nst.weights.guard.WeightsError) as caught:
        read_weights(unpublished_file)
    assert str(caught.value) == (
        f"weights file {unpublished_file} cannot be read: starting {missing} to read it "
        "failed (No such file or directory)"
    )


def test_the_childs_own_refusal_arrives_as_it_was_written(unpublished_file):
    """The tiny kernels have the wrong shapes: the child's WeightsError comes back whole."""
    with pytest.raises(nst.weights.guard.WeightsError) as caught:
        read_weights(unpublished_file)
    assert not isinstance(caught.value, ReaderCrashError)
    assert str(caught.value) == (
        f"weights file {unpublished_file}, layer conv1_1: kernel has shape (3, 3, 2, 2), "
        "VGG-19 has (3, 3, 3, 64)"
    )


def test_an_unpublished_file_is_read_in_a_child_process(vgg19_mat, vgg_kernels, monkeypatch):
    def in_this_process(*args, **kwargs):
        raise AssertionError("an unpublished file was parsed in the program's process")

    monkeypatch.setattr(nst.weights.guard, "parse_weights", in_this_process)
    read = read_weights(vgg19_mat)
    for name, (W, b) in vgg_kernels.items():
        assert read[name][0].dtype == np.float32 and read[name][0].flags.writeable
        np.testing.assert_array_equal(read[name][0], W)
        np.testing.assert_array_equal(read[name][1], b)


def test_a_published_file_is_read_in_this_process_without_the_walk(
    vgg19_mat, vgg_kernels, monkeypatch
):
    """A file whose checksum is published is known to be good: no child, no structure walk."""
    md5 = hashlib.md5(vgg19_mat.read_bytes()).hexdigest()
    published = (PublishedFile("a stand-in, as if published", "file:///", md5=md5),)
    monkeypatch.setattr("nst.weights.sources.PUBLISHED", published)

    def refuse(*args, **kwargs):
        raise AssertionError("a published file was read in a child or walked")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr("nst.weights.formats.check_mat_structure", refuse)
    read = read_weights(vgg19_mat)
    np.testing.assert_array_equal(read["conv5_4"][0], vgg_kernels["conv5_4"][0])


def test_a_replaced_file_gets_new_checksums(tmp_path):
    """The checksums are remembered for a file, but not past a change of it (a damaged
    download replaced by a complete one)."""
    path = tmp_path / "weights.mat"
    path.write_bytes(b"MATLAB damaged")
    first = digests(path)
    path.write_bytes(b"MATLAB complete file")
    assert digests(path) != first
    assert digests(path) == (
        hashlib.md5(b"MATLAB complete file").hexdigest(),
        hashlib.sha256(b"MATLAB complete file").hexdigest(),
    )
