"""How TensorFlow runs a style transfer's graphs: threads, XLA and reduced precision.

The defaults are TensorFlow's own (float32, every core, no XLA), which give
the assignment's numbers. bench/README.md has the measured effect of each.
oneDNN, which TensorFlow uses on CPUs by default, is switched off only by the
environment variable TF_ENABLE_ONEDNN_OPTS=0 set before Python starts, since
TensorFlow reads it when it loads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from nst.quiet import tensorflow_quietly
from nst.settings import PRECISIONS
from nst.tf1.api import tf as tf1

XLA_CPU_FLAG = "--tf_xla_cpu_global_jit"  # without it XLA compiles nothing on a CPU


@dataclass(frozen=True)
class Compute:
    """threads: the threads one op may use (None: one per core); xla: compile the graph with
    XLA; precision: bfloat16 runs convolutions and matrix products in bfloat16 (8-bit mantissa)
    on CPUs through oneDNN, keeping the image, the optimizer and the sums in float32."""

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
        elif self.precision != "float32":
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
        with tensorflow_quietly():
            return tf1.Session(graph=graph, config=config)


def gpu_present() -> bool:
    """Whether TensorFlow sees a GPU (it then places the ops there by itself)."""
    with tensorflow_quietly():
        return bool(tf1.config.list_physical_devices("GPU"))


DEFAULT_COMPUTE = Compute()
"""TensorFlow's defaults: float32 on every core, without XLA."""
