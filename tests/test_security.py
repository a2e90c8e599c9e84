"""Security: what the program promises about the files it reads, fetches and writes.

1. Weights and checkpoints are read as data only: nothing in a file can make
   the program unpickle it or run code. A pickle payload in a weights file
   (.npy, .npz, raw pickle, whatever its name) or in checkpoint.npz is refused
   with a clear InputError (exit status 2 on the command line) and is never
   unpickled. (scipy.io.loadmat and h5py, which read .mat and .h5 files, have
   no unpickling path; a MATLAB object in a .mat is read as plain fields.)
2. A downloaded file is used only when its checksum is a published one,
   whatever host or mirror served it.
3. No shell command, subprocess, eval/exec or pickle appears in the program's
   source: none is there for user input to reach. The exceptions, reviewed:
   nst/weights/guard.py starts this Python on itself (a fixed argument list,
   no shell) to read a weights file that may crash scipy or h5py, and
   --run-notebook runs the notebook the user names (nst/tf1/notebook_run.py).
4. A run writes only inside the --output-dir the user chose, which is
   interpreted exactly as given, '..' components included.
"""

from __future__ import annotations

import ast
import hashlib
import json
import pathlib
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from cli_runs import run_cli
from weights_server import WeightsServer

from nst.errors import InputError
from nst.run.folder import CHECKPOINT, RunFolder
from nst.settings import Settings
from nst.weights import sources as weights_sources
from nst.weights.download import DownloadError, download
from nst.weights.guard import read_weights
from nst.weights.sources import PublishedFile

ROOT = Path(__file__).resolve().parent.parent
PROGRAM_SOURCES = sorted((ROOT / "nst").rglob("*.py")) + [ROOT / "neural_art.py",
                                                        ROOT / "nst_utils.py"]  # fmt: skip


class TouchOnUnpickle:
    """A stand-in for malicious code in a pickle: unpickling it creates the file `marker`."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def payload_array(marker: Path) -> np.ndarray:
    """An object array holding a TouchOnUnpickle: numpy stores it as a pickle."""
    array = np.empty(2, dtype=object)
    array[0], array[1] = TouchOnUnpickle(marker), "conv1_1"
    return array


def write_npy(path: Path, marker: Path) -> Path:
    """A .npy file whose array is a pickle payload."""
    with path.open("wb") as f:
        np.save(f, payload_array(marker), allow_pickle=True)
    return path


def write_npz(path: Path, marker: Path) -> Path:
    """A .npz archive with a plain array and a pickle payload."""
    with path.open("wb") as f:
        np.savez(f, conv1_1=np.zeros((3, 3, 3, 64), np.float32), layers=payload_array(marker))
    return path


def write_raw_pickle(path: Path, marker: Path) -> Path:
    """A bare pickle file holding the payload."""
    path.write_bytes(pickle.dumps({"layers": TouchOnUnpickle(marker)}))
    return path


WRITERS = {"npy": write_npy, "npz": write_npz, "pickle": write_raw_pickle}


# 1. Weights and checkpoints are data only


@pytest.mark.parametrize("kind", ["npy", "npz"])
def test_the_payload_is_live_when_numpy_is_allowed_to_unpickle(tmp_path, kind):
    """The files below really execute code if unpickled, so the refusals mean something."""
    marker = tmp_path / "unpickled"
    path = WRITERS[kind](tmp_path / f"weights.{kind}", marker)
    loaded = np.load(path, allow_pickle=True)
    if kind == "npz":
        with loaded:
            loaded["layers"]
    assert marker.exists()


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("npy", "weights.npy"),
        ("npy", "imagenet-vgg-verydeep-19.mat"),  # the name promises a .mat; the bytes decide
        ("npz", "weights.npz"),
        ("npz", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        ("pickle", "weights.pkl"),
        ("pickle", "imagenet-vgg-verydeep-19.mat"),
    ],
)
def test_a_pickle_given_as_weights_is_refused_without_unpickling(tmp_path, kind, name):
    marker = tmp_path / "unpickled"
    path = WRITERS[kind](tmp_path / name, marker)
    with pytest.raises(InputError, match=re.escape(str(path))):
        read_weights(path)
    assert not marker.exists()


def test_the_command_line_refuses_a_pickle_as_weights_with_status_2(tiny_images, tmp_path, capsys):
    content, style = tiny_images
    marker = tmp_path / "unpickled"
    path = write_npy(tmp_path / "weights.npy", marker)
    status = run_cli(content, style, "--weights", path, "--width", 16, "--height", 16,
                     "--iterations", 1, "--output-dir", tmp_path / "out")  # fmt: skip
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err
    assert run_cli("--check-weights", "--weights", path) == 2
    assert not marker.exists()
    assert not (tmp_path / "out").exists()  # refused before the output folder is made


def test_a_matlab_object_in_a_mat_file_is_read_as_plain_data(tmp_path):
    """A MATLAB class instance (here one claiming to be MatConvNet's DagNN) carries no code
    that scipy could run: it is read as fields, and refused as not VGG-19."""
    fields = np.zeros((1, 1), dtype=[("name", object), ("type", object), ("weights", object)])
    fields[0, 0] = ("conv1_1", "conv", np.zeros((1, 0)))
    path = tmp_path / "dagnn.mat"
    scipy.io.savemat(path, {"layers": scipy.io.matlab.MatlabObject(fields, "dagnn.DagNN")})
    assert scipy.io.loadmat(path)["layers"].classname == "dagnn.DagNN"
    with pytest.raises(InputError, match="not VGG-19"):
        read_weights(path)


def run_folder_with_checkpoint(folder: Path, tiny_images, weights: Path, arrays: dict) -> Path:
    """A run folder as a stopped 6-iteration run leaves it, with checkpoint.npz = `arrays`."""
    content, style = tiny_images
    settings = Settings(content=content, styles=(style,), weights=weights, width=32, height=24,
                        iterations=6, save_every=2, seed=1, output_dir=folder)  # fmt: skip
    folder.mkdir()
    RunFolder.create(folder, settings, []).write_manifest()
    with (folder / CHECKPOINT).open("wb") as f:
        np.savez(f, **arrays)  # np.savez pickles object arrays without asking
    return folder


PLAIN = {"i": np.int64(2), "image": np.zeros((1, 24, 32, 3), np.float32),
         "state_0": np.zeros(3, np.float32)}  # fmt: skip


@pytest.mark.parametrize("where", ["i", "image", "state_0", "state_1"])
def test_a_checkpoint_holding_a_pickle_is_refused_without_unpickling(
    tmp_path, tiny_images, vgg19_mat, where
):
    marker = tmp_path / "unpickled"
    folder = run_folder_with_checkpoint(
        tmp_path / "run", tiny_images, vgg19_mat, {**PLAIN, where: payload_array(marker)}
    )
    with pytest.raises(InputError, match=f"{CHECKPOINT} cannot be read"):
        RunFolder.open(folder).load_checkpoint()
    assert not marker.exists()


def test_resume_refuses_a_checkpoint_holding_a_pickle_with_status_2(
    tmp_path, tiny_images, vgg19_mat, capsys
):
    marker = tmp_path / "unpickled"
    folder = run_folder_with_checkpoint(
        tmp_path / "run", tiny_images, vgg19_mat, {**PLAIN, "image": payload_array(marker)}
    )
    assert run_cli("--resume", folder) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{CHECKPOINT} cannot be read" in err
    assert not marker.exists()


# 2. A download is kept only when its checksum is published
#
# tests/test_download.py covers the rest: test_a_file_with_an_unpublished_checksum_is_deleted
# and test_by_default_only_the_published_vgg_files_are_accepted (nothing is kept, not even the
# .part), and test_the_main_job_fetches_missing_weights_then_runs (a genuine file is used).


def test_a_mirror_serving_other_bytes_is_not_kept_and_serving_the_genuine_ones_is(tmp_path):
    genuine = np.random.default_rng(3).bytes(200_000)
    published = PublishedFile("test weights", "https://publisher.example/w.mat",
                              hashlib.md5(genuine).hexdigest())  # fmt: skip
    tampered = bytearray(genuine)
    tampered[100_000] ^= 1
    mirror = WeightsServer(bytes(tampered))  # 127.0.0.1: not the publisher's host
    try:
        with pytest.raises(DownloadError, match="not a published VGG-19 file"):
            download(mirror.url, tmp_path / "w.mat", [published])
        assert list(tmp_path.iterdir()) == []
        mirror.payload = genuine
        assert download(mirror.url, tmp_path / "w.mat", [published]) == published
    finally:
        mirror.close()
    assert (tmp_path / "w.mat").read_bytes() == genuine


def test_download_weights_from_a_mirror_with_a_wrong_checksum_keeps_nothing(
    tmp_path, monkeypatch, capsys
):
    genuine = np.random.default_rng(4).bytes(100_000)
    published = PublishedFile("test weights", "x", hashlib.md5(genuine).hexdigest())
    monkeypatch.setattr(weights_sources, "PUBLISHED", (published,))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    mirror = WeightsServer(genuine[:-1] + b"!")
    try:
        assert run_cli("--download-weights", "--weights-url", mirror.url) == 2
    finally:
        mirror.close()
    assert "not a published VGG-19 file" in capsys.readouterr().err
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


# 3. No shell, subprocess, eval/exec or pickle in the program's source

FORBIDDEN_MODULES = {"subprocess", "pickle", "_pickle", "cPickle", "dill", "cloudpickle",
                     "joblib", "marshal", "shelve", "pty", "commands", "popen2"}  # fmt: skip
FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__", "execfile"}
FORBIDDEN_OS_CALLS = {"system", "popen", "startfile", "posix_spawn", "posix_spawnp", "fork",
                      "forkpty", "execl", "execle", "execlp", "execlpe", "execv", "execve",
                      "execvp", "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv",
                      "spawnve", "spawnvp", "spawnvpe"}  # fmt: skip
ALLOWED = {
    ("nst/weights/guard.py", "import subprocess"),
    ("nst/tf1/notebook_run.py", "exec()"),
    ("nst/tf1/notebook_run.py", "eval()"),
    ("nst/tf1/notebook_run.py", "compile()"),
}
"""(file name, finding) pairs accepted after review: nst/weights/guard.py runs itself as a
child process (this Python, a list argv, no shell) to read a weights file that may crash
scipy or h5py; nst/tf1/notebook_run.py runs the cells of the notebook the user names with
--run-notebook, as Jupyter would (no file the program reads otherwise is run)."""


def risky_constructs(source: str) -> list[str]:
    """What in `source` could run a shell command or code, or unpickle data."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names
                      if a.name.split(".")[0] in FORBIDDEN_MODULES]  # fmt: skip
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"from {module} import")
            if module == "os":
                found += [f"from os import {a.name}" for a in node.names
                          if a.name in FORBIDDEN_OS_CALLS]  # fmt: skip
            if module == "importlib":
                found += [f"from importlib import {a.name}" for a in node.names
                          if a.name == "import_module"]  # fmt: skip
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_BUILTINS:
            found.append(f"{node.id}()")
        elif isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if owner == "os" and node.attr in FORBIDDEN_OS_CALLS:
                found.append(f"os.{node.attr}")
            if node.attr in ("import_module", "read_pickle", "unsafe_load"):
                found.append(f".{node.attr}")
        elif _unsafe_keyword(node):
            found.append(f"{node.arg}={ast.unparse(node.value)}")
        elif _numpy_load_without_allow_pickle(node):
            found.append("np.load without allow_pickle=False")
    return found


def _unsafe_keyword(node: ast.AST) -> bool:
    """shell=... or allow_pickle=... with anything but the constant False."""
    return (
        isinstance(node, ast.keyword)
        and node.arg in ("shell", "allow_pickle")
        and not (isinstance(node.value, ast.Constant) and node.value.value is False)
    )


def _numpy_load_without_allow_pickle(node: ast.AST) -> bool:
    """np.load(...) or numpy.load(...) that leaves allow_pickle to its default."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "load"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in ("np", "numpy")
        and not any(k.arg == "allow_pickle" for k in node.keywords)
    )


def test_the_scan_finds_each_risky_construct():
    """The scanner is not blind: each construct in this sample is reported."""
    sample = "\n".join([
        "import subprocess, pickle", "from os import system", "import os",
        "os.popen('ls')", "eval('1')", "exec('x = 1')", "run('ls', shell=True)",
        "np.load('a.npy')", "np.load('a.npy', allow_pickle=True)",
        "from importlib import import_module",
    ])  # fmt: skip
    assert sorted(risky_constructs(sample)) == sorted([
        "import subprocess", "import pickle", "from os import system", "os.popen", "eval()",
        "exec()", "shell=True", "np.load without allow_pickle=False", "allow_pickle=True",
        "from importlib import import_module",
    ])  # fmt: skip


def test_the_program_runs_no_shell_command_code_or_pickle():
    named = {p.relative_to(ROOT).as_posix() for p in PROGRAM_SOURCES}
    assert named >= {"neural_art.py", "nst_utils.py", "nst/weights/formats.py"}
    found = {
        (path.relative_to(ROOT).as_posix(), finding)
        for path in PROGRAM_SOURCES
        for finding in risky_constructs(path.read_text(encoding="utf-8"))
    }
    assert found - ALLOWED == set()


# 4. Outputs stay inside the output folder


def tree(folder: Path) -> dict[Path, bytes | None]:
    """Every file (with its bytes) and folder (None) under `folder`."""
    return {p: (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


def tiny_run(tiny_images, weights: Path, output_dir) -> list:
    """The arguments of a 2-iteration run on a 16x12 image into `output_dir`."""
    content, style = tiny_images
    return [content, style, "--weights", weights, "--width", 16, "--height", 12,
            "--iterations", 2, "--save-every", 1, "--seed", 1,
            "--output-dir", output_dir]  # fmt: skip


@pytest.mark.parametrize(
    ("working_dir", "output_dir", "lands_in"),
    [
        ("work", "results", "work/results"),
        ("work/a/b", "../../results/run", "work/results/run"),
        ("work/a/b", "../b/../../results", "work/results"),
    ],
)
def test_a_run_writes_only_inside_the_output_folder_where_the_user_pointed(
    tiny_images, vgg19_mat, tmp_path, monkeypatch, working_dir, output_dir, lands_in
):
    (tmp_path / working_dir).mkdir(parents=True)
    monkeypatch.chdir(tmp_path / working_dir)
    inputs = [*tiny_images, vgg19_mat]
    before, inputs_before = tree(tmp_path), {p: p.read_bytes() for p in inputs}
    inputs_folders = {p.parent: sorted(p.parent.iterdir()) for p in inputs}
    assert run_cli(*tiny_run(tiny_images, vgg19_mat, output_dir)) == 0
    out = tmp_path / lands_in
    new = set(tree(tmp_path)) - set(before)
    outside = {p for p in new if out not in (p, *p.parents)}
    assert outside <= set(out.parents)  # at most the folders leading to it, made for it
    assert {p.name for p in out.iterdir()} >= {"0.png", "1.png", "generated_image.jpg",
                                               "manifest.json", "checkpoint.npz"}  # fmt: skip
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary files
    assert {p: b for p, b in tree(tmp_path).items() if p in before} == before
    assert {p: p.read_bytes() for p in inputs} == inputs_before
    assert {p.parent: sorted(p.parent.iterdir()) for p in inputs} == inputs_folders
    recorded = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert Path(recorded["settings"]["output_dir"]).resolve() == out.resolve()
