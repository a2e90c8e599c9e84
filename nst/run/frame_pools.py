"""Where the frames of a pass are painted: one after another in this process
(LocalFrames), or several at once as Ray tasks (RayFrames), on Ray started on this machine
or on the cluster at --ray-address (nst.ray_cluster). Either yields each painted frame as
it is finished, which with Ray need not be in order."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType

from nst.ray_cluster import Cluster
from nst.run.frame_painting import FrameWork, PaintedFrame, paint_frame, paint_frame_task

RETRIES = 2
"""How many more times a frame whose Ray worker died (killed, out of memory, its node
lost) is painted."""
WAIT_SECONDS = 0.2
"""How often, in seconds, the frames in flight on Ray are looked at (Python handles a
Ctrl-C between the waits)."""


class LocalFrames:
    """Frames painted one after another in this process, with the style targets kept
    across them; `on_step(step, work)` is called after each iteration."""

    where = "this process"

    def __init__(self, kernels: dict):
        from nst.level_costs import KeptStyleTargets  # TensorFlow loads here

        self.kernels, self.kept = kernels, KeptStyleTargets()

    def paint(
        self, works: Iterable[FrameWork], on_step: Callable | None = None
    ) -> Iterator[PaintedFrame]:
        """Each of `works` painted, in order."""
        for work in works:
            step = None if on_step is None else (lambda s, work=work: on_step(s, work))
            yield paint_frame(work, self.kernels, self.kept, step)


class RayFrames:
    """Frames painted as Ray tasks, `at_once` at a time, each with `threads` threads for
    its TensorFlow ops (unless its settings give their own), the kernels put into Ray's
    object store once. A worker process paints frame after frame, keeping its style
    targets."""

    def __init__(self, ray: ModuleType, cluster: Cluster, workers: int | None, kernels: dict):
        self.ray = ray
        self.at_once, self.threads = cluster.shares(workers)
        self.where = (
            f"{cluster.where}, {self.at_once} at a time with {self.threads} "
            f"thread{'' if self.threads == 1 else 's'} each"
        )
        self.kernels = ray.put(kernels)
        self.task = ray.remote(max_retries=0)(paint_frame_task)

    def paint(
        self, works: Iterable[FrameWork], on_step: Callable | None = None
    ) -> Iterator[PaintedFrame]:
        """Each of `works` painted, as they finish; `on_step` is not called (the
        iterations happen in the workers). A work is made only when a worker is free for
        it, so that no more frames' starts are held than are painted at once."""
        works = iter(works)
        again: list[FrameWork] = []  # those whose worker died, to paint once more
        running: dict = {}
        tries: dict[int, int] = {}
        while True:
            while len(running) < self.at_once:
                work = again.pop() if again else next(works, None)
                if work is None:
                    break
                work = self._threaded(work)
                ref = self.task.options(num_cpus=self.threads).remote(work, self.kernels)
                running[ref] = work
            if not running:
                return
            ready, _ = self.ray.wait(list(running), num_returns=1, timeout=WAIT_SECONDS)
            for ref in ready:
                work = running.pop(ref)
                try:
                    painted = self.ray.get(ref)
                except self.ray.exceptions.RayTaskError as e:
                    raise e.as_instanceof_cause() from None
                except self.ray.exceptions.RayError:  # its worker died
                    tries[work.number] = tries.get(work.number, 0) + 1
                    if tries[work.number] > RETRIES:
                        raise
                    again.append(work)
                    continue
                yield painted

    def _threaded(self, work: FrameWork) -> FrameWork:
        """`work` with this pool's threads, unless its settings give their own."""
        s = work.settings
        return dataclasses.replace(work, settings=s.replace(threads=s.threads or self.threads))
