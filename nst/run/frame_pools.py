"""Where the frames of a pass are painted: one after another in this process
(LocalFrames), or several at once as Ray tasks (RayFrames), on Ray started on this machine
or on the cluster at --ray-address (nst.ray_cluster). Either yields each painted frame as
it is finished, which with Ray need not be in order. On Ray, a frame whose worker process
dies (killed, out of memory, its node lost) is painted again, up to --retries times; then
the other frames are painted and WorkerDiedError is raised."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType

from nst.progress import plural
from nst.ray_cluster import Cluster
from nst.run.frame_painting import FrameWork, PaintedFrame, paint_frame, paint_frame_task


class WorkerDiedError(Exception):
    """Frame `number`'s Ray worker died `deaths` times, more than the retries allow; `cause`
    names Ray's error of the last death."""

    def __init__(self, number: int, deaths: int, cause: str):
        super().__init__(f"frame {number}: its Ray worker died {plural(deaths, 'time')} ({cause})")
        self.number, self.deaths, self.cause = number, deaths, cause


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
        self,
        works: Iterable[FrameWork],
        on_step: Callable | None = None,
        on_death: Callable | None = None,
    ) -> Iterator[PaintedFrame]:
        """Each of `works` painted, in order (`on_death` is not called: no worker paints
        them)."""
        for work in works:
            step = None if on_step is None else (lambda s, work=work: on_step(s, work))
            yield paint_frame(work, self.kernels, self.kept, step)


class RayFrames:
    """Frames painted as Ray tasks, `at_once` at a time, each with `threads` threads for
    its TensorFlow ops (unless its settings give their own), the kernels put into Ray's
    object store once. A worker process paints frame after frame, keeping its style
    targets. A frame whose worker died is painted again, up to `retries` times."""

    def __init__(
        self, ray: ModuleType, cluster: Cluster, workers: int | None, kernels: dict, retries: int
    ):
        self.ray, self.retries = ray, retries
        self.at_once, self.threads = cluster.shares(workers)
        self.where = (
            f"{cluster.where}, {self.at_once} at a time with {self.threads} "
            f"thread{'' if self.threads == 1 else 's'} each"
        )
        self.kernels = ray.put(kernels)
        self.task = ray.remote(max_retries=0)(paint_frame_task)

    def paint(
        self,
        works: Iterable[FrameWork],
        on_step: Callable | None = None,
        on_death: Callable[[int, int, bool], None] | None = None,
    ) -> Iterator[PaintedFrame]:
        """Each of `works` painted, as they finish; `on_step` is not called (the
        iterations happen in the workers). A work is made only when a worker is free for
        it, so that no more frames' starts are held than are painted at once. When a
        frame's worker dies, `on_death(number, deaths, again)` is called, and the frame is
        painted again (`again` True) up to `retries` times; after that the others are
        painted, and then WorkerDiedError is raised for the first frame past its retries."""
        works = iter(works)
        again: list[FrameWork] = []  # those whose worker died, to paint once more
        running: dict = {}
        deaths: dict[int, int] = {}
        lost: list[WorkerDiedError] = []  # the frames past their retries
        while True:
            while len(running) < self.at_once:
                work = again.pop() if again else next(works, None)
                if work is None:
                    break
                work = self._threaded(work)
                ref = self.task.options(num_cpus=self.threads).remote(work, self.kernels)
                running[ref] = work
            if not running:
                if lost:
                    raise lost[0]
                return
            ready, _ = self.ray.wait(list(running), num_returns=1, timeout=WAIT_SECONDS)
            for ref in ready:
                work = running.pop(ref)
                try:
                    painted = self.ray.get(ref)
                except self.ray.exceptions.RayTaskError as e:
                    raise e.as_instanceof_cause() from None
                except self.ray.exceptions.RayError as e:  # its worker died
                    deaths[work.number] = died = deaths.get(work.number, 0) + 1
                    if died <= self.retries:
                        again.append(work)
                    else:
                        lost.append(WorkerDiedError(work.number, died, type(e).__name__))
                    if on_death is not None:
                        on_death(work.number, died, died <= self.retries)
                    continue
                yield painted

    def _threaded(self, work: FrameWork) -> FrameWork:
        """`work` with this pool's threads, unless its settings give their own."""
        s = work.settings
        return dataclasses.replace(work, settings=s.replace(threads=s.threads or self.threads))
