"""How TensorFlow runs the graphs: threads, XLA and bfloat16 (nst.tf_session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nst.cpu_kernels import cpu_flags
from nst.settings import Settings
from nst.tf1.api import tf as tf1
from nst.tf_session import Compute, describe_device
from nst.transfer import stylize

pytestmark = pytest.mark.usefixtures("kernels_in_memory")  # no weights file read


@pytest.fixture
def settings(tiny_run):
    return tiny_run.replace(iterations=3)


def totals(settings: Settings) -> list[float]:
    return [step.costs["total"] for step in stylize(settings)]


def cpu_has_bfloat16() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    return "avx512_bf16" in flags or "amx_bf16" in flags


def session_config(monkeypatch, compute: Compute):
    """The ConfigProto that compute.session passes to TensorFlow."""
    seen = {}
    monkeypatch.setattr(tf1, "Session", lambda graph, config: seen.setdefault("config", config))
    compute.session(tf1.Graph())
    return seen["config"]


def test_the_defaults_are_tensorflows(monkeypatch):
    config = session_config(monkeypatch, Compute())
    assert config == tf1.ConfigProto()


def test_threads_limit_the_threads_of_one_op(monkeypatch):
    assert session_config(monkeypatch, Compute(threads=1)).intra_op_parallelism_threads == 1


def test_one_thread_gives_the_same_costs_to_float_precision(settings):
    assert totals(settings.replace(threads=1)) == pytest.approx(totals(settings), rel=1e-5)


def test_xla_compiles_the_whole_graph_also_on_a_cpu(monkeypatch):
    monkeypatch.delenv("TF_XLA_FLAGS", raising=False)
    config = session_config(monkeypatch, Compute(xla=True))
    assert config.graph_options.optimizer_options.global_jit_level == 1  # ON_1
    assert os.environ["TF_XLA_FLAGS"] == "--tf_xla_cpu_global_jit"


def test_xla_gives_the_same_costs_to_float_precision(settings):
    assert totals(settings.replace(xla=True)) == pytest.approx(totals(settings), rel=1e-4)


@pytest.mark.skipif(not cpu_has_bfloat16(), reason="the CPU has no bfloat16 instructions")
def test_bfloat16_changes_the_costs_a_little(settings):
    exact, reduced = totals(settings), totals(settings.replace(precision="bfloat16"))
    assert reduced != exact  # the rewrite happened
    assert reduced == pytest.approx(exact, rel=0.03)


# The run header's line on the device (nst.tf_session.describe_device)

AVX2_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse sse2 avx fma avx2 bmi2
"""


def test_the_cpu_flags_are_read_from_cpuinfo():
    assert cpu_flags(AVX2_CPUINFO) >= {"avx", "fma", "avx2"}
    assert "avx512f" not in cpu_flags(AVX2_CPUINFO)
    assert cpu_flags("processor\t: 0\n") == frozenset()


def test_the_header_names_the_cpus_extensions_threads_and_onednn():
    line = describe_device(Compute(threads=2), [], cpu_flags(AVX2_CPUINFO), onednn=False)
    assert line == "Computing on the CPU (AVX2, FMA; 2 threads) without oneDNN, in float32"
    flags = frozenset({"avx512f", "avx512_bf16", "avx2", "fma"})
    line = describe_device(Compute(threads=4, xla=True), [], flags, onednn=True)
    assert line == (
        "Computing on the CPU (AVX512_BF16, AVX-512, AVX2, FMA; 4 threads) with oneDNN, "
        "in float32, compiled by XLA"
    )


def test_the_header_warns_of_bfloat16_on_a_cpu_without_bfloat16_instructions():
    avx2 = cpu_flags(AVX2_CPUINFO)
    assert "no bfloat16 instructions" in describe_device(
        Compute(precision="bfloat16"), [], avx2, onednn=False
    )
    with_bf16 = avx2 | {"avx512_bf16"}
    assert "no bfloat16" not in describe_device(
        Compute(precision="bfloat16"), [], with_bf16, onednn=True
    )


def test_the_header_names_the_gpus_tensorflow_uses():
    line = describe_device(Compute(), ["NVIDIA A100-SXM4-40GB"], frozenset(), onednn=True)
    assert line == (
        "Computing on NVIDIA A100-SXM4-40GB (TensorFlow places the ops there), in float32"
    )
