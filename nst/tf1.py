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
"""

from __future__ import annotations

import types
from typing import Any

from nst.quiet import tensorflow_quietly

with tensorflow_quietly():
    import tensorflow as _tf

_v1 = _tf.compat.v1

DEFAULT_GRAPH_SEED = 87654321  # TF's op seed partner when only an op seed is given
_MAXINT32 = 2**31 - 1


def tf1_seeds(op_seed: int | None) -> tuple[int | None, int | None]:
    """The (seed, seed2) pair TF 1.x gave a random op made now in the default graph.

    graph seed and op seed set  -> (graph seed, op seed)
    only the graph seed         -> (graph seed, operations in the graph so far)
    only the op seed            -> (87654321, op seed)
    neither                     -> (None, None): nondeterministic
    Seeds are taken modulo 2**31 - 1, and (0, 0) becomes (0, 2**31 - 1).
    """
    graph_seed = _v1.get_default_graph().seed
    if graph_seed is None:
        if op_seed is None:
            return None, None
        seeds = DEFAULT_GRAPH_SEED, op_seed % _MAXINT32
    else:
        if op_seed is None:
            op_seed = _v1.get_default_graph().version
        seeds = graph_seed % _MAXINT32, op_seed % _MAXINT32
    return (0, _MAXINT32) if seeds == (0, 0) else seeds


def _raw_seed_args(seed: int | None) -> dict[str, int]:
    seed1, seed2 = tf1_seeds(seed)
    return {"seed": seed1 or 0, "seed2": seed2 or 0}


def _normal(raw_op, default_name, shape, mean, stddev, dtype, seed, name):
    """mean + stddev * raw_op(shape), built as TF 1.x built it: 3 constants, seed, op, mul, add."""
    with _tf.name_scope(name or default_name) as scope:
        shape = _v1.convert_to_tensor(shape, name="shape")
        mean = _v1.convert_to_tensor(mean, dtype=dtype, name="mean")
        stddev = _v1.convert_to_tensor(stddev, dtype=dtype, name="stddev")
        rnd = raw_op(shape=shape, dtype=dtype, **_raw_seed_args(seed))
        return _v1.add(rnd * stddev, mean, name=scope)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=_tf.float32, seed=None, name=None):
    """Normal samples: mean + stddev * N(0, 1), with TF 1.x's seeds and graph."""
    raw_op = _tf.raw_ops.RandomStandardNormal
    return _normal(raw_op, "random_normal", shape, mean, stddev, dtype, seed, name)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=_tf.float32, seed=None, name=None):
    """Normal samples redrawn beyond two standard deviations, with TF 1.x's seeds and graph."""
    raw_op = _tf.raw_ops.TruncatedNormal
    return _normal(raw_op, "truncated_normal", shape, mean, stddev, dtype, seed, name)


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
    },
)
