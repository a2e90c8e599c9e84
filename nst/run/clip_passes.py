"""A clip painted in passes (--passes N, N >= 2; nst.video.passes): pass 1 paints every frame
on its own with --iterations, and each later pass repaints every frame for
--frame-iterations from its result of the pass before blended with its neighbour's, held
to both neighbours by the temporal cost: first the odd frames, then the even ones from the
odd ones just painted. The frames of such a group do not depend on each other, so a pool
paints them one after another here or several at once on Ray (nst.run.frame_pools). Each
finished frame is kept in the folder at once (passes/<pass>/), so that a stopped clip
continues with the frames it lacks. A frame whose Ray worker died is painted again, up to
--retries times; after that the group's other frames are finished and WorkerDiedError raised."""

from __future__ import annotations

import numpy as np

from nst.images import resize
from nst.pixels import PIXEL_SPACES
from nst.progress import StatusLine, plural
from nst.run.clip_folder import ClipFolder
from nst.run.clip_plan import ClipPlan
from nst.run.frame_painting import FrameWork
from nst.run.frame_pools import LocalFrames, RayFrames
from nst.stopping import StopRequests
from nst.video.passes import pass_direction, pass_start


def paint_passes(
    folder: ClipFolder,
    plan: ClipPlan,
    pool: LocalFrames | RayFrames,
    status: StatusLine,
    stop: StopRequests,
) -> None:
    """Paint the frames of `plan` that the folder's passes lack, with
    `pool` (LocalFrames or RayFrames), showing them on `status`; the last pass's frames
    become the folder's frames/."""
    first, last = plan.span
    passes, count = folder.manifest["clip"]["passes"], last - first + 1
    width, height = plan.size
    contents = [resize(frame, width, height) for frame in plan.clip.frames(first - 1, last)]
    done = status.n  # the iterations of the frames the folder holds

    def on_step(step, work: FrameWork) -> None:
        stop.in_loop = True
        status.update(done + step.i + 1, step.J_before, _where(number, passes, work.number, count))
        stop.check()

    def on_death(n: int, deaths: int, again: bool) -> None:
        where = _where(number, passes, n, count)
        then = "it is painted again" if again else "the clip stops once the others are painted"
        with status.aside():
            print(
                f"{where[0].upper()}{where[1:]}: its Ray worker died ({plural(deaths, 'time')}); "
                f"{then}",
                flush=True,
            )

    for number in range(folder.passes_done + 1, passes + 1):
        for group in pass_groups(number, count):
            finished = folder.pass_frames(number)
            works = (_work(folder, plan, contents, number, n) for n in group if n not in finished)
            try:
                for painted in pool.paint(works, on_step, on_death):
                    stop.in_loop = False
                    folder.add_pass_frame(number, painted)
                    done += painted.iterations
                    where = _where(number, passes, painted.number, count)
                    status.update(done, painted.total, where)
                    with status.aside():
                        print(f"{where[0].upper()}{where[1:]}: {painted.costs_line()}", flush=True)
                    stop.check()
            finally:
                stop.in_loop = False
    folder.keep_last_pass()


def pass_groups(number: int, count: int) -> list[list[int]]:
    """The frames (from 1) of pass `number` of a clip of `count` frames, in groups whose
    frames can be painted at once: all of them in pass 1; in a later pass the odd frames,
    then the even ones (nst.video.passes)."""
    frames = range(1, count + 1)
    if number == 1:
        return [list(frames)]
    return [[n for n in frames if n % 2 == 1], [n for n in frames if n % 2 == 0]]


def _work(
    folder: ClipFolder, plan: ClipPlan, contents: list[np.ndarray], number: int, n: int
) -> FrameWork:
    """Frame n's work in pass `number`: on its own in pass 1, else from its result of the
    pass before blended with its neighbour's, those of the pass before for an odd frame and
    of this pass for an even one (nst.video.passes)."""
    s = plan.settings
    if number == 1:
        return FrameWork(n, s, contents[n - 1], plan.styles, None)
    options = folder.manifest["clip"]
    neighbours_pass = number - 1 if n % 2 == 1 else number  # the odd frames are painted first
    neighbours = {
        offset: (contents[n - 1 + offset], folder.pass_result(neighbours_pass, n + offset))
        for offset in (-1, 1)
        if 1 <= n + offset <= len(contents)
    }
    start = pass_start(
        contents[n - 1],
        folder.pass_result(number - 1, n),
        neighbours,
        pass_direction(number),
        PIXEL_SPACES[s.pixels].to_network,
        options["temporal_weight"],
        options["flow"],
    )
    settings = s.replace(schedule=None, coarse_levels=0, iterations=options["frame_iterations"])
    return FrameWork(n, settings, contents[n - 1], plan.styles, start)


def _where(number: int, passes: int, n: int, count: int) -> str:
    """'pass 2/3, frame 4/10'."""
    return f"pass {number}/{passes}, frame {n}/{count}"
