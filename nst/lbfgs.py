"""Limited-memory BFGS minimization as a generator that yields after every step.

`lbfgs(fun_and_grad, x0)` minimizes a smooth function f of an array x without
bounds. It is a generator so that its caller decides what happens between
steps: save or print the current point, count steps, or stop (just stop
iterating, or call `.close()`).

One step is:

1. A search direction d. The first step, and any step after the history was
   dropped, uses steepest descent scaled to the length `first_step`,
   d = -first_step g / ||g||_2 (so a step length of 1 moves x by first_step;
   with the default 1, as scipy's L-BFGS-B does on its first iteration).
   Later steps use the two-loop recursion, d = -H g, where H is the
   inverse-Hessian approximation built from the last `history` correction pairs
   s_k = x_{k+1} - x_k, y_k = g_{k+1} - g_k, starting from H0 = gamma I with
   gamma = s'y / y'y of the newest pair.
2. One line search along d (`scipy.optimize.line_search`, initial step length 1)
   for a step length alpha meeting the strong Wolfe conditions
       f(x + alpha d) <= f(x) + c1 alpha g'd            (sufficient decrease)
       |g(x + alpha d)'d| <= c2 |g'd|                    (curvature)
   with c1 = 1e-4 and c2 = 0.9. The new point is x + alpha d.

Each step calls fun_and_grad a few times (usually once or twice); a point is
never evaluated twice, because the line search's separate requests for f and
for its gradient at one point are served by one call.

To the line search, a NaN f counts as +inf, so it backs off from points where
f is not finite. When it runs out of step doublings (10, so steps beyond 1024)
without meeting the curvature condition, the longest step it tried is taken if
it meets the sufficient-decrease condition. A step whose line search fails
otherwise (no step length found, a non-finite f or gradient at it, or no
sufficient decrease) is retried once along steepest descent with the history
dropped; if that fails too, or the failed direction was already steepest
descent, the generator ends. The generator also ends when the gradient is
exactly zero. Otherwise it runs forever, and every yielded f is no greater than
the one before (and than f(x0)).
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy.optimize import line_search

try:
    from scipy.optimize._linesearch import LineSearchWarning
except ImportError:  # pragma: no cover - scipy moved its private module
    LineSearchWarning = RuntimeWarning  # its base class

HISTORY = 10
"""Correction pairs (s, y) kept: scipy's L-BFGS-B default `maxcor`."""

C1 = 1e-4
"""Sufficient-decrease (Armijo) constant of the strong Wolfe conditions."""

C2 = 0.9
"""Curvature constant of the strong Wolfe conditions (the usual quasi-Newton value)."""

CURVATURE = 1e-10
"""A pair (s, y) is kept only when s'y > CURVATURE * ||s||_2 * ||y||_2."""

_CACHE_SIZE = 4
"""Evaluated points remembered: the line search asks for f and g at one point in turn."""

FunAndGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]
"""fun_and_grad(x) -> (f(x), gradient of f at x with x's shape)."""


@dataclass(frozen=True)
class LbfgsStep:
    """The outcome of one step of `lbfgs`."""

    x: np.ndarray
    """The new point: a float64 array of x0's shape, a copy the caller may keep or change."""
    f: float
    """The objective at x (no greater than at the previous step's x)."""
    evaluations: int
    """Calls of fun_and_grad so far, counting the one at x0."""


def lbfgs(
    fun_and_grad: FunAndGrad, x0: np.ndarray, history: int = HISTORY, first_step: float = 1.0
) -> Iterator[LbfgsStep]:
    """Minimize f from x0 by L-BFGS, yielding an `LbfgsStep` after every step.

    fun_and_grad(x) receives a float64 array of x0's shape (a fresh copy) and
    returns f(x) (a real number) and the gradient of f at x (an array of x's
    shape, of any real dtype; it is converted to float64). history is the
    number of correction pairs kept (m in the L-BFGS literature), at least 1.
    first_step is the length (L2 norm) of the first trial step along steepest
    descent: a length on the scale of the wanted change of x saves the line
    search the doublings from 1 up to it.

    fun_and_grad is called once at x0 when the first step is requested. A
    non-finite f or gradient there raises FloatingPointError. The generator
    ends when the gradient is exactly zero (||g||_inf == 0) or when no step
    decreasing f can be found even along steepest descent; the caller may
    treat either as convergence. It never ends otherwise.
    """
    if history < 1:
        raise ValueError(f"history must be at least 1, got {history}")
    if not (math.isfinite(first_step) and first_step > 0):
        raise ValueError(f"first_step must be a positive number, got {first_step}")
    shape = np.shape(x0)
    x = np.array(x0, dtype=np.float64).reshape(-1)
    evaluations = 0
    cache: OrderedDict[bytes, tuple[float, np.ndarray]] = OrderedDict()

    def evaluate(point: np.ndarray) -> tuple[float, np.ndarray]:
        """(f, flat float64 gradient) at a flat point, calling fun_and_grad once per point."""
        nonlocal evaluations
        key = point.tobytes()
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        value, gradient = fun_and_grad(point.reshape(shape).copy())
        evaluations += 1
        gradient = np.array(gradient, dtype=np.float64)
        if gradient.shape != shape:
            raise ValueError(
                f"fun_and_grad returned a gradient of shape {gradient.shape} "
                f"for a point of shape {shape}"
            )
        result = (float(value), gradient.reshape(-1))
        cache[key] = result
        if len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
        return result

    def search(
        x: np.ndarray, f: float, g: np.ndarray, d: np.ndarray
    ) -> tuple[np.ndarray, float, np.ndarray] | None:
        """(x + alpha d, its f, its gradient) for a strong Wolfe alpha, or None on failure."""
        slope = float(np.dot(g, d))
        if not slope < 0:  # not a descent direction (or NaN)
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LineSearchWarning)
            alpha, _, _, f_new, _, g_new = line_search(
                lambda p: _nan_to_inf(evaluate(p)[0]),
                lambda p: evaluate(p)[1],
                x,
                d,
                gfk=g,
                old_fval=f,
                c1=C1,
                c2=C2,
            )
        if alpha is None or f_new is None or not (math.isfinite(alpha) and alpha > 0):
            return None
        f_new = float(f_new)
        # Also rejects the point line_search returns, unchecked, after its last doubling.
        if not (math.isfinite(f_new) and f_new <= f + C1 * alpha * slope):
            return None
        x_new = x + alpha * d  # the very expression line_search evaluated, so a cache hit
        if not isinstance(g_new, np.ndarray) or g_new.shape != x.shape:
            f_new, g_new = evaluate(x_new)
        if not np.all(np.isfinite(g_new)):
            return None
        return x_new, f_new, g_new

    f, g = evaluate(x)
    if not math.isfinite(f):
        raise FloatingPointError(f"the objective is {f} at the starting point; it must be finite")
    if not np.all(np.isfinite(g)):
        raise FloatingPointError("the gradient at the starting point has non-finite entries")

    pairs: deque[tuple[np.ndarray, np.ndarray, float]] = deque(maxlen=history)
    while np.any(g):  # stop when ||g||_inf == 0
        step = search(x, f, g, _two_loop(g, pairs)) if pairs else None
        if step is None:
            pairs.clear()
            step = search(x, f, g, first_step * _unit_steepest_descent(g))
            if step is None:
                return
        x_new, f_new, g_new = step
        s = x_new - x
        y = g_new - g
        sy = float(np.dot(s, y))
        if sy > CURVATURE * np.linalg.norm(s) * np.linalg.norm(y):
            pairs.append((s, y, 1.0 / sy))
        x, f, g = x_new, f_new, g_new
        yield LbfgsStep(x=x.reshape(shape).copy(), f=f, evaluations=evaluations)


def _nan_to_inf(value: float) -> float:
    """value, with NaN replaced by +inf: a point where f is NaN is, to the line search, too far."""
    return math.inf if math.isnan(value) else value


def _unit_steepest_descent(g: np.ndarray) -> np.ndarray:
    """-g / ||g||_2, computed without overflow for huge entries (g must not be all zero)."""
    scaled = g / np.max(np.abs(g))
    return -scaled / np.linalg.norm(scaled)


def _two_loop(g: np.ndarray, pairs: deque[tuple[np.ndarray, np.ndarray, float]]) -> np.ndarray:
    """The L-BFGS direction d = -H g by the two-loop recursion.

    pairs holds (s_i, y_i, rho_i = 1 / s_i'y_i), oldest first. H applies the
    BFGS update for each pair, oldest to newest, to H0 = gamma I with
    gamma = s'y / y'y of the newest pair.
    """
    q = g.copy()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * np.dot(s, q)
        q -= a * y
        alphas.append(a)
    _, y_newest, rho_newest = pairs[-1]
    r = q / (rho_newest * np.dot(y_newest, y_newest))  # H0 q = gamma q, gamma = 1 / (rho y'y)
    for (s, y, rho), a in zip(pairs, reversed(alphas), strict=True):
        b = rho * np.dot(y, r)
        r += (a - b) * s
    return -r
