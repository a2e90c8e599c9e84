"""The cost graph and the two optimizers that change the generated image's pixels.

`build_cost_graph` follows the assignment's steps; `cost_graph` builds the
same costs from targets computed beforehand, with the options beyond the
assignment. `adam_steps` and `lbfgs_steps` yield each iterate, so the caller
decides what to print, save or stop.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from nst.config import CONFIG
from nst.costs import (
    compute_content_cost,
    compute_style_cost,
    style_cost_of_grams,
    total_cost,
    total_variation_cost,
)
from nst.lbfgs import lbfgs
from nst.tf1.api import tf as tf1


@dataclass
class CostGraph:
    """The tensors an optimization runs: the model, the costs, and the optimizer's ops.

    train_step is Adam's update (None with L-BFGS), gradient is dJ/d input
    (None with Adam), clip_step puts the input back into the pixel range (None
    when not clipping), optimizer_state lists the variables Adam keeps, and
    set_input / new_input assign an image to model['input'] without growing
    the graph.
    """

    model: dict
    J: tf1.Tensor
    J_content: tf1.Tensor
    J_style: tf1.Tensor
    train_step: tf1.Operation | None
    J_tv: tf1.Tensor | None = None
    gradient: tf1.Tensor | None = None
    clip_step: tf1.Operation | None = None
    optimizer_state: list = field(default_factory=list)
    new_input: tf1.Tensor | None = None
    set_input: tf1.Operation | None = None

    def costs(self) -> list[tf1.Tensor]:
        """[J, J_content, J_style] and J_tv when the total variation counts."""
        return [self.J, self.J_content, self.J_style] + (
            [self.J_tv] if self.J_tv is not None else []
        )

    def assign_input(self, sess, image: np.ndarray) -> None:
        """Put `image` (1, H, W, 3) into model['input']."""
        if self.set_input is None:
            sess.run(self.model["input"].assign(image))
        else:
            sess.run(self.set_input, {self.new_input: image})


def build_cost_graph(
    sess,
    model: dict,
    content_image: np.ndarray,
    style_image: np.ndarray,
    content_layer: str = CONFIG.CONTENT_LAYER,
    style_layers: list[tuple[str, float]] = CONFIG.STYLE_LAYERS,
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
class Objective:
    """What J measures: J = alpha J_content + beta sum_k blend_k J_style(S_k) + tv_weight J_tv."""

    content_layer: str
    style_layers: list[tuple[str, float]]
    blend: list[float]
    alpha: float
    beta: float
    tv_weight: float


def cost_graph(
    model: dict,
    a_C: np.ndarray,
    style_grams: list[list[np.ndarray]],
    objective: Objective,
    optimizer: str = "adam",
    learning_rate: float = CONFIG.LEARNING_RATE,
    adam_epsilon: float = 1e-8,
    clip_bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> CostGraph:
    """The costs of `objective` in the default graph, from targets evaluated beforehand.

    a_C: the content's activation at objective.content_layer; style_grams[k]:
    the Gram matrices of style image k's activations at objective.style_layers
    (nst.costs.activation_gram, scaled to the generated image's positions).
    With one style image and no total variation, J is the assignment's J.
    """
    o = objective
    J_content = compute_content_cost(a_C, model[o.content_layer])
    outputs = [model[name] for name, _ in o.style_layers]
    per_style = [style_cost_of_grams(g, outputs, o.style_layers) for g in style_grams]
    if len(per_style) == 1:
        J_style = per_style[0]
    else:
        J_style = sum(w * J for w, J in zip(o.blend, per_style, strict=True))
    J = total_cost(J_content, J_style, o.alpha, o.beta)
    J_tv = None
    if o.tv_weight > 0:
        J_tv = total_variation_cost(model["input"])
        J = J + o.tv_weight * J_tv
    graph = CostGraph(model, J, J_content, J_style, None, J_tv)
    if optimizer == "adam":
        adam = tf1.train.AdamOptimizer(learning_rate, epsilon=adam_epsilon)
        graph.train_step = adam.minimize(J)
        graph.optimizer_state = adam.variables()
    else:
        graph.gradient = tf1.gradients(J, model["input"])[0]
    image = model["input"]
    if clip_bounds is not None:
        low, high = (np.asarray(b, dtype=np.float32) for b in clip_bounds)
        graph.clip_step = image.assign(tf1.clip_by_value(image, low, high))
    graph.new_input = tf1.placeholder(tf1.float32, image.shape)
    graph.set_input = image.assign(graph.new_input)
    return graph


@dataclass(frozen=True)
class Iterate:
    """The image after step `i` (network input, (1, H, W, 3)) and, when evaluated, its costs.

    costs: (J, J_content, J_style[, J_tv]) of this image, evaluated every
    `cost_every` steps; J_before: J of the image the step started from (known
    at every step, for progress); state: the optimizer's variables after the
    step (Adam's moments, for checkpoints; empty with L-BFGS).
    """

    i: int
    image: np.ndarray
    costs: tuple[np.float32, ...] | None
    J_before: float = float("nan")
    state: tuple[np.ndarray, ...] = ()


def optimize(
    sess, graph: CostGraph, input_image: np.ndarray, num_iterations: int, cost_every: int
) -> Iterator[Iterate]:
    """Yield each iterate of Adam started at `input_image`, with costs when i % cost_every == 0."""
    sess.run(tf1.global_variables_initializer())
    return adam_steps(sess, graph, input_image, range(num_iterations), cost_every, last=False)


def adam_steps(
    sess,
    graph: CostGraph,
    image: np.ndarray,
    steps: range,
    cost_every: int,
    state: tuple[np.ndarray, ...] = (),
    last: bool = True,
) -> Iterator[Iterate]:
    """Run graph.train_step once per i in `steps`, starting from `image` and Adam's `state`.

    Each step is clipped when the graph clips. The iterate after step i has
    its costs when i % cost_every == 0, and after the last step if `last`.
    """
    graph.assign_input(sess, image)
    for variable, value in zip(graph.optimizer_state, state, strict=False):
        variable.load(value, sess)
    for i in steps:
        _, J_before = sess.run([graph.train_step, graph.J])
        if graph.clip_step is not None:
            sess.run(graph.clip_step)
        fetches = {"image": graph.model["input"], "state": graph.optimizer_state}
        if _reports(i, steps, cost_every, last):
            fetches["costs"] = graph.costs()
        now = sess.run(fetches)
        costs = tuple(now["costs"]) if "costs" in now else None
        adam_state = tuple(now["state"])
        yield Iterate(i, now["image"], costs, float(J_before), adam_state)


def lbfgs_steps(
    sess,
    graph: CostGraph,
    image: np.ndarray,
    steps: range,
    cost_every: int,
    pixel_unit: float = 1.0,
) -> Iterator[Iterate]:
    """L-BFGS from `image`: one iterate per L-BFGS step (one line search, see nst/lbfgs.py).

    The first trial step changes the pixels by `pixel_unit` (one level of 0..255
    in the input's units) in root mean square. Ends early when the line search
    can make no more progress.
    """
    shape = graph.model["input"].shape

    def cost_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        graph.assign_input(sess, x.astype(np.float32).reshape(shape))
        J, gradient = sess.run([graph.J, graph.gradient])
        return float(J), gradient

    graph.assign_input(sess, image)
    J_before = float(sess.run(graph.J))
    first_step = pixel_unit * math.sqrt(image.size)
    minimizer = lbfgs(cost_and_gradient, image.astype(np.float64), first_step=first_step)
    for i, step in zip(steps, minimizer, strict=False):
        image = step.x.astype(np.float32)
        costs = None
        if _reports(i, steps, cost_every, True):
            graph.assign_input(sess, image)
            costs = tuple(sess.run(graph.costs()))
        yield Iterate(i, image, costs, J_before)
        J_before = step.f


def _reports(i: int, steps: range, cost_every: int, last: bool) -> bool:
    return i % cost_every == 0 or (last and i == steps[-1])
