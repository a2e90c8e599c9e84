"""The costs of neural style transfer: the assignment's, a Wasserstein-2 style cost, and the
temporal cost of a clip's frames.

Plain TensorFlow ops: they work in a TF 1.x graph (as the assignment uses
them) and eagerly on TF 2 tensors. Activations have shape (1, n_H, n_W, n_C).
"""

from __future__ import annotations

import numpy as np

from nst.quiet import tensorflow_quietly
from nst.tf1.api import tf as tf1

with tensorflow_quietly():
    import tensorflow as tf


def compute_content_cost(a_C, a_G):
    """J_content = sum((a_C - a_G)^2) / (4 * n_H * n_W * n_C).

    a_C, a_G: activations of shape (1, n_H, n_W, n_C) of the content and the
    generated image (tensors or arrays; a_G's static shape gives the sizes).
    """
    _, n_H, n_W, n_C = a_G.get_shape().as_list()
    return tf.reduce_sum(tf.square(tf.subtract(a_C, a_G))) / (4 * n_H * n_W * n_C)


def gram_matrix(A):
    """G = A A^T: the (n_C, n_C) matrix of dot products of the rows of A (n_C, n_H * n_W)."""
    return tf.matmul(A, tf.transpose(A))


def activation_gram(a, positions: int | None = None):
    """gram_matrix of activation a (1, n_H, n_W, n_C) unrolled to (n_C, n_H * n_W).

    Computed as X^T X with X = a reshaped to (n_H * n_W, n_C): the same numbers
    without materializing the transpose. With `positions`, G is scaled by
    positions / (n_H * n_W), as if a had that many positions.
    """
    _, n_H, n_W, n_C = a.get_shape().as_list() if hasattr(a, "get_shape") else a.shape
    X = tf.reshape(a, [n_H * n_W, n_C])
    G = tf.matmul(X, X, transpose_a=True)
    if positions is not None and positions != n_H * n_W:
        G = G * (positions / (n_H * n_W))
    return G


def layer_style_cost_of_gram(GS, a_G):
    """J_style_layer = sum((G_S - G_G)^2) / (4 * n_C^2 * (n_H * n_W)^2), from the style Gram G_S.

    G_S: the style's (n_C, n_C) Gram matrix (activation_gram, scaled to a_G's
    n_H * n_W positions); G_G: the Gram matrix of a_G (1, n_H, n_W, n_C).
    """
    _, n_H, n_W, n_C = a_G.get_shape().as_list()
    return gram_distance(GS, activation_gram(a_G), n_C, n_H * n_W)


def gram_distance(GS, GG, n_C: int, count: int):
    """sum((G_S - G_G)^2) / (4 * n_C^2 * count^2): the style cost of Gram matrices G_S and G_G
    (n_C, n_C) of `count` positions each."""
    return tf.reduce_sum(tf.square(tf.subtract(GS, GG))) / (4 * n_C**2 * count**2)


def compute_layer_style_cost(a_S, a_G):
    """J_style_layer = sum((G_S - G_G)^2) / (4 * n_C^2 * (n_H * n_W)^2).

    G_S and G_G are the Gram matrices of the style and generated activations
    (shape (1, n_H, n_W, n_C)), each unrolled to (n_C, n_H * n_W). A style
    image of another size (m_H, m_W) has its Gram matrix scaled by
    (n_H * n_W) / (m_H * m_W), so both count the same number of positions.
    """
    _, n_H, n_W, _ = a_G.get_shape().as_list()
    return layer_style_cost_of_gram(activation_gram(a_S, n_H * n_W), a_G)


def style_cost_of_grams(grams, outputs, STYLE_LAYERS: list[tuple[str, float]]):
    """J_style = sum over layers of weight * J_style_layer, from the style's Gram matrices.

    grams: the style image's Gram matrices (arrays, activation_gram scaled to
    each output's positions), outputs: the generated image's tensors, both in
    the order of STYLE_LAYERS' (layer, weight) pairs.
    """
    J_style = 0
    for (_, coeff), GS, a_G in zip(STYLE_LAYERS, grams, outputs, strict=True):
        J_style += coeff * layer_style_cost_of_gram(GS, a_G)
    return J_style


def style_cost_of_targets(targets, outputs, STYLE_LAYERS: list[tuple[str, float]]):
    """J_style = sum over layers of weight * J_style_layer(a_S, a_G).

    targets: the style image's activations (arrays), outputs: the generated
    image's tensors, both in the order of STYLE_LAYERS' (layer, weight) pairs.
    """
    J_style = 0
    for (_, coeff), a_S, a_G in zip(STYLE_LAYERS, targets, outputs, strict=True):
        J_style += coeff * compute_layer_style_cost(a_S, a_G)
    return J_style


def moments(a) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mu, Sigma, Sigma^1/2) of activation a (1, n_H, n_W, n_C) as float64 arrays.

    mu = mean of the n_H * n_W rows of X (a unrolled to (n_H * n_W, n_C)),
    Sigma = X^T X / (n_H * n_W) - mu mu^T (the covariance), and its symmetric
    square root V diag(sqrt(max(lambda, 0))) V^T from Sigma = V diag(lambda) V^T.
    """
    X = np.asarray(a, dtype=np.float64).reshape(-1, np.shape(a)[-1])
    return moments_of_sums(X.sum(axis=0), X.T @ X, len(X))


def moments_of_sums(total: np.ndarray, products: np.ndarray, count: int) -> tuple:
    """(mu, Sigma, Sigma^1/2) as in `moments`, from the sum of the rows of X (n_C,), X^T X
    (n_C, n_C) and the number of rows: mu = total / count, Sigma = products / count - mu mu^T."""
    mean = total / count
    covariance = products / count - np.outer(mean, mean)
    eigenvalues, vectors = np.linalg.eigh(covariance)
    root = (vectors * np.sqrt(np.maximum(eigenvalues, 0))) @ vectors.T
    return mean, covariance, root


SQRT_FLOOR = 1e-6
"""Least eigenvalue, as a share of the largest, in trace_sqrt's gradient."""


@tf.custom_gradient
def trace_sqrt(M):
    """tr(M^1/2) = sum of sqrt(lambda_i) over the eigenvalues of the symmetric PSD matrix M.

    Its gradient is (1/2) M^-1/2 = V diag(1 / (2 sqrt(lambda))) V^T, with each lambda
    raised to at least SQRT_FLOOR * lambda_max, so that the near-zero eigenvalues
    of a rank-deficient M do not make it infinite.
    """
    eigenvalues, vectors = tf.linalg.eigh((M + tf.transpose(M)) / 2)
    value = tf.reduce_sum(tf.sqrt(tf.maximum(eigenvalues, 0.0)))

    def gradient(upstream):
        floor = SQRT_FLOOR * tf.reduce_max(eigenvalues)
        half_inverse_roots = 0.5 / tf.sqrt(tf.maximum(eigenvalues, floor))
        return upstream * tf.matmul(vectors * half_inverse_roots, vectors, transpose_b=True)

    return value, gradient


def layer_wasserstein_cost(target: tuple[np.ndarray, np.ndarray, np.ndarray], a_G):
    """J_W2_layer = (|mu_G - mu_S|^2 + tr(Sigma_S) + tr(Sigma_G)
    - 2 tr((Sigma_S^1/2 Sigma_G Sigma_S^1/2)^1/2)) / n_C.

    The squared Wasserstein-2 distance between the Gaussians with the style's
    and the generated image's activation means and covariances (`target`:
    moments(a_S)), per channel. Being made of means over positions, it does not
    depend on the image size.
    """
    _, n_H, n_W, n_C = a_G.get_shape().as_list()
    mean_G = tf.reduce_mean(a_G, axis=[0, 1, 2])
    covariance_G = activation_gram(a_G) / (n_H * n_W) - tf.tensordot(mean_G, mean_G, axes=0)
    return wasserstein_distance(target, mean_G, covariance_G, n_C)


def wasserstein_distance(target: tuple, mean_G, covariance_G, n_C: int):
    """J_W2_layer of layer_wasserstein_cost from the generated image's mean mu_G (n_C,) and
    covariance Sigma_G (n_C, n_C), and the style's moments `target`."""
    mean_S, covariance_S, root_S = (tf.constant(t, tf.float32) for t in target)
    product = tf.matmul(root_S, tf.matmul(covariance_G, root_S))
    distance = (
        tf.reduce_sum(tf.square(mean_G - mean_S))
        + tf.linalg.trace(covariance_S)
        + tf.linalg.trace(covariance_G)
        - 2 * trace_sqrt(product)
    )
    return distance / n_C


def style_cost_of_moments(targets, outputs, STYLE_LAYERS: list[tuple[str, float]]):
    """J_style = sum over layers of weight * J_W2_layer, from the style's moments (one
    (mu, Sigma, Sigma^1/2) per layer) and the generated image's tensors, in the order of
    STYLE_LAYERS' (layer, weight) pairs."""
    J_style = 0
    for (_, coeff), target, a_G in zip(STYLE_LAYERS, targets, outputs, strict=True):
        J_style += coeff * layer_wasserstein_cost(target, a_G)
    return J_style


def compute_style_cost(model: dict, STYLE_LAYERS: list[tuple[str, float]], sess=None):
    """J_style = sum over (layer, weight) in STYLE_LAYERS of weight * J_style_layer(a_S, a_G).

    a_S is each layer's activation for the image now in model['input'] (the
    style image), evaluated once in `sess` or, as in the assignment, in the
    default session; a_G is the layer's tensor.
    """
    sess = sess or tf1.get_default_session()
    if sess is None:
        raise RuntimeError(
            "compute_style_cost evaluates the style activations in a session: "
            "call it inside `with tf.Session() as sess:` or pass sess="
        )
    outputs = [model[layer_name] for layer_name, _ in STYLE_LAYERS]
    return style_cost_of_targets(sess.run(outputs), outputs, STYLE_LAYERS)


def total_cost(J_content, J_style, alpha: float = 10, beta: float = 40):
    """J = alpha * J_content + beta * J_style."""
    return alpha * J_content + beta * J_style


def temporal_cost(x, warped, certainty):
    """J_temporal = sum(c * (x - warped)^2) / D (Ruder, Dosovitskiy and Brox 2016).

    x: the frame being painted (1, H, W, 3) or (H, W, 3); warped: the previous stylized frame
    carried into x's pixels along the optical flow (nst.video.warp), of x's shape; certainty
    c (H, W), 1 where the flow can be trusted, 0 elsewhere (nst.video.certainty), the same
    for the 3 channels; D = H * W * 3, the number of values of x. In the network's input
    units. Its gradient: dJ/dx = 2 c (x - warped) / D. The long-term cost is the sum of
    these over the frames j back, each with its c_j^long (nst.video.certainty).
    """
    x = tf.convert_to_tensor(x)
    c = tf.cast(certainty, x.dtype)[..., None]
    difference = x - tf.cast(warped, x.dtype)
    return tf.reduce_sum(c * tf.square(difference)) / tf.cast(tf.size(x), x.dtype)


def total_variation_cost(image):
    """J_tv = sum((x[h+1, w] - x[h, w])^2) + sum((x[h, w+1] - x[h, w])^2) over the image's
    pixels and channels, in the network's input units (image of shape (1, H, W, 3))."""
    down = image[:, 1:, :, :] - image[:, :-1, :, :]
    right = image[:, :, 1:, :] - image[:, :, :-1, :]
    return tf.reduce_sum(tf.square(down)) + tf.reduce_sum(tf.square(right))
