"""The CPU kernels chosen before TensorFlow loads (nst.cpu_kernels)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nst import cpu_kernels
from nst.cpu_kernels import AVX2_ONEDNN, choose_cpu_kernels, kernel_environment
from nst.transfer import stylize  # loads TensorFlow

ROOT = Path(__file__).resolve().parent.parent
AVX2 = frozenset({"sse2", "avx", "fma", "avx2", "bmi2"})  # Zen 3, Haswell .. Comet Lake
SKYLAKE_X = AVX2 | {"avx512f", "avx512bw", "avx512dq"}  # AVX-512 without VNNI
ZEN4 = SKYLAKE_X | {"avx512_vnni", "avx512_bf16"}
ALDER_LAKE = AVX2 | {"avx_vnni"}


def chosen_for(flags, environ=None, linux_x86=True, gpu=False) -> dict[str, str]:
    return kernel_environment(frozenset(flags), environ or {}, linux_x86, gpu)


def test_an_avx2_cpu_gets_onednn_with_cached_kernels():
    assert chosen_for(AVX2) == {
        "TF_ENABLE_ONEDNN_OPTS": "1",
        "TF_ONEDNN_ASSUME_FROZEN_WEIGHTS": "1",
    }


def test_an_avx512_cpu_without_vnni_gets_it_too_as_tensorflow_leaves_onednn_off_there():
    assert chosen_for(SKYLAKE_X) == AVX2_ONEDNN


@pytest.mark.parametrize("flags", [ZEN4, ALDER_LAKE, AVX2 | {"amx_tile"}])
def test_nothing_changes_where_tensorflow_switches_onednn_on_itself(flags):
    assert chosen_for(flags) == {}


def test_nothing_changes_on_a_cpu_without_avx2_and_fma():
    assert chosen_for({"sse2", "avx"}) == {}
    assert chosen_for({"sse2", "avx", "avx2"}) == {}


def test_nothing_changes_off_linux_x86_or_with_a_gpu():
    assert chosen_for(AVX2, linux_x86=False) == {}
    assert chosen_for(AVX2, gpu=True) == {}


def test_the_users_own_setting_wins():
    assert chosen_for(AVX2, {"TF_ENABLE_ONEDNN_OPTS": "0"}) == {}
    assert chosen_for(AVX2, {"TF_ONEDNN_ASSUME_FROZEN_WEIGHTS": "0"}) == {
        "TF_ENABLE_ONEDNN_OPTS": "1"
    }


def test_nothing_is_set_once_tensorflow_is_loaded(monkeypatch):
    assert "tensorflow" in sys.modules  # loaded: it has read its environment
    monkeypatch.setattr(cpu_kernels, "cpu_flags", lambda: AVX2)
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert choose_cpu_kernels() == {}
    assert "TF_ENABLE_ONEDNN_OPTS" not in os.environ


def test_the_program_chooses_before_tensorflow_loads():
    """Importing the program's run module (as neural_art.py and batch workers do) on an AVX2
    CPU sets the variables while TensorFlow is not loaded yet (else nothing would be set)."""
    code = (
        "import json, nst.cpu_kernels as k\n"
        "k.cpu_flags = lambda: frozenset({'avx', 'avx2', 'fma'})\n"
        "k.linux_x86 = lambda: True\n"
        "k.gpu_driver_present = lambda: False\n"
        "import nst.run.painting, os, sys\n"
        "print(json.dumps([k.chosen, os.environ.get('TF_ENABLE_ONEDNN_OPTS'), "
        "'tensorflow' in sys.modules]))"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=environ
    )
    assert done.returncode == 0, done.stderr[-2000:]
    chosen, onednn, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert chosen == AVX2_ONEDNN and onednn == "1"
    assert loaded  # nst.run.painting did load TensorFlow, after the choice


RUN = """
import json, sys
from pathlib import Path
from nst.settings import Settings
from nst.transfer import stylize
content, style, weights = sys.argv[1:]
settings = Settings(content=Path(content), styles=(Path(style),), weights=Path(weights),
                    width=64, height=48, iterations=6, save_every=1, seed=3)
print(json.dumps([step.costs["total"] for step in stylize(settings)]))
"""


def test_the_avx2_kernels_give_the_same_costs_at_every_step(tiny_run, tiny_images, vgg19_mat):
    """oneDNN's AVX2 kernels with cached weights (forced here with ONEDNN_MAX_CPU_ISA on any
    x86 CPU) against this process's kernels: the same costs to float precision at every step,
    so no cached value goes stale while the pixels change."""
    settings = tiny_run.replace(width=64, height=48, iterations=6)
    expected = [step.costs["total"] for step in stylize(settings)]
    environ = {**os.environ, **AVX2_ONEDNN, "ONEDNN_MAX_CPU_ISA": "AVX2"}
    done = subprocess.run(
        [sys.executable, "-c", RUN, *map(str, tiny_images), str(vgg19_mat)],
        capture_output=True, text=True, cwd=ROOT, env=environ,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    costs = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(costs) == 6 and costs[-1] < 0.8 * costs[0]  # the picture changed
    assert costs == pytest.approx(expected, rel=1e-4)
