"""scipy's L-BFGS-B as a generator: one (x, f(x)) per iteration, the caller in control.

scipy.optimize.minimize runs to its end and reports through a callback; this
module runs it in a worker thread, strictly in turn with the caller, so that a
caller can look at each iterate, save it, or stop (close the generator). It
knows nothing of images: nst.optimizers.LbfgsB runs it on a size level's costs.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable, Iterator

import numpy as np
from scipy.optimize import Bounds, minimize

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
