"""Which CPU kernels TensorFlow uses, chosen before it loads (it reads the choice only then).

TensorFlow 2.21 on Linux runs its CPU convolutions through oneDNN only on CPUs
with neural-network instructions (DefaultOneDnnPolicy in
tensorflow/core/util/port.cc: AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX). On
other x86 CPUs, such as AVX2-only ones, it uses Eigen kernels that its wheel
compiles without AVX2 and FMA. There, oneDNN with TF_ONEDNN_ASSUME_FROZEN_WEIGHTS
(oneDNN keeps the kernels reordered once, and picks its direct "brgconv"
convolution instead of an im2col product) is faster: bench/README.md has the
measured figures. The kernels of a style transfer never change within a
session, but the setting is process-wide and would be wrong for a program that
trains weights, so only the program's own processes (neural_art.py's main and the
batch workers, through importing nst.run) and bench/speed.py apply it; a user's
own TF_ENABLE_ONEDNN_OPTS always wins.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import MutableMapping

ONEDNN_BY_DEFAULT_FLAGS = frozenset(
    {"avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"}
)
"""/proc/cpuinfo flags with which TensorFlow switches oneDNN on by itself on Linux."""
AVX2_ONEDNN = {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_ONEDNN_ASSUME_FROZEN_WEIGHTS": "1"}
"""The environment that runs an AVX2 CPU's convolutions through oneDNN with cached kernels."""
X86_MACHINES = frozenset({"x86_64", "amd64"})
GPU_DEVICE_FILES = ("/dev/nvidia0", "/dev/kfd")
"""Files of an NVIDIA (CUDA) or AMD (ROCm) GPU driver: where they exist, nothing is changed."""

chosen: dict[str, str] = {}
"""What `choose_cpu_kernels` set in this process (the run header says so)."""


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags (Linux' /proc/cpuinfo "flags" line; empty elsewhere)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def kernel_environment(
    flags: frozenset[str], environ: MutableMapping[str, str], linux_x86: bool, gpu: bool
) -> dict[str, str]:
    """The variables to set for this CPU: AVX2_ONEDNN on a Linux x86 machine without a GPU
    whose CPU has AVX2 and FMA and where TensorFlow leaves oneDNN off, unless the user set
    TF_ENABLE_ONEDNN_OPTS; else none."""
    if not linux_x86 or gpu or "TF_ENABLE_ONEDNN_OPTS" in environ:
        return {}
    if not {"avx2", "fma"} <= flags or flags & ONEDNN_BY_DEFAULT_FLAGS:
        return {}
    return {name: value for name, value in AVX2_ONEDNN.items() if name not in environ}


def linux_x86() -> bool:
    """Whether this is Linux on an x86-64 CPU (TensorFlow's oneDNN policy above is Linux's)."""
    return sys.platform == "linux" and platform.machine().lower() in X86_MACHINES


def gpu_driver_present() -> bool:
    """Whether a GPU driver's device file exists (TensorFlow would place the ops there)."""
    return any(os.path.exists(path) for path in GPU_DEVICE_FILES)


def choose_cpu_kernels() -> dict[str, str]:
    """Set kernel_environment for this machine in os.environ before TensorFlow loads, and
    return what was set (nothing once TensorFlow is loaded: it would not read it)."""
    if "tensorflow" in sys.modules:
        return {}
    settings = kernel_environment(cpu_flags(), os.environ, linux_x86(), gpu_driver_present())
    os.environ.update(settings)
    chosen.update(settings)
    return settings
