"""The painting loop of one run: `stylize`'s iterates, each step's cost noted, the saved
ones printed and kept in the run folder, the progress shown, and an interruption or an
overflow answered with the latest image kept; then the result's files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from nst.checkpoint import Checkpoint
from nst.errors import InputError
from nst.files import WriteError
from nst.images import Inputs
from nst.levels import output_size, schedule
from nst.progress import HEARTBEAT, StatusLine, cost_lines, cost_text
from nst.project import program_command
from nst.run.folder import (
    CHECKPOINT,
    FINAL_IMAGE,
    MANIFEST,
    RunFolder,
)
from nst.settings import Settings
from nst.stopping import StopRequests, Terminated
from nst.tf_session import Compute, device_line
from nst.tile_grid import tiling_of
from nst.transfer import NonFiniteCostError, Step, stylize
from nst.watching import Iterate, RunEnd, RunStart, StatusWatcher, Watcher, Watchers


def paint(
    folder: RunFolder,
    settings: Settings,
    resume: Checkpoint | None,
    kernels: dict,
    inputs: Inputs,
    stop: StopRequests,
    watchers: Sequence[Watcher] = (),
) -> Path:
    """Paint into `folder` (made, or reopened, and locked) from `resume` (None: the start),
    and leave the result's files; the final image. A file that cannot be written (a full
    disk, a removed folder) ends it with a WriteError that says how to continue, when it can be.
    `watchers` see the run start, each iterate and the end (nst/watching.py); a stop asked
    for with stop.finish_early() (the live view's Stop) ends it after the current iteration,
    with its result."""
    folder.content_alpha = inputs.content_alpha
    size = output_size(settings, inputs.content.shape)
    watch = Watchers(watchers)
    end = RunEnd("failed")
    try:
        # closed here, not when the interpreter ends (when TensorFlow's session can no longer
        # close), whatever ends the loop
        with contextlib.closing(stylize(settings, resume, kernels, inputs)) as steps:
            last, ending = _loop(folder, settings, size, resume, steps, stop, inputs, watch)
        pixels = _unrounded(folder, last)
        stop.in_loop = True  # a signal now is only noted: the run ends with its result anyway
        try:
            folder.write_result(inputs, last.i, last.image, last.costs, last.checkpoint, pixels)
        finally:
            stop.in_loop = False
        end = RunEnd(ending.status, ending.message, folder.path / FINAL_IMAGE)
    except WriteError as e:
        with contextlib.suppress(WriteError):  # the manifest may not be writable either
            folder.finish("failed", str(e))
        end = RunEnd("failed", str(e))
        raise WriteError(f"{e}{_resume_hint(folder, settings)}") from None
    except (KeyboardInterrupt, Terminated, BrokenPipeError) as e:
        end = RunEnd("interrupted", str(e))
        raise
    except Exception as e:
        end = RunEnd("failed", str(e))
        raise
    finally:
        watch.end(end)
    return folder.path / FINAL_IMAGE


def _loop(
    folder: RunFolder,
    settings: Settings,
    size: tuple[int, int],
    resume: Checkpoint | None,
    steps: Iterator[Step],
    stop: StopRequests,
    inputs: Inputs,
    watch: Watchers,
) -> tuple[Step, RunEnd]:
    """The optimization loop over `steps` (of an image of `size`, from `resume`): each
    step's J noted, the saved steps printed and kept, each iterate shown to the status line
    and `watch`; the last step and how the loop ended ("finished", or "stopped" by
    stop.finish_early()). An interruption or an overflow keeps the latest image and says so."""
    first = resume.i + 1 if resume else 0
    _announce(settings, folder.path, size, first)
    levels = schedule(settings, size)
    # Each iteration's work is its size level's pixel count: the time left weighs the cheap
    # coarse iterations and the dear fine ones as they are.
    work = [w * h for (w, h), steps in levels for _ in steps]
    level_of = [k for k, (_, steps) in enumerate(levels) for _ in steps]
    status = StatusLine(settings.iterations, first, weights=work, heartbeat=HEARTBEAT)
    watch = Watchers([StatusWatcher(status), *watch.watchers])
    tiling = tiling_of(settings.tile, size)
    watch.start(
        RunStart(
            total=settings.iterations,
            first=first,
            size=size,
            levels=tuple((wh, len(steps)) for wh, steps in levels),
            work=tuple(work),
            tile=tiling.tile if tiling else None,
            content=inputs.content,
            styles=tuple(inputs.styles),
            folder=folder.path,
        )
    )
    last: Step | None = None
    try:
        for step in steps:
            stop.in_loop = True
            folder.iteration_done(step.i)
            _note_totals(folder, step)
            last = step
            saved = None
            if step.i % settings.save_every == 0:  # the costs before the status line
                with status.aside():
                    saved = _report(folder, step)
            cost = folder.totals[-1] if folder.totals else None
            level = level_of[min(step.i, len(level_of) - 1)]
            iterate = Iterate(step.i, step.i + 1, settings.iterations, cost, step.costs,
                              step.image, level, saved)  # fmt: skip
            watch.step(iterate)
            stop.check()
            if stop.early:
                break
        stop.in_loop = False
    except (KeyboardInterrupt, Terminated, BrokenPipeError) as e:  # the last: `| head`
        status.clear()
        raise _interrupted(folder, last, e) from None
    except NonFiniteCostError as e:
        status.clear()
        kept = _keep(folder, e.last_good)
        folder.finish("failed", str(e))
        if kept is not None:
            raise InputError(f"{e}; the last image with finite costs is {kept}") from None
        raise
    except WriteError:
        stop.in_loop = False  # a signal from now on stops the run at once
        status.clear()
        raise
    finally:
        status.close()  # and its heartbeat
    ending = RunEnd("finished")
    if last.i + 1 < settings.iterations and stop.early:
        message = f"Stopped from the live view after iteration {last.i} of {settings.iterations}"
        print(message, flush=True)
        ending = RunEnd("stopped", message)
    elif last.i + 1 < settings.iterations:  # --tolerance, or L-BFGS-B could not go on
        print(f"Ended after iteration {last.i} of {settings.iterations}: the total cost settled")
    if last.costs is not None and last.i % settings.save_every:  # not printed yet
        print(f"Final costs (iteration {last.i}): {_costs_text(last.costs)}", flush=True)
    return last, ending


def _announce(settings: Settings, out: Path, size: tuple[int, int], first: int) -> None:
    """The lines that start the painting: the images, the size, the steps (`first`: the
    first iteration to do, after a resumed run's earlier ones) and the folder; then where
    and how TensorFlow computes."""
    width, height = size
    coarse = ", ".join(
        f"{len(steps)} at {w}x{h}" for (w, h), steps in schedule(settings, size)[:-1]
    )
    tiling = tiling_of(settings.tile, size)
    tiles = f" in tiles of {tiling.tile} px (overlap {tiling.halo} px)" if tiling else ""
    print(
        f"Painting {settings.content} in the style of "
        f"{' and '.join(map(str, settings.styles))}: {width}x{height} pixels{tiles}, "
        f"{settings.iterations} iteration{'s' * (settings.iterations != 1)}"
        f"{f' ({coarse} first)' if coarse else ''}"
        f"{f', continuing from iteration {first}' if first else ''}, images to {out}",
        flush=True,
    )
    print(device_line(Compute(settings.threads, settings.xla, settings.precision)), flush=True)


def _note_totals(folder: RunFolder, step: Step) -> None:
    """Note the J each step knows: that of the image it started from (iteration i - 1's),
    and its own when evaluated. The status line shows the latest, so at a saved
    iteration it shows the J printed there."""
    if step.i > 0:
        folder.note_total(step.i - 1, step.J_before)
    if step.costs is not None:
        folder.note_total(step.i, step.costs["total"])


def _costs_text(costs: dict[str, float]) -> str:
    """'total cost = J, content cost = J_content, style cost = J_style'."""
    return ", ".join(f"{name} cost = {cost_text(value)}" for name, value in costs.items())


def _interrupted(folder: RunFolder, last: Step | None, e: BaseException) -> BaseException:
    """Ctrl-C, SIGTERM or a closed standard output: the latest iterate kept, the manifest
    closed, and the message (an exception of e's type) that says where the image is and how
    to continue."""
    kept = _keep(folder, last)
    folder.finish("interrupted")
    if kept is None:
        return type(e)("interrupted before the first iteration; nothing was saved")
    return type(e)(
        f"interrupted after iteration {last.i}; the image so far is {kept}; "
        f"continue with: {program_command('--resume', folder.path)}"
    )


def _report(folder: RunFolder, step: Step) -> Path:
    """At a save point: the assignment's lines, then <i>.png, the checkpoint and the manifest;
    the image's path."""
    if step.costs is not None:
        c = step.costs
        lines = cost_lines(step.i, c["total"], c["content"], c["style"])
        if "total variation" in c:
            lines += f"\ntotal variation cost = {cost_text(c['total variation'])}"
        print(lines, flush=True)
    kept = _keep(folder, step)
    folder.write_manifest()
    return kept


def _keep(folder: RunFolder, step: Step | None) -> Path | None:
    """Save `step` with its checkpoint (the manifest is written by the caller); its image's
    path, or None when there is no step."""
    if step is None:
        return None
    pixels = _unrounded(folder, step)
    return folder.save_iterate(step.i, step.image, step.costs, step.checkpoint, pixels)


def _unrounded(folder: RunFolder, step: Step) -> np.ndarray | None:
    """step.pixels when the folder's pictures have 16 bits, else None (made only then: a
    float64 copy of the picture)."""
    return step.pixels if folder.depth == 16 else None


def _resume_hint(folder: RunFolder, settings: Settings) -> str:
    """How to go on after a failed write: --resume, when the manifest and a checkpoint
    with iterations after it are still in the folder; else nothing."""
    last = folder.manifest["last_checkpoint"]  # set only once checkpoint.npz is written
    kept = all((folder.path / name).is_file() for name in (MANIFEST, CHECKPOINT))
    if last is None or not kept or last["iteration"] + 1 >= settings.iterations:
        return ""
    return (
        f"; the checkpoint of iteration {last['iteration']} is kept: continue with: "
        f"{program_command('--resume', folder.path)}"
    )
