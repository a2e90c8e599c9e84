"""The L-BFGS generator `nst.lbfgs.lbfgs`: what it minimizes, how fast, and when it stops.

A "step" is one search direction plus one strong-Wolfe line search; the
generator yields an `LbfgsStep` (new x, f at x, calls of fun_and_grad so far)
after each one. Its speed is measured against scipy's L-BFGS-B in steps
(scipy's iterations) needed to come within 1e-6 of the minimizer.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import minimize, rosen, rosen_der

from nst.lbfgs import HISTORY, LbfgsStep, lbfgs

TOLERANCE = 1e-6
"""Largest |x_i - x*_i| at which a point counts as the minimizer x*."""


class Recorded:
    """fun_and_grad wrapped so that every call's point is kept."""

    def __init__(self, fun_and_grad):
        self.fun_and_grad = fun_and_grad
        self.points: list[np.ndarray] = []

    def __call__(self, x):
        self.points.append(np.array(x, copy=True))
        return self.fun_and_grad(x)


def rosenbrock(x):
    return rosen(x), rosen_der(x)


def steps_to_reach(fun_and_grad, x0, target, limit=1000):
    """How many steps lbfgs takes to come within TOLERANCE of target (None if it never does)."""
    for count, step in enumerate(itertools.islice(lbfgs(fun_and_grad, x0), limit), 1):
        if np.max(np.abs(step.x - target)) <= TOLERANCE:
            return count
    return None


def scipy_iterations_to_reach(fun_and_grad, x0, target):
    """How many iterations scipy's L-BFGS-B takes to come within TOLERANCE of target."""
    iterates = []
    minimize(
        fun_and_grad,
        x0,
        jac=True,
        method="L-BFGS-B",
        callback=lambda xk: iterates.append(np.array(xk, copy=True)),
        options={"maxcor": HISTORY, "ftol": 0, "gtol": 0, "maxiter": 1000},
    )
    for count, xk in enumerate(iterates, 1):
        if np.max(np.abs(xk - target)) <= TOLERANCE:
            return count
    return None


@pytest.mark.parametrize(
    "x0",
    [np.array([-1.2, 1.0]), np.zeros(10), np.tile([-1.2, 1.0], 5)],
    ids=["2-D from (-1.2, 1)", "10-D from 0", "10-D from (-1.2, 1, ...)"],
)
def test_minimizes_rosenbrock_in_at_most_twice_the_iterations_of_scipys_lbfgsb(x0):
    # Measured: 34 vs scipy's 37 (2-D); 57 vs 58 and 76 vs 70 (10-D).
    ones = np.ones_like(x0)
    ours = steps_to_reach(rosenbrock, x0, ones)
    scipys = scipy_iterations_to_reach(rosenbrock, x0, ones)
    assert scipys is not None
    assert ours is not None, "never came within 1e-6 of (1, ..., 1)"
    assert ours <= 100
    assert ours <= 2 * scipys, f"{ours} steps against scipy's {scipys} iterations"


def test_minimizes_a_convex_quadratic_to_the_solution_of_its_linear_system():
    n = 50
    rng = np.random.default_rng(0)
    M = rng.normal(size=(n, n))
    A = M @ M.T / n + 0.1 * np.eye(n)  # symmetric positive definite
    b = rng.normal(size=n)

    def quadratic(x):
        return 0.5 * x @ A @ x - b @ x, A @ x - b

    # Measured: 50 steps.
    assert steps_to_reach(quadratic, np.zeros(n), np.linalg.solve(A, b), limit=300) is not None


def test_f_never_increases_and_evaluations_counts_every_call_of_the_function():
    recorded = Recorded(rosenbrock)
    steps = list(itertools.islice(lbfgs(recorded, np.tile([-1.2, 1.0], 5)), 60))
    assert len(steps) == 60
    fs = [rosen(np.tile([-1.2, 1.0], 5))] + [step.f for step in steps]
    assert all(later <= earlier for earlier, later in itertools.pairwise(fs))
    for step in steps:
        assert step.f == rosen(step.x)
    assert steps[-1].evaluations == len(recorded.points)
    assert [step.evaluations for step in steps] == sorted({step.evaluations for step in steps})


def test_evaluations_include_the_call_at_x0_and_at_least_one_per_step():
    recorded = Recorded(rosenbrock)
    first = next(lbfgs(recorded, np.array([-1.2, 1.0])))
    assert first.evaluations == len(recorded.points) >= 2
    np.testing.assert_array_equal(recorded.points[0], [-1.2, 1.0])


def test_each_point_is_evaluated_by_one_call_of_fun_and_grad():
    recorded = Recorded(rosenbrock)
    for _ in itertools.islice(lbfgs(recorded, np.zeros(10)), 80):
        pass
    distinct = {point.tobytes() for point in recorded.points}
    assert len(distinct) == len(recorded.points) > 80


def test_the_first_step_goes_down_the_gradient_trying_unit_length_first():
    # f = ||x - t||^2 / 2 from 0: along -g/||g|| = t/||t|| the exact minimum is at length ||t||
    # = 5; a unit step already meets both Wolfe conditions (slope -4 against -5).
    target = np.array([3.0, 4.0])
    recorded = Recorded(lambda x: (0.5 * np.sum((x - target) ** 2), x - target))
    step = next(lbfgs(recorded, np.zeros(2)))
    np.testing.assert_allclose(step.x, target / 5)
    assert step.evaluations == 2


def test_first_step_sets_the_length_of_the_first_trial_step():
    # The same f with t = (300, 400): from a first trial of length 500 (not 1, which would need
    # nine doublings) the line search reaches the minimum at once.
    target = np.array([300.0, 400.0])
    recorded = Recorded(lambda x: (0.5 * np.sum((x - target) ** 2), x - target))
    step = next(lbfgs(recorded, np.zeros(2), first_step=500.0))
    np.testing.assert_allclose(recorded.points[1], target)
    np.testing.assert_allclose(step.x, target)
    assert step.evaluations == 2


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_first_step_must_be_a_positive_number(bad):
    with pytest.raises(ValueError, match="first_step"):
        next(lbfgs(rosenbrock, np.zeros(2), first_step=bad))


def test_takes_an_image_shaped_float32_start_and_a_float32_gradient():
    shape = (1, 4, 5, 3)
    rng = np.random.default_rng(1)
    target = rng.normal(0, 1, shape)
    weights = rng.uniform(1, 10, shape)
    seen_shapes = set()

    def image_cost(x):
        seen_shapes.add((x.shape, x.dtype))
        return float(np.sum(weights * (x - target) ** 2)), (2 * weights * (x - target)).astype(
            np.float32
        )

    x0 = rng.normal(0, 1, shape).astype(np.float32)
    steps = list(itertools.islice(lbfgs(image_cost, x0), 100))
    assert seen_shapes == {(shape, np.dtype(np.float64))}
    assert all(step.x.shape == shape and step.x.dtype == np.float64 for step in steps)
    np.testing.assert_allclose(steps[-1].x, target, atol=1e-4)


def test_yielded_points_are_copies_the_caller_may_change():
    generator = lbfgs(rosenbrock, np.array([-1.2, 1.0]))
    first = next(generator)
    kept = first.x.copy()
    first.x[:] = 1000.0
    second = next(generator)
    assert second.f <= rosen(kept)
    assert np.all(np.abs(second.x) < 10)


def test_ends_without_a_step_when_x0_is_the_exact_minimum():
    recorded = Recorded(lambda x: (float(np.sum(x**2)), 2 * x))
    assert list(lbfgs(recorded, np.zeros((2, 3)))) == []
    assert len(recorded.points) == 1


def test_ends_after_the_step_that_reaches_a_zero_gradient():
    # f = x^2 / 2 from 1: the unit step along -g/|g| = -1 lands exactly on 0.
    steps = list(itertools.islice(lbfgs(lambda x: (0.5 * float(x @ x), x), np.array([1.0])), 5))
    assert steps == [LbfgsStep(x=steps[0].x, f=0.0, evaluations=2)]
    np.testing.assert_array_equal(steps[0].x, [0.0])


def test_ends_when_not_even_steepest_descent_decreases_f():
    # A wrong gradient (the negated one): no step along "-g" decreases f.
    assert list(itertools.islice(lbfgs(lambda x: (float(x @ x), -2 * x), np.ones(3)), 5)) == []


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_raises_floating_point_error_when_f_at_x0_is_not_finite(bad):
    with pytest.raises(FloatingPointError, match="starting point"):
        next(lbfgs(lambda x: (bad, np.ones_like(x)), np.zeros(3)))


def test_raises_floating_point_error_when_the_gradient_at_x0_is_not_finite():
    with pytest.raises(FloatingPointError, match="gradient"):
        next(lbfgs(lambda x: (0.0, np.full_like(x, np.nan)), np.zeros(3)))


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_backs_off_where_f_is_not_finite_and_never_yields_a_non_finite_f(bad):
    # f is inf (or nan) for x > 2 and the minimizer is at 1.9: from 1.5 the first trial step
    # (unit length along -g/|g| = +1) lands on 2.5, where f is not finite.
    bad_at = []

    def walled(x):
        if x[0] > 2:
            bad_at.append(x[0])
            return bad, np.full_like(x, bad)
        return float((x[0] - 1.9) ** 2), 2 * (x - 1.9)

    steps = list(itertools.islice(lbfgs(walled, np.array([1.5])), 100))
    assert bad_at[0] == 2.5
    assert all(np.isfinite(step.f) for step in steps)
    assert abs(steps[-1].x[0] - 1.9) <= TOLERANCE


def test_takes_the_longest_tried_step_when_the_line_search_runs_out_of_doublings():
    # f = 1e-6 (x - 1e5)^2 from 0: the line search doubles its unit step 10 times without
    # meeting the curvature condition; the last step tried (1024) decreases f, so it is taken
    # and the next, quasi-Newton, step lands on the minimizer.
    def far(x):
        return float(1e-6 * (x[0] - 1e5) ** 2), 2e-6 * (x - 1e5)

    first, second = itertools.islice(lbfgs(far, np.array([0.0])), 2)
    assert first.x[0] == 1024.0
    assert second.x[0] == pytest.approx(1e5, rel=1e-12)


def test_a_gradient_of_the_wrong_shape_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        next(lbfgs(lambda x: (0.0, np.ones(7)), np.zeros((2, 3))))


def test_history_must_be_positive():
    with pytest.raises(ValueError, match="history"):
        next(lbfgs(rosenbrock, np.zeros(2), history=0))


def test_a_history_of_one_pair_still_converges():
    generator = lbfgs(rosenbrock, np.array([-1.2, 1.0]), history=1)
    last = None
    for last in itertools.islice(generator, 500):
        if np.max(np.abs(last.x - 1)) <= TOLERANCE:
            break
    assert np.max(np.abs(last.x - 1)) <= TOLERANCE


def test_closing_the_generator_early_is_fine():
    recorded = Recorded(rosenbrock)
    generator = lbfgs(recorded, np.array([-1.2, 1.0]))
    next(generator)
    next(generator)
    calls = len(recorded.points)
    generator.close()
    generator.close()  # closing twice is harmless
    with pytest.raises(StopIteration):
        next(generator)
    assert len(recorded.points) == calls


def test_closing_before_the_first_step_calls_nothing():
    recorded = Recorded(rosenbrock)
    generator = lbfgs(recorded, np.zeros(2))
    generator.close()
    assert recorded.points == []
