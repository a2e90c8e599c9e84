"""`nst.lbfgsb.lbfgs_iterates`: scipy's L-BFGS-B as a generator of (x, f(x)).

It runs scipy.optimize.minimize(method="L-BFGS-B") in a worker thread that
hands each iterate over and waits; these tests check that the generator gives
exactly scipy's iterates, one per iteration, that it ends when scipy stops or
when the caller stops, that no worker thread outlives it, that exceptions
reach the caller, and what bounds and scale do.
"""

from __future__ import annotations

import signal
import sys
import threading

import numpy as np
import pytest
from scipy.optimize import minimize, rosen, rosen_der

from nst.lbfgsb import lbfgs_iterates

OPTIONS = {"ftol": 0.0, "gtol": 0.0, "maxfun": sys.maxsize}
"""The options lbfgs_iterates gives scipy besides maxiter: stop only when there is no progress."""

STARTS = [np.array([-1.2, 1.0]), np.zeros(10), np.tile([-1.2, 1.0], 5)]
START_IDS = ["2-D from (-1.2, 1)", "10-D from 0", "10-D from (-1.2, 1, ...)"]


class Recorded:
    """fun_and_grad wrapped so that every call's point is kept."""

    def __init__(self, fun_and_grad=None):
        self.fun_and_grad = fun_and_grad or rosenbrock
        self.points: list[np.ndarray] = []

    def __call__(self, x):
        self.points.append(np.array(x, copy=True))
        return self.fun_and_grad(x)


def rosenbrock(x):
    return rosen(x), rosen_der(x)


def scipys_iterates(fun_and_grad, x0, iterations, **kwargs):
    """x after each iteration of scipy's own minimize, and fun_and_grad's calls by then."""
    recorded = Recorded(fun_and_grad)
    iterates, calls = [], []

    def callback(intermediate_result):
        iterates.append(intermediate_result.x.copy())
        calls.append(len(recorded.points))

    options = {**OPTIONS, "maxiter": iterations}
    minimize(recorded, x0, jac=True, method="L-BFGS-B", callback=callback, options=options,
             **kwargs)  # fmt: skip
    return iterates, calls


def worker_threads():
    return [thread for thread in threading.enumerate() if thread.name == "L-BFGS-B"]


@pytest.fixture(autouse=True)
def no_worker_thread_is_left():
    assert worker_threads() == []
    yield
    assert worker_threads() == []


@pytest.mark.parametrize("x0", STARTS, ids=START_IDS)
def test_gives_scipys_own_iterates_and_reaches_the_rosenbrock_minimum(x0):
    ours = [x for x, _ in lbfgs_iterates(rosenbrock, x0, 1000)]
    scipys, _ = scipys_iterates(rosenbrock, x0, 1000)
    assert len(ours) == len(scipys)
    for x, expected in zip(ours, scipys, strict=True):
        np.testing.assert_array_equal(x, expected)
    np.testing.assert_allclose(ours[-1], np.ones_like(x0), rtol=0, atol=1e-6)


def test_ends_when_scipy_converges_before_the_iterations_run_out():
    iterates = list(lbfgs_iterates(rosenbrock, np.array([-1.2, 1.0]), 1000))
    assert len(iterates) < 1000
    x, f = iterates[-1]
    assert f == rosen(x) and np.all(rosen_der(x) == 0)  # the projected gradient is exactly 0


def test_yields_one_iterate_per_iteration_up_to_the_number_asked_for():
    x0 = np.tile([-1.2, 1.0], 5)
    assert len(list(lbfgs_iterates(rosenbrock, x0, 7))) == 7
    assert list(lbfgs_iterates(Recorded(), x0, 0)) == []


def test_each_f_is_the_function_at_its_x_and_x_keeps_x0s_shape():
    x0 = np.array([[-1.2, 1.0], [0.5, 2.0]])
    for x, f in lbfgs_iterates(lambda x: (rosen(x.ravel()), rosen_der(x.ravel())), x0, 10):
        assert x.shape == (2, 2) and x.dtype == np.float64
        assert f == rosen(x.ravel())


def test_the_worker_waits_while_the_caller_holds_an_iterate():
    # The calls made by the time each iterate arrives are those scipy has made at that iteration
    # on its own: the worker never evaluates ahead while the caller holds an iterate.
    x0 = np.tile([-1.2, 1.0], 5)
    recorded = Recorded()
    calls = [len(recorded.points) for _ in lbfgs_iterates(recorded, x0, 30)]
    _, scipys_calls = scipys_iterates(rosenbrock, x0, 30)
    assert calls == scipys_calls


def test_closing_early_stops_the_worker_and_its_calls():
    recorded = Recorded()
    iterates = lbfgs_iterates(recorded, np.tile([-1.2, 1.0], 5), 1000)
    next(iterates)
    next(iterates)
    assert len(worker_threads()) == 1
    calls = len(recorded.points)
    iterates.close()
    assert worker_threads() == []
    assert len(recorded.points) == calls


def test_an_exception_in_the_caller_stops_the_worker():
    recorded = Recorded()
    with pytest.raises(KeyboardInterrupt):
        for _ in lbfgs_iterates(recorded, np.tile([-1.2, 1.0], 5), 1000):
            raise KeyboardInterrupt
    assert worker_threads() == []


def test_an_interrupt_while_the_worker_computes_stops_it():
    main = threading.main_thread().ident

    def interrupted_on_the_fifth_call(x):
        if len(recorded.points) == 5:  # the caller waits for this iterate meanwhile
            signal.pthread_kill(main, signal.SIGINT)
        return rosenbrock(x)

    recorded = Recorded(interrupted_on_the_fifth_call)
    # Ctrl-C raises KeyboardInterrupt, even where the tests run with SIGINT ignored (a
    # background job of a shell, e.g. `pytest &`, starts so)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            list(lbfgs_iterates(recorded, np.tile([-1.2, 1.0], 5), 1000))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert worker_threads() == []


def test_an_exception_in_the_function_reaches_the_caller():
    error = RuntimeError("the session failed")

    def failing_on_the_third_call(x):
        if len(recorded.points) == 3:
            raise error
        return rosenbrock(x)

    recorded = Recorded(failing_on_the_third_call)
    with pytest.raises(RuntimeError) as raised:
        list(lbfgs_iterates(recorded, np.array([-1.2, 1.0]), 1000))
    assert raised.value is error
    assert len(recorded.points) == 3


@pytest.mark.parametrize("scale", [1.0, 0.1])
def test_bounds_hold_at_every_point_and_the_minimum_is_the_clipped_target(scale):
    # f = ||x - t||^2 is least within low <= x <= high at clip(t, low, high); bounds broadcast
    # per channel to an image-shaped x, and x0, partly outside them, is clipped first. The
    # bounds hold exactly even where z = x / scale rounds: 1.7 / 0.1 * 0.1 > 1.7.
    rng = np.random.default_rng(0)
    target = rng.uniform(-3, 3, (1, 4, 5, 3))
    low, high = np.array([[[[-1.0, 0.0, -2.0]]]]), np.array([[[[1.0, 0.5, 1.7]]]])
    x0 = rng.uniform(-4, 4, target.shape)
    recorded = Recorded(lambda x: (float(np.sum((x - target) ** 2)), 2 * (x - target)))
    iterates = list(lbfgs_iterates(recorded, x0, 100, (low, high), scale))
    np.testing.assert_array_equal(recorded.points[0], np.clip(x0, low, high))
    for x in recorded.points + [x for x, _ in iterates]:
        assert np.all(low <= x) and np.all(x <= high)
    np.testing.assert_allclose(iterates[-1][0], np.clip(target, low, high), rtol=0, atol=1e-6)


@pytest.mark.parametrize("scale", [1.0, 500.0])
def test_without_bounds_the_first_trial_step_has_length_scale(scale):
    # f = ||x - (1000, 1000)||^2 from 0: the gradient points along -(1, 1), so the first
    # trial point is x0 - scale g / ||g|| = scale (1, 1) / sqrt(2).
    recorded = Recorded(lambda x: (float(np.sum((x - 1000) ** 2)), 2 * (x - 1000)))
    next(lbfgs_iterates(recorded, np.zeros(2), 10, scale=scale))
    np.testing.assert_allclose(recorded.points[1], np.full(2, scale / np.sqrt(2)), rtol=1e-12)


@pytest.mark.parametrize(("scale", "first_trial"), [(1.0, [5.0, 0.0]), (0.5, [2.0, 0.0])])
def test_with_bounds_the_first_trial_point_is_x0_minus_scale_squared_g_clipped(scale, first_trial):
    # f = ||x - (3, -5)||^2 in [0, 10]^2 from (1, 1): g = (-4, 12), so x0 - scale^2 g is
    # (5, -11) for scale 1 and (2, -2) for scale 0.5; clipped, (5, 0) and (2, 0).
    target = np.array([3.0, -5.0])
    recorded = Recorded(lambda x: (float(np.sum((x - target) ** 2)), 2 * (x - target)))
    bounds = (np.zeros(2), np.full(2, 10.0))
    next(lbfgs_iterates(recorded, np.ones(2), 10, bounds, scale))
    np.testing.assert_allclose(recorded.points[1], first_trial, rtol=1e-12)


def test_with_a_scale_the_iterates_are_scipys_in_units_of_the_scale():
    x0 = np.tile([-1.2, 1.0], 5)
    ours = [x for x, _ in lbfgs_iterates(rosenbrock, x0, 20, scale=4.0)]
    scaled, _ = scipys_iterates(lambda z: (rosen(4 * z), 4 * rosen_der(4 * z)), x0 / 4, 20)
    np.testing.assert_array_equal(np.array(ours), 4 * np.array(scaled))
