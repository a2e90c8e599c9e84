"""The costs of neural style transfer, as the assignment defines them.

Plain TensorFlow ops: they work in a TF 1.x graph (as the assignment uses
them) and eagerly on TF 2 tensors. Activations have shape (1, n_H, n_W, n_C).
"""

from __future__ import annotations

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
    GG = activation_gram(a_G)
    return tf.reduce_sum(tf.square(tf.subtract(GS, GG))) / (4 * n_C**2 * (n_H * n_W) ** 2)


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


def total_variation_cost(image):
    """J_tv = sum((x[h+1, w] - x[h, w])^2) + sum((x[h, w+1] - x[h, w])^2) over the image's
    pixels and channels, in the network's input units (image of shape (1, H, W, 3))."""
    down = image[:, 1:, :, :] - image[:, :-1, :, :]
    right = image[:, :, 1:, :] - image[:, :, :-1, :]
    return tf.reduce_sum(tf.square(down)) + tf.reduce_sum(tf.square(right))
