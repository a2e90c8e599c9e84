"""How TensorFlow runs a style transfer's graphs: threads, XLA and reduced precision.

The defaults are TensorFlow's own (float32, every core, no XLA), which give
the assignment's numbers. bench/README.md has the measured effect of each.
Whether TensorFlow uses oneDNN on a CPU is decided when it loads, from the
environment variable TF_ENABLE_ONEDNN_OPTS (set before Python starts, or by
nst/cpu_kernels.py, which switches it on for AVX2 CPUs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from nst import cpu_kernels
from nst.quiet import tensorflow_quietly
from nst.tf1.api import tf as tf1

XLA_CPU_FLAG = "--tf_xla_cpu_global_jit"  # without it XLA compiles nothing on a CPU


@dataclass(frozen=True)
class Compute:
    """threads: the threads one op may use (None: one per core); xla: compile the graph with
    XLA; precision: float32, or bfloat16, which runs convolutions and matrix products in
    bfloat16 (8-bit mantissa) on CPUs through oneDNN, keeping the image, the optimizer and the
    sums in float32 (Settings checks it is one of the two)."""

    threads: int | None = None
    xla: bool = False
    precision: str = "float32"

    def session(self, graph) -> tf1.Session:
        """A tf.compat.v1 session on `graph` with these settings, opened without TF's chatter."""
        config = tf1.ConfigProto()
        if self.threads is not None:
            config.intra_op_parallelism_threads = self.threads
        if self.xla:
            flags = os.environ.get("TF_XLA_FLAGS", "")
            if XLA_CPU_FLAG not in flags.split():
                os.environ["TF_XLA_FLAGS"] = f"{flags} {XLA_CPU_FLAG}".strip()
            config.graph_options.optimizer_options.global_jit_level = tf1.OptimizerOptions.ON_1
        if self.precision == "bfloat16":
            rewrites = config.graph_options.rewrite_options
            rewrites.auto_mixed_precision_onednn_bfloat16 = rewrites.ON
        with tensorflow_quietly():
            return tf1.Session(graph=graph, config=config)


VECTOR_EXTENSIONS = (  # (the flag in /proc/cpuinfo, its usual name), widest first
    ("amx_bf16", "AMX-BF16"),
    ("avx512_bf16", "AVX512_BF16"),
    ("avx512f", "AVX-512"),
    ("avx2", "AVX2"),
    ("fma", "FMA"),
)
BFLOAT16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
"""CPU flags of bfloat16 arithmetic, which --precision bfloat16 needs to be faster."""


def onednn_enabled() -> bool | None:
    """Whether this TensorFlow runs its CPU ops through oneDNN (None: cannot be told)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # pragma: no cover - TensorFlow moved its private module
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def describe_device(compute: Compute, gpus: list[str], flags: frozenset[str],
                    onednn: bool | None, chosen: bool = False) -> str:  # fmt: skip
    """The run header's line on where and how TensorFlow computes: the GPUs it places the ops
    on, or the CPU's vector extensions, the threads and oneDNN (`chosen`: switched on by
    nst.cpu_kernels); the precision; XLA; and a warning when bfloat16 is asked of a CPU
    without bfloat16 instructions."""
    if gpus:
        where = f"on {', '.join(gpus)} (TensorFlow places the ops there)"
    else:
        extensions = [name for flag, name in VECTOR_EXTENSIONS if flag in flags] or ["no AVX"]
        threads = compute.threads or os.cpu_count()
        library = {True: "with oneDNN", False: "without oneDNN", None: ""}[onednn]
        if onednn and chosen:
            library += " (switched on for this CPU, kernels cached: nst/cpu_kernels.py)"
        where = f"on the CPU ({', '.join(extensions)}; {threads} threads) {library}".rstrip()
    text = f"Computing {where}, in {compute.precision}{', compiled by XLA' if compute.xla else ''}"
    if compute.precision == "bfloat16" and not gpus and not flags & BFLOAT16_FLAGS:
        text += " (this CPU has no bfloat16 instructions: expect it to be slower than float32)"
    return text


def device_line(compute: Compute) -> str:
    """describe_device for this machine."""
    with tensorflow_quietly():
        gpus = tf1.config.list_physical_devices("GPU")
        names = [tf1.config.experimental.get_device_details(g).get("device_name", g.name)
                 for g in gpus]  # fmt: skip
    return describe_device(
        compute, names, cpu_kernels.cpu_flags(), onednn_enabled(), bool(cpu_kernels.chosen)
    )


def gpu_present() -> bool:
    """Whether TensorFlow sees a GPU (it then places the ops there by itself)."""
    with tensorflow_quietly():
        return bool(tf1.config.list_physical_devices("GPU"))


DEFAULT_COMPUTE = Compute()
"""TensorFlow's defaults: float32 on every core, without XLA."""
