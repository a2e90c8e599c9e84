"""Adam and L-BFGS-B behind one interface: `steps` yields the image after each step.

    optimizer.steps(costs, image, steps, cost_every, state, bounds) -> Iterator[Iterate]

`costs` is one size level's LevelCosts (J, its parts and dJ/dx of any image:
the whole image's in a TensorFlow graph, nst.optimize.GraphCosts, or the tiles',
nst.level_costs), so an optimizer does not know how they are computed. Adam
takes the step the costs offer: tf.train.AdamOptimizer's, inside the graph, for
the whole image (which gives the assignment's numbers), else the same rule in
NumPy on the gradient. L-BFGS-B is scipy's (nst.lbfgsb) on the gradient.
The caller decides what to print, save or stop.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass

import numpy as np

from nst.assignment_config import CONFIG
from nst.lbfgsb import lbfgs_iterates

Bounds = tuple[np.ndarray, np.ndarray]
"""(low, high) network values broadcastable to an image (nst.pixels.PixelSpace.bounds)."""


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


AdamMove = Callable[[np.ndarray, int], tuple[float, np.ndarray, tuple]]
"""move(x, i) -> (J(x), the image after Adam's step i from image x, Adam's state after it)."""


class LevelCosts(ABC):
    """J, its parts and dJ/dx of images x (network input, (1, H, W, 3)) of one size level.

    Each takes the step i it is asked at (tiles move with the step; the whole
    image's costs do not depend on it).
    """

    @abstractmethod
    def costs(self, x: np.ndarray, i: int) -> tuple:
        """(J, J_content, J_style[, J_tv]) of x."""

    @abstractmethod
    def cost_and_gradient(self, x: np.ndarray, i: int) -> tuple[float, np.ndarray]:
        """(J, dJ/dx: an array of x's shape) of x."""

    def cost(self, x: np.ndarray, i: int) -> float:
        """J of x."""
        return float(self.costs(x, i)[0])

    def adam_move(self, adam: Adam, state: tuple, bounds: Bounds | None) -> AdamMove:
        """Adam's steps on these costs from Adam's `state` (empty: a fresh start), each image
        clipped into `bounds` when given: here Adam.numpy_move on cost_and_gradient."""
        return adam.numpy_move(self, state, bounds)


class Optimizer(ABC):
    """What every optimizer offers: `steps`, from the steps it takes (`_moves`)."""

    def steps(
        self,
        costs: LevelCosts,
        image: np.ndarray,
        steps: range,
        cost_every: int,
        state: tuple = (),
        bounds: Bounds | None = None,
        last: bool = True,
    ) -> Iterator[Iterate]:
        """The Iterate after each step i in `steps` from `image` (and the optimizer's `state`
        after the step before, when it keeps one), each image within `bounds` when given.
        The iterate after step i has its costs when i % cost_every == 0, and after the
        last step if `last`. Closing the generator stops the optimizer."""
        moves = self._moves(costs, image, steps, state, bounds)
        del image  # the optimizer's to keep as long as it needs it (it may be large)
        with closing(moves):
            for i, x, J_before, after in moves:
                evaluated = None
                if i % cost_every == 0 or (last and i == steps[-1]):
                    evaluated = costs.costs(x, i)
                yield Iterate(i, x, evaluated, J_before, after)

    @abstractmethod
    def _moves(
        self,
        costs: LevelCosts,
        image: np.ndarray,
        steps: range,
        state: tuple,
        bounds: Bounds | None,
    ) -> Iterator[tuple[int, np.ndarray, float, tuple]]:
        """(i, the image after step i, J of the image it started from, the optimizer's state
        after it) for each step i of `steps` taken, from `image` and `state`."""


@dataclass(frozen=True)
class Adam(Optimizer):
    """Adam's step size, its second moment's decay beta2 and its epsilon (beta1 is 0.9).

    Its steps are those of costs.adam_move; its state is (m, v, b1^t, b2^t) as
    tf.train.AdamOptimizer's variables() (empty: a new start).
    """

    learning_rate: float = CONFIG.LEARNING_RATE
    beta2: float = 0.999
    epsilon: float = 1e-8

    def _moves(self, costs, image, steps, state, bounds):
        move = costs.adam_move(self, state, bounds)
        for i in steps:
            J_before, image, state = move(image, i)
            yield i, image, J_before, state

    def numpy_move(self, costs: LevelCosts, state: tuple, bounds: Bounds | None) -> AdamMove:
        """Adam's steps in NumPy on the gradients of `costs`, as tf.train.AdamOptimizer takes
        them: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, x -= lr sqrt(1 - b2^t) /
        (1 - b1^t) m / (sqrt(v) + epsilon) with b1 = 0.9, b2 = beta2, t the steps taken, then
        x clipped into `bounds`. To hold only one copy of each moment for a large image, m
        and v are updated in place, those of `state` too when they are float32: the state a
        step returns is the latest one (copy it to keep it); its image is its own."""
        b1, b2 = np.float32(0.9), np.float32(self.beta2)
        m = v = None
        power1, power2 = b1, b2
        if state:
            m, v, power1, power2 = state
            m, v = np.asarray(m, np.float32), np.asarray(v, np.float32)

        def move(x: np.ndarray, i: int) -> tuple[float, np.ndarray, tuple]:
            nonlocal m, v, power1, power2
            x = np.asarray(x, np.float32)
            if m is None:
                m, v = np.zeros_like(x), np.zeros_like(x)
            J, g = costs.cost_and_gradient(x, i)
            m *= b1
            m += (1 - b1) * g
            g *= g
            g *= 1 - b2
            v *= b2
            v += g
            rate = self.learning_rate * np.sqrt(1 - power2) / (1 - power1)
            step = np.sqrt(v, out=g)
            step += self.epsilon
            np.divide(m, step, out=step)
            step *= np.float32(rate)
            x = x - step
            del g, step
            if bounds is not None:
                np.clip(x, *bounds, out=x)
            power1, power2 = np.float32(power1 * b1), np.float32(power2 * b2)
            return float(J), x, (m, v, power1, power2)

        return move


@dataclass(frozen=True)
class LbfgsB(Optimizer):
    """scipy's L-BFGS-B; pixel_unit: one level of 0..255 in the network input's units
    (nst.pixels.PixelSpace.scale).

    One step per iteration of L-BFGS-B (nst.lbfgsb.lbfgs_iterates), fewer when it
    stops first. Its state is empty: its memory of past gradients starts afresh
    with each `steps`. The image is clipped into the bounds and every iterate
    stays within them. The scale of lbfgs_iterates is pixel_unit * sqrt(N) for
    the image's N values, so that without bounds the first trial step changes
    the pixels by pixel_unit in root mean square, instead of moving all N values
    together by a length of 1. Every evaluation during iteration i (its line
    search) is the costs' at step i.
    """

    pixel_unit: float = 1.0

    def _moves(self, costs, image, steps, state, bounds):
        if bounds is not None:
            image = np.clip(image, *bounds)
        now = [steps.start]  # the iteration the worker evaluates for

        def cost_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
            return costs.cost_and_gradient(x, now[0])

        J_before = costs.cost(image, now[0])
        scale = self.pixel_unit * math.sqrt(image.size)
        iterates = lbfgs_iterates(cost_and_gradient, image, len(steps), bounds, scale)
        with closing(iterates):
            for i, (x, J) in zip(steps, iterates, strict=False):
                yield i, x.astype(np.float32), J_before, ()
                J_before = J
                now[0] = i + 1
