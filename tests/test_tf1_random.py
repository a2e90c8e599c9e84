"""The compatibility layer draws TF 1.x's random numbers for any sequence of operations.

TF 1.x's rule, when only the graph-level seed is set: a random op gets the seed
pair (graph seed, number of operations in the graph when the seed is drawn),
which is after the op's shape and parameter constants are made. The draws are
compared with TensorFlow's own ops given that seed pair explicitly, which TF 1.x
and TF 2 treat alike: uniform numbers bit for bit, normal ones within the 1 to 3
units in the last place by which TF 1.x's rounding differs from TF 2's (that
TF 1.x's are the exact ones is tests/test_tf1_draws.py's subject).
"""

import random

import numpy as np
import pytest
import tensorflow as stock_tf

from nst.tf1.api import tf1_operation_count
from nst_utils import tf

stock = stock_tf.compat.v1  # TF 2's own compat.v1, without the layer

# name -> (our function, stock function, Python arguments, constants made before the seed)
DRAWS = {
    "random_normal": (tf.random_normal, stock.random_normal, dict(mean=1.0, stddev=4.0), 3),
    "random.normal": (tf.random.normal, stock.random.normal, dict(mean=-2.0, stddev=0.5), 3),
    "truncated_normal": (tf.truncated_normal, stock.truncated_normal, dict(stddev=2.0), 3),
    "random.truncated_normal": (
        tf.random.truncated_normal,
        stock.random.truncated_normal,
        dict(mean=3.0),
        3,
    ),
    "random_uniform": (tf.random_uniform, stock.random_uniform, dict(), 3),
    "random.uniform": (tf.random.uniform, stock.random.uniform, dict(minval=-20, maxval=20), 3),
    "random_uniform int": (
        tf.random_uniform,
        stock.random_uniform,
        dict(minval=0, maxval=10, dtype=tf.int32),
        3,
    ),
}

OTHER_OPS = [
    lambda: tf.constant([[1.0, 2.0], [3.0, 4.0]]),
    lambda: tf.matmul(tf.ones([2, 3]), tf.ones([3, 2])),
    lambda: tf.Variable(tf.zeros([3])),
    lambda: tf.reduce_sum(tf.square(tf.constant([1.0, 2.0]))),
    lambda: tf.transpose(tf.reshape(tf.range(6), [2, 3])),
]


def draw_sequence(graph_seed: int, steps: list) -> list[tuple[int, str, np.ndarray]]:
    """Build `steps` in a fresh graph; return (TF 1.x op seed, name, values) of each draw."""
    draws = []
    with tf.Graph().as_default() as graph, tf.Session() as sess:
        tf.set_random_seed(graph_seed)
        for step in steps:
            if isinstance(step, str):
                ours, _, kwargs, constants = DRAWS[step]
                op_seed = tf1_operation_count(graph) + constants
                draws.append((op_seed, step, ours([2, 3], **kwargs)))
            else:
                OTHER_OPS[step]()
        values = sess.run([tensor for _, _, tensor in draws])
    return [(seed, name, v) for (seed, name, _), v in zip(draws, values, strict=True)]


def draw_with_explicit_seed(graph_seed: int, op_seed: int, name: str) -> np.ndarray:
    _, stock_fn, kwargs, _ = DRAWS[name]
    with stock.Graph().as_default(), stock.Session() as sess:
        stock.set_random_seed(graph_seed)
        return sess.run(stock_fn([2, 3], seed=op_seed, **kwargs))


def random_steps(rng: random.Random, length: int) -> list:
    return [
        rng.choice(list(DRAWS)) if rng.random() < 0.5 else rng.randrange(5) for _ in range(length)
    ]


@pytest.mark.parametrize("case", range(6))
def test_any_sequence_draws_what_tf1_drew(case):
    rng = random.Random(case)
    graph_seed = rng.choice([0, 1, 3, 42, 2**31 + 5])
    steps = random_steps(rng, 12) + [next(iter(DRAWS))]
    for op_seed, name, values in draw_sequence(graph_seed, steps):
        expected = draw_with_explicit_seed(graph_seed, op_seed, name)
        if "normal" in name:
            np.testing.assert_array_max_ulp(values, expected, maxulp=3)
        else:
            np.testing.assert_array_equal(values, expected, err_msg=f"{name} at {op_seed}")


@pytest.mark.parametrize("name", list(DRAWS))
def test_each_draw_adds_the_operations_tf1_added(name):
    ours, _, kwargs, _ = DRAWS[name]
    with tf.Graph().as_default() as graph:
        tf.set_random_seed(1)
        ours([2, 3], **kwargs)
        # TF 1.x: 3 constants, the random op, then mul and add (normal, truncated
        # normal), sub, mul and add (float uniform), nothing more (int uniform).
        expected = {"random_uniform int": 4}.get(name, 7 if "uniform" in name else 6)
        assert tf1_operation_count(graph) == expected
        # A normal's numbers take one operation more, the NumPy function of TF 1.x's rounding.
        made = len(graph.get_operations())
        assert made == expected + (0 if "uniform" in name else 1)


def test_tensor_arguments_make_no_constants():
    with tf.Graph().as_default() as graph, tf.Session() as sess:
        tf.set_random_seed(5)
        mean = tf.constant(2.0)
        before = len(graph.get_operations())
        values = sess.run(tf.random_normal([4], mean=mean, stddev=3.0))
        # shape and stddev become constants; mean is already a tensor.
        op_seed = before + 2
    with stock.Graph().as_default(), stock.Session() as sess:
        stock.set_random_seed(5)
        expected = sess.run(stock.random_normal([4], mean=2.0, stddev=3.0, seed=op_seed))
    np.testing.assert_array_max_ulp(values, expected, maxulp=3)


def test_explicit_op_seeds_keep_working():
    for graph_seed in (None, 1):
        with tf.Graph().as_default(), tf.Session() as sess:
            if graph_seed is not None:
                tf.set_random_seed(graph_seed)
            ours = sess.run(tf.random_uniform([3], -1, 1, seed=17))
        with stock.Graph().as_default(), stock.Session() as sess:
            if graph_seed is not None:
                stock.set_random_seed(graph_seed)
            expected = sess.run(stock.random_uniform([3], -1, 1, seed=17))
        np.testing.assert_array_equal(ours, expected)


def test_without_any_seed_draws_differ():
    results = []
    for _ in range(2):
        with tf.Graph().as_default(), tf.Session() as sess:
            results.append(sess.run(tf.random_normal([8])))
    assert not np.array_equal(*results)


def test_plain_compat_v1_draws_other_numbers_which_is_why_the_layer_exists():
    def content_cost_cell(module):
        with module.Graph().as_default(), module.Session() as sess:
            module.set_random_seed(1)
            a_C = module.random_normal([1, 4, 4, 3], mean=1, stddev=4)
            a_G = module.random_normal([1, 4, 4, 3], mean=1, stddev=4)
            return sess.run(stock_tf.reduce_sum(stock_tf.square(a_C - a_G)) / 192)

    assert content_cost_cell(stock) == pytest.approx(7.6410227, abs=5e-6)
    assert content_cost_cell(tf) == pytest.approx(6.76559, abs=5e-6)


def test_integer_uniform_needs_maxval():
    with tf.Graph().as_default(), pytest.raises(ValueError, match="maxval"):
        tf.random_uniform([2], dtype=tf.int32)


def test_everything_else_is_tensorflow_compat_v1():
    assert issubclass(tf.Session, stock.Session)  # opened quietly: test_tf1_environment.py
    assert issubclass(tf.InteractiveSession, stock.InteractiveSession)
    assert tf.placeholder is stock.placeholder
    assert tf.train.AdamOptimizer is stock.train.AdamOptimizer
    assert tf.random.set_random_seed is stock.random.set_random_seed
    assert not stock_tf.executing_eagerly()
