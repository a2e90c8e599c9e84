"""The temporal cost of a clip's frame: its value on a literal example, and its gradient,
in TensorFlow and in NumPy (the tiled path), against each other and finite differences."""

import numpy as np
import pytest

from nst.costs import temporal_cost
from nst.tf1.api import tf as tf1
from nst.tiled_costs import temporal_difference


def evaluate(*arrays, gradient=False):
    """temporal_cost(*arrays) in a fresh graph: its value, and with `gradient` its gradient
    with respect to the first array."""
    with tf1.Graph().as_default(), tf1.Session() as sess:
        x = tf1.constant(arrays[0], tf1.float32)
        J = temporal_cost(x, *(tf1.constant(a, tf1.float32) for a in arrays[1:]))
        return sess.run(tf1.gradients(J, x)[0] if gradient else J)


# a 1 x 2 x 2 x 3 frame, the warped previous result, and the certainty of each pixel
X = np.float32([[[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]]])
WARPED = np.float32([[[[0, 2, 5], [4, 4, 4]], [[0, 0, 0], [13, 11, 11]]]])
CERTAINTY = np.float32([[1, 1], [0, 1]])
# certain pixels' squared differences: (1 + 0 + 4) + (0 + 1 + 4) + (9 + 0 + 1) = 20; D = 12
EXPECTED = 20 / 12


def test_the_temporal_cost_of_a_literal_example():
    assert evaluate(X, WARPED, CERTAINTY) == pytest.approx(EXPECTED, rel=1e-6)
    assert temporal_difference(X, WARPED, CERTAINTY) == pytest.approx(EXPECTED, rel=1e-12)


def test_the_temporal_cost_of_a_frame_without_its_batch_axis_is_the_same():
    assert evaluate(X[0], WARPED[0], CERTAINTY) == pytest.approx(EXPECTED, rel=1e-6)


def test_uncertain_pixels_do_not_count_and_a_frame_equal_to_the_warped_one_costs_nothing():
    assert evaluate(X, WARPED, np.zeros((2, 2), np.float32)) == 0
    assert evaluate(X, X, CERTAINTY) == 0


def test_the_gradient_is_two_c_times_the_difference_over_the_values():
    expected = 2 * CERTAINTY[None, :, :, None] * (X - WARPED) / 12
    np.testing.assert_allclose(evaluate(X, WARPED, CERTAINTY, gradient=True), expected, rtol=1e-6)
    gradient = np.ones_like(X)
    temporal_difference(X, WARPED, CERTAINTY, gradient, weight=3.0)
    np.testing.assert_allclose(gradient, 1 + 3 * expected, rtol=1e-6)


def test_tensorflow_and_numpy_agree_with_each_other_and_with_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 50, (1, 6, 7, 3)).astype(np.float32)
    warped = rng.normal(0, 50, (1, 6, 7, 3)).astype(np.float32)
    certainty = (rng.random((6, 7)) < 0.6).astype(np.float32)
    tf_gradient = evaluate(x, warped, certainty, gradient=True)
    np_gradient = np.zeros_like(x)
    cost = temporal_difference(x, warped, certainty, np_gradient)
    assert evaluate(x, warped, certainty) == pytest.approx(cost, rel=1e-6)
    np.testing.assert_allclose(tf_gradient, np_gradient, rtol=1e-6)

    def cost_of(image):
        return temporal_difference(image, warped, certainty)

    step = 0.5  # the cost is quadratic in each value: central differences are exact
    for index in [(0, 0, 0, 0), (0, 2, 3, 1), (0, 5, 6, 2), (0, 4, 1, 0)]:
        up, down = x.copy(), x.copy()
        up[index] += step
        down[index] -= step
        rise = cost_of(up) - cost_of(down)
        assert rise / (2 * step) == pytest.approx(float(np_gradient[index]), rel=1e-4, abs=1e-7)
