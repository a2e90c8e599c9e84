"""TensorFlow 1.x's session API on TensorFlow 2, with TensorFlow 1.x's random numbers.

`tf` is `tensorflow.compat.v1` with two differences:

* The first attribute looked up on it switches the process to TF 1.x behaviour
  (graph mode, sessions), as `tf.compat.v1.disable_v2_behavior()` does. Merely
  importing a module that mentions it changes nothing, so cost functions
  written with plain TF 2 ops can still be used eagerly in the same program.
* `random_normal`, `random_uniform` and `truncated_normal` (also spelled
  `tf.random.normal`, `tf.random.uniform`, `tf.random.truncated_normal`) draw
  the numbers TF 1.x drew. When only the graph-level seed is set, TF 1.x gave
  each random op the seed pair (graph seed, number of operations already in the
  graph); TF 2 uses a counter of random ops instead, and its `random_uniform`
  adds fewer helper operations. Here each of these functions builds the
  operations TF 1.x built, in TF 1.x's order, and derives its seed as TF 1.x
  did, so any sequence of operations draws TF 1.x's numbers. (They build
  graphs; the namespace never runs eagerly.)
* A seeded float32 normal or truncated normal is also rounded as TF 1.x on
  Linux rounded it (nst/tf1/random_ops.py): TF's own RandomUniform op, with the
  same seeds, keeps the op's state as TF 1.x's kernel kept it (per session,
  moving on at each run), and a NumPy function turns the run it is at into TF
  1.x's numbers. That function is one operation more than TF 1.x made; it is
  not counted when later ops' seeds are derived.
* `matmul` of small float32 matrices rounds as TF 1.x's wheels of 2017 did,
  which had no fused multiply-add: each product rounded to float32, then the
  products added in order along the inner dimension. (TF 2's matrix product
  fuses them, which changes the Gram-matrix cell's off-diagonal elements by one
  unit in the last place.) Larger products, of more than SMALL_MATMUL
  multiply-adds, are TF 2's own: the sum of many products is not the same in
  any two libraries, and TF 1.x's order would cost too much there.
"""

from __future__ import annotations

import types
import weakref
from typing import Any

import numpy as np

from nst.quiet import tensorflow_quietly
from nst.tf1 import random_ops as tf1_random

with tensorflow_quietly():
    import tensorflow as _tf

_v1 = _tf.compat.v1

DEFAULT_GRAPH_SEED = 87654321  # TF's op seed partner when only an op seed is given
_MAXINT32 = 2**31 - 1
SMALL_MATMUL = 1 << 16
"""Most multiply-adds (m k n) of a product that `matmul` computes in TF 1.x's order."""
_EXTRA_OPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Graph -> the operations this layer made in it that TF 1.x did not (not counted for seeds)."""


def tf1_seeds(op_seed: int | None) -> tuple[int | None, int | None]:
    """The (seed, seed2) pair TF 1.x gave a random op made now in the default graph.

    graph seed and op seed set  -> (graph seed, op seed)
    only the graph seed         -> (graph seed, operations in the graph so far)
    only the op seed            -> (87654321, op seed)
    neither                     -> (None, None): nondeterministic
    Seeds are taken modulo 2**31 - 1, and (0, 0) becomes (0, 2**31 - 1).
    """
    graph = _v1.get_default_graph()
    if graph.seed is None:
        if op_seed is None:
            return None, None
        seeds = DEFAULT_GRAPH_SEED, op_seed % _MAXINT32
    else:
        if op_seed is None:
            op_seed = tf1_operation_count(graph)
        seeds = graph.seed % _MAXINT32, op_seed % _MAXINT32
    return (0, _MAXINT32) if seeds == (0, 0) else seeds


def tf1_operation_count(graph) -> int:
    """The operations TF 1.x would have made in `graph` so far: the graph's own count, less
    those this layer made that TF 1.x did not."""
    return graph.version - _EXTRA_OPS.get(graph, 0)


def _raw_seed_args(seed: int | None) -> dict[str, int]:
    seed1, seed2 = tf1_seeds(seed)
    return {"seed": seed1 or 0, "seed2": seed2 or 0}


class _Tf1Numbers:
    """The NumPy function of a seeded float32 normal: RandomUniform's numbers in, the numbers
    TF 1.x's op drew at that run out (nst.tf1.random_ops)."""

    def __init__(self, draw, seed: int, seed2: int):
        self.draw, self.seed, self.seed2 = draw, seed, seed2
        self.next_run = 0  # a guess: each session of the graph counts its own runs

    def __call__(self, uniforms: np.ndarray) -> np.ndarray:
        run = tf1_random.run_of(uniforms, self.seed, self.seed2, guess=self.next_run)
        self.next_run = run + 1
        return self.draw(uniforms.shape, self.seed, self.seed2, run)


def _normal(raw_op, draw, default_name, shape, mean, stddev, dtype, seed, name):
    """mean + stddev * raw_op(shape), built as TF 1.x built it: 3 constants, seed, op, mul,
    add; for seeded float32 draws, with TF 1.x's numbers (`draw`, see the module's doc)."""
    with _tf.name_scope(name or default_name) as scope:
        shape = _v1.convert_to_tensor(shape, name="shape")
        mean = _v1.convert_to_tensor(mean, dtype=dtype, name="mean")
        stddev = _v1.convert_to_tensor(stddev, dtype=dtype, name="stddev")
        seeds = _raw_seed_args(seed)
        if _tf.as_dtype(dtype) != _tf.float32 or seeds == {"seed": 0, "seed2": 0}:
            rnd = raw_op(shape=shape, dtype=dtype, **seeds)  # unseeded: any numbers will do
        else:
            uniforms = _tf.raw_ops.RandomUniform(shape=shape, dtype=_tf.float32, **seeds)
            numbers = _Tf1Numbers(draw, seeds["seed"], seeds["seed2"])
            rnd = _v1.numpy_function(numbers, [uniforms], _tf.float32, name="tf1_numbers")
            rnd.set_shape(uniforms.shape)
            graph = _v1.get_default_graph()
            _EXTRA_OPS[graph] = _EXTRA_OPS.get(graph, 0) + 1
        return _v1.add(rnd * stddev, mean, name=scope)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=_tf.float32, seed=None, name=None):
    """Normal samples: mean + stddev * N(0, 1), with TF 1.x's seeds, graph and numbers."""
    raw_op = _tf.raw_ops.RandomStandardNormal
    draw = tf1_random.standard_normal
    return _normal(raw_op, draw, "random_normal", shape, mean, stddev, dtype, seed, name)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=_tf.float32, seed=None, name=None):
    """Normal samples redrawn beyond two standard deviations, with TF 1.x's seeds, graph and
    numbers."""
    raw_op = _tf.raw_ops.TruncatedNormal
    draw = tf1_random.truncated_normal
    return _normal(raw_op, draw, "truncated_normal", shape, mean, stddev, dtype, seed, name)


def matmul(a, b, transpose_a=False, transpose_b=False, name=None, **options):
    """a b, as TF 1.x computed it for small float32 matrices (see the module's doc); one
    operation, as in TF 1.x, as far as later ops' seeds are concerned."""
    a, b = _v1.convert_to_tensor(a), _v1.convert_to_tensor(b)
    m, k, n = _matmul_sizes(a.shape, b.shape, transpose_a, transpose_b)
    if options or a.dtype != _tf.float32 or m is None or m * k * n > SMALL_MATMUL:
        return _v1.matmul(a, b, transpose_a, transpose_b, name=name, **options)
    graph = _v1.get_default_graph()
    before = graph.version
    with _tf.name_scope(name or "MatMul") as scope:
        a = _v1.transpose(a) if transpose_a else a
        b = _v1.transpose(b) if transpose_b else b
        products = _v1.expand_dims(a, 2) * _v1.expand_dims(b, 0)  # (m, k, n), each rounded
        total = products[:, 0, :]
        for t in range(1, k):
            total = total + products[:, t, :]
        result = _v1.identity(total, name=scope)
    _EXTRA_OPS[graph] = _EXTRA_OPS.get(graph, 0) + graph.version - before - 1
    return result


def _matmul_sizes(shape_a, shape_b, transpose_a: bool, transpose_b: bool):
    """(m, k, n) of a product of two matrices of known shapes, else (None, None, None)."""
    if shape_a.rank != 2 or shape_b.rank != 2:
        return None, None, None
    (m, k), (_, n) = (
        shape_a.as_list()[:: -1 if transpose_a else 1],
        shape_b.as_list()[:: -1 if transpose_b else 1],
    )
    return (None, None, None) if None in (m, k, n) or k == 0 else (m, k, n)


def random_uniform(shape, minval=0, maxval=None, dtype=_tf.float32, seed=None, name=None):
    """Uniform samples in [minval, maxval), with TF 1.x's seeds and graph."""
    dtype = _tf.as_dtype(dtype)
    if maxval is None:
        if dtype.is_integer:
            raise ValueError(f"Must specify maxval for integer dtype {dtype!r}")
        maxval = 1
    with _tf.name_scope(name or "random_uniform") as scope:
        shape = _v1.convert_to_tensor(shape, name="shape")
        minval = _v1.convert_to_tensor(minval, dtype=dtype, name="min")
        maxval = _v1.convert_to_tensor(maxval, dtype=dtype, name="max")
        seeds = _raw_seed_args(seed)
        if dtype.is_integer:
            return _tf.raw_ops.RandomUniformInt(
                shape=shape, minval=minval, maxval=maxval, name=scope, **seeds
            )
        rnd = _tf.raw_ops.RandomUniform(shape=shape, dtype=dtype, **seeds)
        return _v1.add(rnd * (maxval - minval), minval, name=scope)


class _Namespace(types.ModuleType):
    """A module-like view of another module with some attributes replaced."""

    def __init__(self, name: str, base: types.ModuleType, overrides: dict[str, Any]):
        super().__init__(name, base.__doc__)
        self._base = base
        self.__dict__.update(overrides)

    def __getattr__(self, attr: str) -> Any:
        _disable_v2_behavior_once()
        return getattr(self._base, attr)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self._base)) | set(self.__dict__))


_v2_disabled = False


def _disable_v2_behavior_once() -> None:
    global _v2_disabled
    if not _v2_disabled:
        _v2_disabled = True
        _v1.disable_v2_behavior()


class _OpenedQuietly:
    """A session class whose sessions open with TensorFlow's native log lines hidden
    (nst.quiet): the first session of a process on a machine without a GPU writes "failed
    call to cuInit"."""

    def __init__(self, *args, **kwargs):
        _disable_v2_behavior_once()
        with tensorflow_quietly():
            super().__init__(*args, **kwargs)


class Session(_OpenedQuietly, _v1.Session):
    """TF 1.x's tf.Session, opened quietly."""


class InteractiveSession(_OpenedQuietly, _v1.InteractiveSession):
    """TF 1.x's tf.InteractiveSession, opened quietly."""


_random = _Namespace(
    "tf.random",
    _v1.random,
    {"normal": random_normal, "uniform": random_uniform, "truncated_normal": truncated_normal},
)

tf = _Namespace(
    "tf",
    _v1,
    {
        "random_normal": random_normal,
        "random_uniform": random_uniform,
        "truncated_normal": truncated_normal,
        "random": _random,
        "matmul": matmul,
        "Session": Session,
        "InteractiveSession": InteractiveSession,
    },
)
