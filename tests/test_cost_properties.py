"""Properties of the cost functions that hold for any activations, checked on random examples."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nst.costs import (
    activation_gram,
    compute_content_cost,
    compute_layer_style_cost,
    gram_matrix,
    total_cost,
)
from nst.tf1.api import tf

# Few examples, and no time limit per example: each builds a graph and a session.
examples = settings(max_examples=50, deadline=None)

# Moderate float32 values. TensorFlow flushes subnormal numbers to zero, so none are drawn.
values = st.floats(-100, 100, width=32, allow_subnormal=False)
sizes = st.integers(1, 6)
channels = st.integers(1, 5)


def evaluate(build, *arrays):
    """Run build(*constants) in a fresh graph, as tests/test_costs.py does, and return its value."""
    with tf.Graph().as_default(), tf.Session() as sess:
        return sess.run(build(*(tf.constant(a, tf.float32) for a in arrays)))


def activation(n_H, n_W, n_C):
    """Activations of shape (1, n_H, n_W, n_C)."""
    return arrays(np.float32, (1, n_H, n_W, n_C), elements=values)


@st.composite
def activation_pairs(draw):
    """Two activations of one drawn shape."""
    shape = (draw(sizes), draw(sizes), draw(channels))
    return draw(activation(*shape)), draw(activation(*shape))


@st.composite
def spatially_permuted(draw, a):
    """a with its n_H * n_W positions in a drawn order, one and the same for all channels."""
    _, n_H, n_W, n_C = a.shape
    order = draw(st.permutations(range(n_H * n_W)))
    return a.reshape(n_H * n_W, n_C)[list(order)].reshape(a.shape)


def float64_gram(a, positions=None):
    """activation_gram in float64: X^T X of a reshaped to (n_H * n_W, n_C), for `positions`."""
    X = a.reshape(-1, a.shape[-1]).astype(np.float64)
    G = X.T @ X
    return G if positions is None else G * positions / len(X)


def style_cost_scale(a_S, a_G):
    """The style cost's size for unrelated G_S and G_G: (|G_S| + |G_G|)^2 / (4 n_C^2 (n_H n_W)^2).

    Rounding errors of the float32 Gram matrices are relative to their norms,
    so the error of the style cost is relative to this, not to the cost itself.
    """
    _, n_H, n_W, n_C = a_G.shape
    norms = np.linalg.norm(float64_gram(a_S, n_H * n_W)) + np.linalg.norm(float64_gram(a_G))
    return norms**2 / (4 * n_C**2 * (n_H * n_W) ** 2)


@examples
@given(activation_pairs())
def test_content_cost_is_never_negative(pair):
    assert evaluate(compute_content_cost, *pair) >= 0


@examples
@given(activation_pairs())
def test_content_cost_is_exactly_zero_for_equal_activations(pair):
    a_C, _ = pair
    assert evaluate(compute_content_cost, a_C, a_C.copy()) == 0


@examples
@given(
    activation_pairs(),
    st.data(),
    st.floats(0.01, 100),
    st.sampled_from([-1, 1]),
)
def test_content_cost_is_positive_when_one_entry_differs(pair, data, bump, sign):
    a_C, _ = pair
    index = tuple(data.draw(st.integers(0, n - 1)) for n in a_C.shape)
    a_G = a_C.copy()
    a_G[index] += np.float32(sign * bump)
    difference = np.float64(a_G[index]) - a_C[index]
    cost = evaluate(compute_content_cost, a_C, a_G)
    assert cost > 0
    assert cost == pytest.approx(difference**2 / (4 * a_C.size), rel=1e-5)


def assert_symmetric_positive_semidefinite(G):
    G = G.astype(np.float64)
    norm = np.linalg.norm(G)
    np.testing.assert_allclose(G, G.T, rtol=0, atol=1e-5 * norm)
    assert np.linalg.eigvalsh(G).min() >= -1e-4 * norm


@examples
@given(st.data(), channels, st.integers(1, 36))
def test_gram_matrix_is_symmetric_positive_semidefinite(data, n_C, positions):
    A = data.draw(arrays(np.float32, (n_C, positions), elements=values))
    assert_symmetric_positive_semidefinite(evaluate(gram_matrix, A))


@examples
@given(activation_pairs())
def test_activation_gram_is_symmetric_positive_semidefinite(pair):
    a, _ = pair
    assert_symmetric_positive_semidefinite(evaluate(activation_gram, a))


@examples
@given(st.data(), sizes, sizes, sizes, sizes, channels)
def test_layer_style_cost_ignores_a_reordering_of_the_generated_positions(
    data, s_H, s_W, n_H, n_W, n_C
):
    a_S = data.draw(activation(s_H, s_W, n_C), label="a_S")
    a_G = data.draw(activation(n_H, n_W, n_C), label="a_G")
    reordered = data.draw(spatially_permuted(a_G), label="reordered a_G")
    cost, reordered_cost = evaluate(
        lambda s, g, r: (compute_layer_style_cost(s, g), compute_layer_style_cost(s, r)),
        a_S,
        a_G,
        reordered,
    )
    assert reordered_cost == pytest.approx(cost, rel=1e-4, abs=1e-4 * style_cost_scale(a_S, a_G))


@examples
@given(st.data(), activation_pairs())
def test_layer_style_cost_is_zero_for_a_reordering_of_the_style(data, pair):
    a_S, _ = pair
    a_G = data.draw(spatially_permuted(a_S), label="reordered a_S")
    cost = evaluate(compute_layer_style_cost, a_S, a_G)
    assert cost == pytest.approx(0, abs=1e-8 * style_cost_scale(a_S, a_G))


costs = st.floats(0, 1e6)
weights = st.floats(0, 1e4)


@examples
@given(costs, costs, weights, weights)
def test_total_cost_is_alpha_times_content_plus_beta_times_style(J_content, J_style, alpha, beta):
    cost = total_cost(J_content, J_style, alpha, beta)
    assert cost == pytest.approx(alpha * J_content + beta * J_style, rel=1e-12)


@examples
@given(costs, costs, weights, weights, weights)
def test_total_cost_adds_over_alpha_and_over_beta(J_content, J_style, alpha, beta, other):
    def cost(a, b):
        return total_cost(J_content, J_style, a, b)

    assert cost(alpha + other, beta) == pytest.approx(
        cost(alpha, beta) + cost(other, beta) - cost(0, beta), rel=1e-12, abs=1e-9
    )
    assert cost(alpha, beta + other) == pytest.approx(
        cost(alpha, beta) + cost(alpha, other) - cost(alpha, 0), rel=1e-12, abs=1e-9
    )


@examples
@given(costs, costs, weights, weights, st.floats(0, 100))
def test_total_cost_scales_with_alpha_and_beta(J_content, J_style, alpha, beta, k):
    cost = total_cost(J_content, J_style, alpha, beta)
    assert total_cost(J_content, J_style, k * alpha, k * beta) == pytest.approx(
        k * cost, rel=1e-12, abs=1e-12
    )
