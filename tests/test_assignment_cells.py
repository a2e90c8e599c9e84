"""The assignment's test cells, written as in the TF 1.x notebook, give its expected outputs.

Expected values: ../shared/reference/coursera-assignment.md (TF 1.x edition).
"""

import numpy as np
import pytest

from neural_art import compute_content_cost, compute_layer_style_cost, gram_matrix, total_cost
from nst_utils import tf


def test_content_cost_cell():
    tf.reset_default_graph()
    with tf.Session() as test:
        tf.set_random_seed(1)
        a_C = tf.random_normal([1, 4, 4, 3], mean=1, stddev=4)
        a_G = tf.random_normal([1, 4, 4, 3], mean=1, stddev=4)
        J_content = compute_content_cost(a_C, a_G)
        assert J_content.eval() == pytest.approx(6.76559, abs=5e-6)
        assert test is tf.get_default_session()


def test_gram_matrix_cell():
    tf.reset_default_graph()
    with tf.Session():
        tf.set_random_seed(1)
        A = tf.random_normal([3, 2 * 1], mean=1, stddev=4)
        GA = gram_matrix(A)
        expected = [
            [6.422305, -4.429122, -2.096682],
            [-4.429122, 19.465837, 19.563871],
            [-2.096682, 19.563871, 20.686462],
        ]
        np.testing.assert_allclose(GA.eval(), expected, atol=5e-6)


def test_layer_style_cost_cell():
    tf.reset_default_graph()
    with tf.Session():
        tf.set_random_seed(1)
        a_S = tf.random_normal([1, 4, 4, 3], mean=1, stddev=4)
        a_G = tf.random_normal([1, 4, 4, 3], mean=1, stddev=4)
        J_style_layer = compute_layer_style_cost(a_S, a_G)
        assert J_style_layer.eval() == pytest.approx(9.19028, abs=5e-6)


def test_total_cost_cell():
    np.random.seed(3)
    J_content = np.random.randn()
    J_style = np.random.randn()
    J = total_cost(J_content, J_style)
    assert J == 35.34667875478276
