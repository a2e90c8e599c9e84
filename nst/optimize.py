"""The cost graph and the two optimizers that change the generated image's pixels.

`build_cost_graph` follows the assignment's steps; `cost_graph` builds the
same costs from targets computed beforehand, with the options beyond the
assignment. `adam_steps` and `lbfgs_steps` yield each iterate, so the caller
decides what to print, save or stop; `lbfgs_iterates` turns scipy's L-BFGS-B
into such a generator.
"""

from __future__ import annotations

import math
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, minimize

from nst.config import CONFIG
from nst.costs import (
    compute_content_cost,
    compute_style_cost,
    style_cost_of_grams,
    style_cost_of_moments,
    total_cost,
    total_variation_cost,
)
from nst.tf1.api import tf as tf1


@dataclass
class CostGraph:
    """The tensors an optimization runs: the model, the costs, and the optimizer's ops.

    train_step is Adam's update (None with L-BFGS), gradient is dJ/d input
    (None with Adam), clip_step puts the input back into the pixel range after
    an Adam step (None when not clipping, and with L-BFGS, whose bounds go to
    lbfgs_steps), optimizer_state lists the variables Adam keeps, and
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
    """What J measures: J = alpha J_content + beta sum_k blend_k J_style(S_k) + tv_weight J_tv,
    J_style being the style_loss's cost (STYLE_COSTS)."""

    content_layer: str
    style_layers: list[tuple[str, float]]
    blend: list[float]
    alpha: float
    beta: float
    tv_weight: float
    style_loss: str = "gram"


STYLE_COSTS = {"gram": style_cost_of_grams, "wasserstein": style_cost_of_moments}
"""Each style loss's J_style from the style targets (nst.transfer.style_targets)."""


@dataclass(frozen=True)
class Adam:
    """Adam's step size, its second moment's decay beta2 and its epsilon (beta1 is 0.9)."""

    learning_rate: float = CONFIG.LEARNING_RATE
    beta2: float = 0.999
    epsilon: float = 1e-8


def cost_graph(
    model: dict,
    a_C: np.ndarray,
    style_targets: list[list],
    objective: Objective,
    optimizer: str = "adam",
    adam: Adam = Adam(),
    clip_bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> CostGraph:
    """The costs of `objective` in the default graph, from targets evaluated beforehand.

    a_C: the content's activation at objective.content_layer; style_targets[k]:
    what style image k's activations at objective.style_layers are compared with
    (nst.transfer.style_targets: Gram matrices scaled to the generated image's
    positions, or moments). With one style image, the Gram cost and no total
    variation, J is the assignment's J. clip_bounds: the (low, high) pixel range
    of Adam's clip_step, or None.
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
    graph = CostGraph(model, J, J_content, J_style, None, J_tv)
    if optimizer == "adam":
        steps = tf1.train.AdamOptimizer(adam.learning_rate, beta2=adam.beta2, epsilon=adam.epsilon)
        graph.train_step = steps.minimize(J)
        graph.optimizer_state = steps.variables()
    else:
        graph.gradient = tf1.gradients(J, model["input"])[0]
    image = model["input"]
    if clip_bounds is not None and optimizer == "adam":
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


FunAndGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]
"""fun_and_grad(x) -> (f(x), the gradient of f at x: an array of x's shape, any real dtype)."""

_ITERATE, _END, _FAILED = "iterate", "end", "failed"  # the worker's messages
_GO, _STOP = "go", "stop"  # the generator's replies to an iterate


def lbfgs_iterates(
    fun_and_grad: FunAndGrad,
    x0: np.ndarray,
    iterations: int,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
    scale: float = 1.0,
) -> Iterator[tuple[np.ndarray, float]]:
    """Yield (x, f(x)) after each iteration of scipy's L-BFGS-B minimizing f from x0.

    x is a float64 array of x0's shape (a copy the caller may keep). At most
    `iterations` are yielded; fewer when L-BFGS-B stops first: the projected
    gradient is exactly 0, f did not decrease ((f_k - f_k+1) / max(|f_k|,
    |f_k+1|, 1) <= 0), or the line search found no acceptable step. bounds:
    (low, high) arrays broadcastable to x0's shape, with low <= x <= high for
    every point evaluated (x0 is clipped into them).

    L-BFGS-B runs on z = x / scale, whose gradient is scale g (g: the gradient
    in x). Its Hessian approximation starts as the identity in z, so scale sets
    its first trial point: without bounds a step of length 1 in z, x0 - scale
    g / ||g||_2; with bounds x0 - scale^2 g, projected onto the bounds. Later
    iterations scale the approximation by the curvature measured, s'y / y'y,
    whatever the units.

    minimize runs in a worker thread named "L-BFGS-B", strictly in turn with
    the caller: while the caller holds an iterate, the worker waits in
    minimize's callback. Closing the generator (or an exception in the caller)
    makes that callback raise StopIteration, which ends minimize, and the
    worker is joined before the generator ends. An exception raised by
    fun_and_grad (or by minimize) is raised here, in the caller's thread.
    """
    if iterations < 1:
        return
    worker = _LbfgsbThread(fun_and_grad, x0, iterations, bounds, scale)
    worker.start()
    awaiting_reply = finished = False
    try:
        while True:
            kind, payload = worker.results.get()
            if kind != _ITERATE:
                finished = True
                if kind == _FAILED:
                    raise payload
                return
            awaiting_reply = True
            yield payload
            awaiting_reply = False
            worker.replies.put(_GO)
    finally:
        if awaiting_reply:
            worker.replies.put(_STOP)
        while not finished:  # the worker was inside an iteration: stop it at its end
            kind, _ = worker.results.get()
            finished = kind != _ITERATE
            if not finished:
                worker.replies.put(_STOP)
        worker.join()


class _LbfgsbThread(threading.Thread):
    """scipy's L-BFGS-B, handing each iterate to `results` and waiting for a reply in `replies`.

    Messages: (_ITERATE, (x, f)) after each iteration, then (_END, None) when
    minimize returns or (_FAILED, exception) when it raises. After an iterate
    the thread waits for _GO (continue) or _STOP (the callback raises
    StopIteration). Both queues hold one item: only one side runs at a time.
    """

    def __init__(
        self,
        fun_and_grad: FunAndGrad,
        x0: np.ndarray,
        iterations: int,
        bounds: tuple[np.ndarray, np.ndarray] | None,
        scale: float,
    ):
        super().__init__(name="L-BFGS-B", daemon=True)
        self.fun_and_grad, self.shape, self.scale = fun_and_grad, np.shape(x0), scale
        self.z0 = np.asarray(x0, dtype=np.float64).reshape(-1) / scale
        self.bounds, self.box = bounds, None
        if bounds is not None:
            low, high = (np.broadcast_to(b, self.shape).reshape(-1) / scale for b in bounds)
            self.box = Bounds(low, high)
        # maxiter ends after `iterations`; ftol = gtol = 0 stop only on no progress at all.
        self.options = {"maxiter": iterations, "ftol": 0.0, "gtol": 0.0, "maxfun": sys.maxsize}
        self.results: queue.Queue = queue.Queue(maxsize=1)
        self.replies: queue.Queue = queue.Queue(maxsize=1)

    def run(self) -> None:
        try:
            minimize(
                self._fun,
                self.z0,
                jac=True,
                method="L-BFGS-B",
                bounds=self.box,
                callback=self._callback,
                options=self.options,
            )
        except BaseException as error:  # raised again in the caller's thread
            self.results.put((_FAILED, error))
        else:
            self.results.put((_END, None))

    def _x(self, z: np.ndarray) -> np.ndarray:
        """x = scale z in x0's shape (a new array), clipped to the bounds against rounding."""
        x = z.reshape(self.shape) * self.scale
        return x if self.bounds is None else np.clip(x, *self.bounds)

    def _fun(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        """f and its gradient with respect to z = x / scale (scale times the one in x)."""
        value, gradient = self.fun_and_grad(self._x(z))
        return float(value), np.asarray(gradient, dtype=np.float64).reshape(-1) * self.scale

    def _callback(self, intermediate_result) -> None:  # scipy passes it by this name
        x = self._x(intermediate_result.x)
        self.results.put((_ITERATE, (x, float(intermediate_result.fun))))
        if self.replies.get() == _STOP:
            raise StopIteration


@dataclass(frozen=True)
class Evaluator:
    """How an optimizer evaluates an image x (network input, (1, H, W, 3)) at step i:
    cost(x, i) = J, costs(x, i) = (J, J_content, J_style[, J_tv]) and
    cost_and_gradient(x, i) = (J, dJ/dx, an array of x's shape)."""

    cost: Callable[[np.ndarray, int], float]
    costs: Callable[[np.ndarray, int], tuple]
    cost_and_gradient: Callable[[np.ndarray, int], tuple[float, np.ndarray]]


def session_evaluator(sess, graph: CostGraph) -> Evaluator:
    """The Evaluator of `graph` in `sess`: each image put into model['input'] (i unused)."""
    shape = graph.model["input"].shape

    def assigned(x: np.ndarray) -> None:
        graph.assign_input(sess, x.astype(np.float32).reshape(shape))

    def cost(x: np.ndarray, i: int) -> float:
        assigned(x)
        return float(sess.run(graph.J))

    def costs(x: np.ndarray, i: int) -> tuple:
        assigned(x)
        return tuple(sess.run(graph.costs()))

    def cost_and_gradient(x: np.ndarray, i: int) -> tuple[float, np.ndarray]:
        assigned(x)
        J, gradient = sess.run([graph.J, graph.gradient])
        return float(J), gradient

    return Evaluator(cost, costs, cost_and_gradient)


def lbfgs_steps(
    sess,
    graph: CostGraph,
    image: np.ndarray,
    steps: range,
    cost_every: int,
    pixel_unit: float = 1.0,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> Iterator[Iterate]:
    """lbfgs_evaluated_steps of `graph`'s costs in `sess` (session_evaluator)."""
    evaluator = session_evaluator(sess, graph)
    return lbfgs_evaluated_steps(evaluator, image, steps, cost_every, pixel_unit, bounds)


def lbfgs_evaluated_steps(
    evaluator: Evaluator,
    image: np.ndarray,
    steps: range,
    cost_every: int,
    pixel_unit: float = 1.0,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> Iterator[Iterate]:
    """One iterate per iteration of scipy's L-BFGS-B from `image` (see lbfgs_iterates).

    bounds: (low, high) arrays broadcastable to the image (the pixel range,
    PixelSpace.bounds) that the image is clipped into and every iterate stays
    within, or None. The scale of lbfgs_iterates is pixel_unit * sqrt(N) for
    the image's N values, so that without bounds the first trial step changes
    the pixels by pixel_unit (one level of 0..255 in the input's units) in root
    mean square, instead of moving all N values together by a length of 1.
    Ends early when L-BFGS-B stops. The iterate after step i has its costs when
    i % cost_every == 0 and after the last step. Every evaluation during
    iteration i (its line search) is the evaluator's at step i.
    """
    if bounds is not None:
        image = np.clip(image, *bounds)
    now = [steps.start]  # the iteration the worker evaluates for

    def cost_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        return evaluator.cost_and_gradient(x, now[0])

    J_before = evaluator.cost(image, now[0])
    scale = pixel_unit * math.sqrt(image.size)
    iterates = lbfgs_iterates(cost_and_gradient, image, len(steps), bounds, scale)
    with closing(iterates):
        for i, (x, J) in zip(steps, iterates, strict=False):
            image = x.astype(np.float32)
            costs = None
            if _reports(i, steps, cost_every, True):
                costs = evaluator.costs(image, i)
            yield Iterate(i, image, costs, J_before)
            J_before = J
            now[0] = i + 1


def adam_evaluated_steps(
    evaluator: Evaluator,
    image: np.ndarray,
    steps: range,
    cost_every: int,
    state: tuple = (),
    adam: Adam = Adam(),
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> Iterator[Iterate]:
    """Adam's steps in NumPy on the gradients of `evaluator`, as tf.train.AdamOptimizer takes
    them: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, x -= lr sqrt(1 - b2^t) / (1 - b1^t)
    m / (sqrt(v) + epsilon) with b1 = 0.9, b2 = adam.beta2, t the steps taken. `state` is
    (m, v, b1^t, b2^t) as AdamOptimizer's variables() (empty: a new start); the image is
    clipped into `bounds` after each step. Costs as adam_steps'. To hold only one copy of
    each moment for a large image, m and v are updated in place, those of `state` too when
    they are float32: an iterate's state is the latest one (copy it to keep it); its image
    is its own."""
    b1, b2 = np.float32(0.9), np.float32(adam.beta2)
    x = np.array(image, np.float32)
    del image  # only the iterate is kept
    m, v, power1, power2 = state or (np.zeros_like(x), np.zeros_like(x), b1, b2)
    m, v = np.asarray(m, np.float32), np.asarray(v, np.float32)
    for i in steps:
        J_before, g = evaluator.cost_and_gradient(x, i)
        m *= b1
        m += (1 - b1) * g
        g *= g
        g *= 1 - b2
        v *= b2
        v += g
        rate = adam.learning_rate * np.sqrt(1 - power2) / (1 - power1)
        step = np.sqrt(v, out=g)
        step += adam.epsilon
        np.divide(m, step, out=step)
        step *= np.float32(rate)
        x = x - step
        del g, step
        if bounds is not None:
            np.clip(x, *bounds, out=x)
        power1, power2 = np.float32(power1 * b1), np.float32(power2 * b2)
        costs = evaluator.costs(x, i) if _reports(i, steps, cost_every, True) else None
        yield Iterate(i, x, costs, float(J_before), (m, v, power1, power2))


def _reports(i: int, steps: range, cost_every: int, last: bool) -> bool:
    return i % cost_every == 0 or (last and i == steps[-1])
