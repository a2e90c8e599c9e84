"""nst.optimizers: Adam and L-BFGS-B behind one interface, on the costs of a TensorFlow graph
(nst.optimize.GraphCosts) and on costs computed in NumPy alike."""

from __future__ import annotations

import numpy as np
import pytest

from nst.optimize import CostGraph, GraphCosts
from nst.optimizers import Adam, LbfgsB, LevelCosts
from nst.tf1.api import tf as tf1

SHAPE = (1, 4, 5, 3)
TARGET = np.linspace(-30, 30, np.prod(SHAPE)).reshape(SHAPE).astype(np.float32)
WEIGHTS = np.linspace(0.5, 2, np.prod(SHAPE)).reshape(SHAPE).astype(np.float32)
START = np.zeros(SHAPE, np.float32)
BOUNDS = (np.full((1, 1, 1, 3), -20.0), np.full((1, 1, 1, 3), 25.0))


class Quadratic(LevelCosts):
    """J(x) = sum WEIGHTS (x - TARGET)^2 in NumPy; its parts (J, J, 0); records the steps i
    each evaluation was asked at."""

    def __init__(self):
        self.asked: list[int] = []

    def costs(self, x, i):
        self.asked.append(i)
        J = float(np.sum(WEIGHTS * (x - TARGET) ** 2))
        return (np.float32(J), np.float32(J), np.float32(0))

    def cost_and_gradient(self, x, i):
        self.asked.append(i)
        return float(np.sum(WEIGHTS * (x - TARGET) ** 2)), 2 * WEIGHTS * (x - TARGET)


def in_a_graph(optimizer, steps: range, bounds=None, train_step=False) -> list:
    """optimizer's iterates on the Quadratic's J as a TensorFlow graph (GraphCosts); with
    train_step, the graph brings tf.train.AdamOptimizer(learning_rate 1) itself."""
    with tf1.Graph().as_default(), tf1.Session() as sess:
        x = tf1.Variable(np.zeros(SHAPE, np.float32))
        J = tf1.reduce_sum(WEIGHTS * tf1.square(x - TARGET))
        step = tf1.train.AdamOptimizer(1.0).minimize(J) if train_step else None
        graph = CostGraph({"input": x}, J, J, 0 * J, step)
        sess.run(tf1.global_variables_initializer())
        return list(optimizer.steps(GraphCosts(sess, graph), START, steps, 1, (), bounds))


def test_adam_in_numpy_takes_the_steps_of_tensorflows_adam_in_the_graph():
    adam = Adam(learning_rate=1.0, beta2=0.99, epsilon=1e-7)
    in_tf = in_a_graph(adam, range(30), BOUNDS)
    in_numpy = list(adam.steps(Quadratic(), START, range(30), 1, (), BOUNDS))
    for a, b in zip(in_tf, in_numpy, strict=True):
        np.testing.assert_allclose(a.image, b.image, rtol=1e-5, atol=1e-4)
        assert a.J_before == pytest.approx(b.J_before, rel=1e-5)
        np.testing.assert_allclose(a.costs, b.costs, rtol=1e-5)
        assert len(a.state) == len(b.state) == 4  # the beta powers and two moments
    assert in_numpy[-1].image.min() == -20.0 and in_numpy[-1].image.max() == 25.0  # bounds


def test_adam_runs_the_graphs_own_train_step_when_it_has_one():
    """The assignment's graph (build_cost_graph) brings its AdamOptimizer: Adam's own
    parameters are not used, and the state it keeps is not shown."""
    ours = in_a_graph(Adam(learning_rate=1e-9), range(5), train_step=True)
    theirs = list(Adam(learning_rate=1.0).steps(Quadratic(), START, range(5), 1))
    np.testing.assert_allclose(ours[-1].image, theirs[-1].image, rtol=1e-5, atol=1e-4)
    assert ours[-1].state == ()


def test_adam_continues_from_its_state_as_if_never_stopped():
    adam, costs = Adam(learning_rate=0.5), Quadratic()
    straight = list(adam.steps(costs, START, range(6), 1))
    first = list(adam.steps(costs, START, range(3), 1))
    state = tuple(np.copy(v) for v in first[-1].state)  # its moments change in place
    then = list(adam.steps(costs, first[-1].image, range(3, 6), 1, state))
    assert np.array_equal(then[-1].image, straight[-1].image)


@pytest.mark.parametrize("where", ["graph", "numpy"])
def test_lbfgsb_finds_the_bounded_minimum_on_either_kind_of_costs(where):
    optimizer = LbfgsB(pixel_unit=1.0)
    if where == "graph":
        iterates = in_a_graph(optimizer, range(40), BOUNDS)
    else:
        iterates = list(optimizer.steps(Quadratic(), START, range(40), 1, (), BOUNDS))
    minimum = np.clip(TARGET, -20, 25)  # to within J's float32 rounding in the graph
    np.testing.assert_allclose(iterates[-1].image, minimum, atol=0.01)
    assert all(it.state == () for it in iterates)


@pytest.mark.parametrize("optimizer", [Adam(learning_rate=0.5), LbfgsB()], ids=["adam", "lbfgs"])
def test_costs_come_every_cost_every_steps_and_after_the_last(optimizer):
    steps = range(3, 10)
    reported = [it.i for it in optimizer.steps(Quadratic(), START, steps, 4) if it.costs]
    assert reported == [4, 8, 9]
    unlast = [it.i for it in optimizer.steps(Quadratic(), START, steps, 4, last=False) if it.costs]
    assert unlast == [4, 8]


def test_lbfgsb_evaluates_each_iteration_at_its_own_step():
    """Tiles move with the step: every evaluation of L-BFGS-B's iteration i (its line search
    too) is asked at step i, the costs of iterate i too."""
    costs = Quadratic()
    iterates = list(LbfgsB().steps(costs, START, range(5, 9), 100))
    assert [it.i for it in iterates] == [5, 6, 7, 8]
    assert costs.asked == sorted(costs.asked) and set(costs.asked) == {5, 6, 7, 8}
