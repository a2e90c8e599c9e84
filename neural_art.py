"""Neural style transfer (Gatys, Ecker and Bethge, 2015) as in the deeplearning.ai assignment.

    python neural_art.py images/cat.jpg images/stone.jpg

paints the content image in the style of the style image: starting from a
noisy copy of the content, Adam changes the pixels to lower
J = alpha * J_content + beta * J_style, measured with VGG-19's activations.
Every 20th iterate goes to output/<i>.png, the last to output/generated_image.jpg.

The cost functions are plain TensorFlow ops: they work in a TF 1.x graph (as
the assignment uses them) and eagerly on TF 2 tensors. The optimization runs
in a `tf.compat.v1` session on the graph from `nst_utils.load_vgg_model`.
Importing this module runs nothing.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst.errors import InputError
from nst.quiet import tensorflow_quietly

with tensorflow_quietly():
    import tensorflow as tf

from nst.cli import Settings, parse_args, prepare_output_dir
from nst.download import ProgressBar, download
from nst.weights import WEIGHTS_URL
from nst.weights_check import describe_weights
from nst.weights_sources import WeightsNotFoundError, cached_weights_file, find_weights
from nst_utils import (
    CONFIG,
    generate_noise_image,
    load_image,
    load_vgg_model,
    reshape_and_normalize_image,
    save_image,
)
from nst_utils import tf as tf1

STYLE_LAYERS = CONFIG.STYLE_LAYERS


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


def compute_layer_style_cost(a_S, a_G):
    """J_style_layer = sum((G_S - G_G)^2) / (4 * n_C^2 * (n_H * n_W)^2).

    G_S and G_G are the Gram matrices of the style and generated activations
    (shape (1, n_H, n_W, n_C)), each unrolled to (n_C, n_H * n_W).
    """
    _, n_H, n_W, n_C = a_G.get_shape().as_list()
    a_S = tf.transpose(tf.reshape(a_S, [n_H * n_W, n_C]))
    a_G = tf.transpose(tf.reshape(a_G, [n_H * n_W, n_C]))
    GS = gram_matrix(a_S)
    GG = gram_matrix(a_G)
    return tf.reduce_sum(tf.square(tf.subtract(GS, GG))) / (4 * n_C**2 * (n_H * n_W) ** 2)


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
    activations = sess.run(outputs)
    J_style = 0
    for (_, coeff), a_S, a_G in zip(STYLE_LAYERS, activations, outputs, strict=True):
        J_style += coeff * compute_layer_style_cost(a_S, a_G)
    return J_style


def total_cost(J_content, J_style, alpha: float = 10, beta: float = 40):
    """J = alpha * J_content + beta * J_style."""
    return alpha * J_content + beta * J_style


@dataclass
class CostGraph:
    """The tensors the optimization runs: the model, the three costs, and Adam's step."""

    model: dict
    J: tf.Tensor
    J_content: tf.Tensor
    J_style: tf.Tensor
    train_step: tf.Operation


def build_cost_graph(
    sess,
    model: dict,
    content_image: np.ndarray,
    style_image: np.ndarray,
    content_layer: str = CONFIG.CONTENT_LAYER,
    style_layers: list[tuple[str, float]] = STYLE_LAYERS,
    alpha: float = CONFIG.ALPHA,
    beta: float = CONFIG.BETA,
    learning_rate: float = CONFIG.LEARNING_RATE,
) -> CostGraph:
    """The assignment's steps from targets to train_step, in `sess`'s graph.

    The content and style targets are evaluated once, with each image assigned
    to model['input']; J is minimized by tf.train.AdamOptimizer(learning_rate).
    """
    sess.run(model["input"].assign(content_image))
    a_C = sess.run(model[content_layer])
    J_content = compute_content_cost(a_C, model[content_layer])
    sess.run(model["input"].assign(style_image))
    J_style = compute_style_cost(model, style_layers, sess)
    J = total_cost(J_content, J_style, alpha, beta)
    train_step = tf1.train.AdamOptimizer(learning_rate).minimize(J)
    return CostGraph(model, J, J_content, J_style, train_step)


@dataclass(frozen=True)
class Iterate:
    """The image after Adam step `i` (normalized, (1, H, W, 3)) and, when evaluated, its costs."""

    i: int
    image: np.ndarray
    costs: tuple[np.float32, np.float32, np.float32] | None  # (J, J_content, J_style)


def optimize(
    sess, graph: CostGraph, input_image: np.ndarray, num_iterations: int, cost_every: int
) -> Iterator[Iterate]:
    """Yield each iterate of Adam started at `input_image`, with costs when i % cost_every == 0."""
    sess.run(tf1.global_variables_initializer())
    sess.run(graph.model["input"].assign(input_image))
    for i in range(num_iterations):
        sess.run(graph.train_step)
        image = sess.run(graph.model["input"])
        costs = None
        if i % cost_every == 0:
            costs = tuple(sess.run([graph.J, graph.J_content, graph.J_style]))
        yield Iterate(i, image, costs)


def model_nn(
    sess,
    input_image: np.ndarray,
    num_iterations: int = CONFIG.NUM_ITERATIONS,
    *,
    graph: CostGraph,
    output_dir: str | os.PathLike = CONFIG.OUTPUT_DIR,
    save_every: int = CONFIG.SAVE_EVERY,
    show_progress: bool = False,
) -> np.ndarray:
    """The assignment's loop: run Adam, print the costs and save <i>.png every `save_every`
    iterations, save the last image as generated_image.jpg, and return it.

    With show_progress, a status line on stderr counts the iterations between prints.
    """
    output_dir = Path(output_dir)
    started = time.monotonic()
    for it in optimize(sess, graph, input_image, num_iterations, save_every):
        if show_progress:
            _show_progress(it.i + 1, num_iterations, time.monotonic() - started)
        if it.costs is not None:
            Jt, Jc, Js = it.costs
            if show_progress:
                print("\r\033[K", end="", file=sys.stderr)
            print("Iteration " + str(it.i) + " :")
            print("total cost = " + str(Jt))
            print("content cost = " + str(Jc))
            print("style cost = " + str(Js), flush=True)
            save_image(output_dir / f"{it.i}.png", it.image)
    if show_progress:
        print(file=sys.stderr)
    save_image(output_dir / "generated_image.jpg", it.image)
    return it.image


def _show_progress(done: int, total: int, elapsed: float) -> None:
    per_step = elapsed / done
    left = per_step * (total - done)
    print(
        f"\r\033[Kiteration {done}/{total}  {per_step:.2f} s/it  "
        f"{left // 60:.0f} min {left % 60:02.0f} s left",
        end="",
        file=sys.stderr,
        flush=True,
    )


def run(settings: Settings) -> Path:
    """One run of the command line: load, optimize, save; returns the final image's path."""
    s = settings
    content_image = reshape_and_normalize_image(load_image(s.content, s.width, s.height))
    style_image = reshape_and_normalize_image(load_image(s.style, s.width, s.height))
    weights = s.weights or _find_or_fetch_weights(s.weights_url)
    if not weights.exists():
        raise InputError(
            f"no VGG-19 weights at {weights}: download {WEIGHTS_URL} (510 MiB) "
            f"to that path, or pass --weights PATH"
        )
    planned = [f"{i}.png" for i in range(0, s.iterations, s.save_every)]
    prepare_output_dir(s, planned + ["generated_image.jpg"])
    if s.seed is not None:
        np.random.seed(s.seed)
    generated_image = generate_noise_image(content_image, s.noise_ratio)
    print(f"Loading VGG-19 from {weights}", flush=True)
    with tf1.Graph().as_default() as tf_graph, _session(tf_graph) as sess:
        model = load_vgg_model(weights, s.width, s.height, s.pooling)
        graph = build_cost_graph(
            sess,
            model,
            content_image,
            style_image,
            s.content_layer,
            s.style_layers,
            s.alpha,
            s.beta,
            s.learning_rate,
        )
        print(
            f"Painting {s.content} in the style of {s.style}: {s.width}x{s.height} pixels, "
            f"{s.iterations} iterations, images to {s.output_dir}",
            flush=True,
        )
        model_nn(
            sess,
            generated_image,
            s.iterations,
            graph=graph,
            output_dir=s.output_dir,
            save_every=s.save_every,
            show_progress=sys.stderr.isatty(),
        )
    return s.output_dir / "generated_image.jpg"


def _session(tf_graph):
    """A tf.compat.v1 session on `tf_graph`, opened without TensorFlow's device chatter."""
    with tensorflow_quietly():
        return tf1.Session(graph=tf_graph)


def fetch_weights(url: str, destination: Path) -> Path:
    """Download the weights from `url` to `destination`, showing progress on stderr."""
    print(f"Downloading VGG-19 weights (about 510 MiB) from {url} to {destination}", flush=True)
    if sys.stderr.isatty():
        bar = ProgressBar(
            lambda text: print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)
        )
    else:
        bar = ProgressBar(lambda text: print(text, file=sys.stderr, flush=True), min_interval=10)
    try:
        published = download(url, destination, progress=bar)
    finally:
        if sys.stderr.isatty():
            print(file=sys.stderr)
    print(f"Saved {destination}: the published {published.description} (MD5 {published.md5})")
    return destination


def _find_or_fetch_weights(url: str) -> Path:
    try:
        return find_weights()
    except WeightsNotFoundError:
        return fetch_weights(url, cached_weights_file())


def check_weights(path: Path | None) -> int:
    """Print what --check-weights reports; 0 when the file is a usable VGG-19, else 2."""
    lines, usable = describe_weights(path or find_weights())
    print("\n".join(lines))
    return 0 if usable else 2


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status (0, 2 for bad input, 130 when interrupted)."""
    settings = parse_args(argv)
    try:
        if settings.download_weights:
            fetch_weights(settings.weights_url, settings.weights or cached_weights_file())
            return 0
        if settings.check_weights:
            return check_weights(settings.weights)
        final = run(settings)
    except InputError as e:
        print(f"neural_art.py: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\nneural_art.py: interrupted; images saved so far are in "
            f"{settings.output_dir}, and a partial download resumes on the next run",
            file=sys.stderr,
        )
        return 130
    print(f"Done: {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
