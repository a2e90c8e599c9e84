"""The cost graph: J and its parts as TensorFlow tensors, and their evaluation in a session.

`build_cost_graph` follows the assignment's steps and `optimize` runs its
Adam steps; `cost_graph` builds the same costs from targets computed
beforehand, with the options beyond the assignment; `GraphCosts` evaluates a
cost graph in a session as the optimizers take it (nst.optimizers.LevelCosts),
with tf.train.AdamOptimizer's step inside the graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from nst.assignment_config import CONFIG
from nst.costs import (
    compute_content_cost,
    compute_style_cost,
    style_cost_of_grams,
    style_cost_of_moments,
    temporal_cost,
    total_cost,
    total_variation_cost,
)
from nst.optimizers import Adam, AdamMove, Bounds, Iterate, LevelCosts
from nst.tf1.api import tf as tf1
from nst.video.temporal_targets import TemporalTargets


@dataclass
class CostGraph:
    """The tensors an optimization runs: the model, the costs, and the assignment's Adam step.

    train_step is the assignment's Adam update (build_cost_graph's; None in
    cost_graph's, where GraphCosts adds the ops the optimizer asks for), and
    set_input / new_input assign an image to model['input'] without growing
    the graph (None: each image is assigned as a constant, the assignment's way).
    """

    model: dict
    J: tf1.Tensor
    J_content: tf1.Tensor
    J_style: tf1.Tensor
    train_step: tf1.Operation | None
    J_tv: tf1.Tensor | None = None
    new_input: tf1.Tensor | None = None
    set_input: tf1.Operation | None = None
    J_temporal: tf1.Tensor | None = None

    def costs(self) -> list[tf1.Tensor]:
        """[J, J_content, J_style], then J_tv when the total variation counts and J_temporal
        when a frame of a clip is painted (cost_names gives their names)."""
        parts = [self.J_tv, self.J_temporal]
        return [self.J, self.J_content, self.J_style] + [J for J in parts if J is not None]

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
    """What J measures: J = alpha J_content + beta sum_k blend_k J_style(S_k) + tv_weight J_tv,
    J_style being the style_loss's cost (STYLE_COSTS)."""

    content_layer: str
    style_layers: list[tuple[str, float]]
    blend: list[float]
    alpha: float
    beta: float
    tv_weight: float
    style_loss: str = "gram"


def cost_names(objective: Objective, temporal: TemporalTargets | None = None) -> tuple[str, ...]:
    """The names of the costs a level's costs() gives, in order: total, content, style, then
    total variation when it counts and temporal when a frame of a clip is painted."""
    return (
        ("total", "content", "style")
        + ("total variation",) * (objective.tv_weight > 0)
        + (("temporal",) * (temporal is not None))
    )


STYLE_COSTS = {"gram": style_cost_of_grams, "wasserstein": style_cost_of_moments}
"""Each style loss's J_style from the style targets (nst.level_costs.style_targets)."""


def cost_graph(
    model: dict,
    a_C: np.ndarray,
    style_targets: list[list],
    objective: Objective,
    temporal: TemporalTargets | None = None,
) -> CostGraph:
    """The costs of `objective` in the default graph, from targets evaluated beforehand.

    a_C: the content's activation at objective.content_layer; style_targets[k]:
    what style image k's activations at objective.style_layers are compared with
    (nst.level_costs.style_targets: Gram matrices scaled to the generated image's
    positions, or moments); temporal: a clip's frame's earlier results, or None. With one
    style image, the Gram cost, no total variation and no temporal targets, J is the
    assignment's J.
    """
    o = objective
    J_content = compute_content_cost(a_C, model[o.content_layer])
    outputs = [model[name] for name, _ in o.style_layers]
    style_cost = STYLE_COSTS[o.style_loss]
    per_style = [style_cost(t, outputs, o.style_layers) for t in style_targets]
    if len(per_style) == 1:
        J_style = per_style[0]
    else:
        J_style = sum(w * J for w, J in zip(o.blend, per_style, strict=True))
    J = total_cost(J_content, J_style, o.alpha, o.beta)
    J_tv = None
    if o.tv_weight > 0:
        J_tv = total_variation_cost(model["input"])
        J = J + o.tv_weight * J_tv
    image = model["input"]
    J_temporal = None
    if temporal is not None:
        pairs = zip(temporal.warped, temporal.weights, strict=True)
        J_temporal = tf1.add_n([temporal_cost(image, w, c) for w, c in pairs])
        J = J + temporal.weight * J_temporal
    new_input = tf1.placeholder(tf1.float32, image.shape)
    return CostGraph(
        model, J, J_content, J_style, None, J_tv, new_input, image.assign(new_input), J_temporal
    )


class GraphCosts(LevelCosts):
    """The LevelCosts of `graph` in `sess` (the step i is not used).

    An image is put into model['input'] before it is evaluated, unless it is
    the one Adam's last step left there. The ops an optimizer needs are added
    to the graph when it first asks for them: dJ/d input for
    cost_and_gradient, tf.train.AdamOptimizer's step for adam_move.
    """

    def __init__(self, sess, graph: CostGraph):
        self.sess, self.graph = sess, graph
        self._gradient: tf1.Tensor | None = None
        self._adam_image: np.ndarray | None = None  # what Adam's last step left in the input

    def _put(self, x: np.ndarray) -> None:
        """Put x into model['input'] unless it is what Adam's last step left there."""
        if x is not self._adam_image:
            input_shape = self.graph.model["input"].shape
            self.graph.assign_input(self.sess, x.astype(np.float32).reshape(input_shape))
            self._adam_image = None

    def cost(self, x: np.ndarray, i: int) -> float:
        self._put(x)
        return float(self.sess.run(self.graph.J))

    def costs(self, x: np.ndarray, i: int) -> tuple:
        self._put(x)
        return tuple(self.sess.run(self.graph.costs()))

    def cost_and_gradient(self, x: np.ndarray, i: int) -> tuple[float, np.ndarray]:
        if self._gradient is None:
            self._gradient = tf1.gradients(self.graph.J, self.graph.model["input"])[0]
        self._put(x)
        J, gradient = self.sess.run([self.graph.J, self._gradient])
        return float(J), gradient

    def adam_move(self, adam: Adam, state: tuple, bounds: Bounds | None) -> AdamMove:
        """LevelCosts.adam_move inside the graph: the graph's own train_step when it has one
        (build_cost_graph's, whose Adam has the assignment's parameters and state it does
        not show), else tf.train.AdamOptimizer with `adam`'s parameters, added once; the
        input is clipped into `bounds` after each step when given."""
        image, train_step, variables = self.graph.model["input"], self.graph.train_step, []
        if train_step is None:
            steps = tf1.train.AdamOptimizer(
                adam.learning_rate, beta2=adam.beta2, epsilon=adam.epsilon
            )
            train_step, variables = steps.minimize(self.graph.J), steps.variables()
            self.sess.run(tf1.variables_initializer(variables))
        clip_step = None
        if bounds is not None:
            low, high = (np.asarray(b, dtype=np.float32) for b in bounds)
            clip_step = image.assign(tf1.clip_by_value(image, low, high))
        for variable, value in zip(variables, state, strict=False):
            variable.load(value, self.sess)

        def move(x: np.ndarray, i: int) -> tuple[float, np.ndarray, tuple]:
            self._put(x)
            _, J = self.sess.run([train_step, self.graph.J])
            if clip_step is not None:
                self.sess.run(clip_step)
            now = self.sess.run({"image": image, "state": variables})
            self._adam_image = now["image"]
            return float(J), now["image"], tuple(now["state"])

        return move


def optimize(
    sess, graph: CostGraph, input_image: np.ndarray, num_iterations: int, cost_every: int
) -> Iterator[Iterate]:
    """Yield each iterate of Adam (graph.train_step) started at `input_image`, with costs when
    i % cost_every == 0."""
    sess.run(tf1.global_variables_initializer())
    costs = GraphCosts(sess, graph)
    return Adam().steps(costs, input_image, range(num_iterations), cost_every, last=False)
