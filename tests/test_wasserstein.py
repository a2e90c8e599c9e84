"""The Wasserstein-2 style cost (--style-loss wasserstein): its formula, its closed forms, that it
does not depend on the image size, and its gradient."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from nst.costs import layer_wasserstein_cost, moments, style_cost_of_moments, trace_sqrt
from nst.tf1.api import tf


def evaluate(tensor_of, *arrays):
    """Run tensor_of(*constants) in a fresh graph and return its value."""
    with tf.Graph().as_default(), tf.Session() as sess:
        return sess.run(tensor_of(*(tf.constant(a, tf.float32) for a in arrays)))


def correlated(seed: int, shape=(1, 12, 10, 6), scale: float = 1.0) -> np.ndarray:
    """Activations whose channels are correlated and have different means and spreads."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(0, 1, (shape[-1], shape[-1])) * scale
    a = rng.normal(0, 1, (*shape[:-1], shape[-1])) @ mixing + rng.normal(0, 2, shape[-1])
    return a.astype(np.float32)


def wasserstein(a_S: np.ndarray, a_G: np.ndarray) -> float:
    """The textbook squared W2 distance of the two Gaussians, with SciPy's sqrtm, per channel."""
    S, G = (a.reshape(-1, a.shape[-1]).astype(np.float64) for a in (a_S, a_G))
    A, B = np.cov(S, rowvar=False, bias=True), np.cov(G, rowvar=False, bias=True)
    root_A = scipy.linalg.sqrtm(A).real
    cross = scipy.linalg.sqrtm(root_A @ B @ root_A).real
    mean = np.sum((S.mean(0) - G.mean(0)) ** 2)
    return (mean + np.trace(A + B - 2 * cross)) / S.shape[1]


def cost(a_S, a_G) -> float:
    return float(evaluate(lambda g: layer_wasserstein_cost(moments(a_S), g), a_G))


@pytest.mark.parametrize("seed", range(4))
def test_the_cost_is_the_squared_wasserstein_2_distance_of_the_two_gaussians_per_channel(seed):
    a_S, a_G = correlated(seed), correlated(seed + 50, scale=0.5)
    assert cost(a_S, a_G) == pytest.approx(wasserstein(a_S, a_G), rel=1e-4)


def test_moments_are_the_mean_the_covariance_and_its_square_root():
    a = correlated(3)
    mean, covariance, root = moments(a)
    rows = a.reshape(-1, a.shape[-1]).astype(np.float64)
    np.testing.assert_allclose(mean, rows.mean(0), rtol=1e-12)
    np.testing.assert_allclose(covariance, np.cov(rows, rowvar=False, bias=True), atol=1e-9)
    np.testing.assert_allclose(root @ root, covariance, atol=1e-9)
    np.testing.assert_allclose(root, root.T, atol=1e-12)


def test_a_shift_of_the_mean_costs_its_squared_length_per_channel():
    a_S = correlated(1)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 1.0], np.float32)
    assert cost(a_S, a_S + shift) == pytest.approx(np.sum(shift**2) / 6, rel=1e-3)


def test_independent_channels_cost_the_squared_differences_of_their_spreads():
    rows = np.random.default_rng(7).normal(0, 1, (1200, 3))
    rows -= rows.mean(0)
    rows = rows @ np.linalg.inv(np.linalg.cholesky(rows.T @ rows / len(rows))).T  # whitened
    spreads_S, spreads_G = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 0.5])
    a_S, a_G = ((rows * s).reshape(1, 40, 30, 3) for s in (spreads_S, spreads_G))
    expected = np.sum((spreads_S - spreads_G) ** 2) / 3
    assert cost(a_S.astype(np.float32), a_G.astype(np.float32)) == pytest.approx(expected, rel=1e-3)


def test_the_same_statistics_cost_nothing_whatever_the_image_size():
    a_S = correlated(4)
    tiled = np.tile(a_S, (1, 2, 3, 1))  # the same positions, six times over
    assert abs(cost(a_S, a_S)) < 1e-4 * np.trace(moments(a_S)[1])
    assert abs(cost(a_S, tiled)) < 1e-4 * np.trace(moments(a_S)[1])
    a_G = correlated(9)
    assert cost(a_S, np.tile(a_G, (1, 2, 2, 1))) == pytest.approx(cost(a_S, a_G), rel=1e-4)


def test_the_style_cost_weights_each_layer():
    layers = [("conv1_1", 0.75), ("conv2_1", 0.25)]
    a_S = [correlated(1), correlated(2, (1, 6, 5, 8))]
    a_G = [correlated(3), correlated(4, (1, 6, 5, 8))]
    targets = [moments(a) for a in a_S]
    total = evaluate(lambda g1, g2: style_cost_of_moments(targets, [g1, g2], layers), *a_G)
    expected = 0.75 * wasserstein(a_S[0], a_G[0]) + 0.25 * wasserstein(a_S[1], a_G[1])
    assert total == pytest.approx(expected, rel=1e-4)


def test_the_gradient_of_the_trace_of_the_square_root_is_half_the_inverse_square_root():
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (30, 5))
    M = x.T @ x / 30  # symmetric positive definite
    with tf.Graph().as_default(), tf.Session() as sess:
        m = tf.constant(M, tf.float32)
        value, gradient = sess.run([trace_sqrt(m), tf.gradients(trace_sqrt(m), m)[0]])
    assert value == pytest.approx(np.trace(scipy.linalg.sqrtm(M).real), rel=1e-5)
    np.testing.assert_allclose(gradient, 0.5 * np.linalg.inv(scipy.linalg.sqrtm(M).real),
                               rtol=1e-3, atol=1e-4)  # fmt: skip


def test_the_gradient_stays_finite_when_there_are_fewer_positions_than_channels():
    a_S, a_G = correlated(1, (1, 3, 2, 16)), correlated(2, (1, 3, 2, 16))  # covariance rank 5
    with tf.Graph().as_default(), tf.Session() as sess:
        g = tf.constant(a_G)
        gradient = sess.run(tf.gradients(layer_wasserstein_cost(moments(a_S), g), g)[0])
    assert np.isfinite(gradient).all() and np.abs(gradient).max() > 0
