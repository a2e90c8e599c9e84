"""A clip job from its checks to its result: the clip opened (every frame decoded once, so
that a damaged one is found before any is painted), the frames to paint, the style images,
the memory and the folder checked, all before TensorFlow loads; then each frame painted
with stylize, in order, and at the end stylized.mp4, side_by_side.mp4 and costs.png.

The first frame is painted as an image is (the settings' initial image, coarse levels,
--iterations). Each later frame starts from the previous result carried along the optical
flow and is held to the earlier results by the temporal cost (nst.video.frame_start), at
the output size, for --frame-iterations; with --temporal-weight 0 every frame is painted
as the first is, on its own.

Exit status as an image job's: 0 done, 2 bad input, 130 Ctrl-C, 143 SIGTERM. A stopped
clip keeps its finished frames, and --resume continues from the first unfinished one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from nst.checkpoint import Checkpoint
from nst.errors import InputError
from nst.images import Inputs, read_rgb, resize
from nst.job import ClipJob
from nst.levels import output_size
from nst.networks import NETWORKS
from nst.pixels import PIXEL_SPACES
from nst.progress import HEARTBEAT, StatusLine, cost_text
from nst.project import program_command
from nst.run.clip_folder import (
    CLIP_FILES,
    FRAMES,
    PLOT,
    SIDE_BY_SIDE_CLIP,
    STYLIZED,
    ClipFolder,
)
from nst.run.folder import check_output_dir, lock_folder, prepare_output_dir
from nst.run.image_job import fit_to_memory
from nst.settings import Settings
from nst.stopping import StopRequests, Terminated, stoppable
from nst.video.clip_files import DEFAULT_FPS, Clip, open_clip, side_by_side_frames, write_clip
from nst.video.frame_start import LONG_TERM, frame_start
from nst.weights.loading import load_weights


@dataclass(frozen=True)
class _Plan:
    """What a clip's run paints: its settings, the clip, the frames (first and last, from
    1), the style images and the output size (width, height)."""

    settings: Settings
    clip: Clip
    span: tuple[int, int]
    styles: list[np.ndarray]
    size: tuple[int, int]


def run_clip_job(job: ClipJob) -> int:
    """Carry out a clip job, new or resumed; the exit status (0 when done, 130 or 143 when
    stopped by Ctrl-C or SIGTERM). Bad input and write failures are raised."""
    if job.resume is not None:
        return stoppable(lambda stop: _done(_resume(job, stop)))
    s = job.settings
    clip = open_clip(s.content, job.fps or DEFAULT_FPS)
    span = _span(job.frames, clip)
    plan = _planned(s, clip, span)
    return stoppable(lambda stop: _done(_start(job, plan, stop)))


def _done(result: Path) -> int:
    print(f"Done: {result}")
    return 0


def _span(frames: tuple[int | None, int | None], clip: Clip) -> tuple[int, int]:
    """--frames A:B as the first and last frame (from 1) of `clip`; InputError when the
    clip does not have them."""
    first, last = frames[0] or 1, frames[1] or clip.frame_count
    if last > clip.frame_count or first > clip.frame_count:
        given = f"{frames[0] or ''}:{frames[1] or ''}"
        raise InputError(
            f"--frames {given}: clip {clip.path} has {clip.frame_count} frames (1 to "
            f"{clip.frame_count})"
        )
    return first, last


def _planned(settings: Settings, clip: Clip, span: tuple[int, int]) -> _Plan:
    """The plan of a clip's run, its style images read and its memory checked."""
    styles = [read_rgb(path) for path in settings.styles]
    size = output_size(settings, (clip.height, clip.width, 3))
    settings = fit_to_memory(settings, size)
    return _Plan(settings, clip, span, styles, size)


def _start(job: ClipJob, plan: _Plan, stop: StopRequests) -> Path:
    """A new clip's run: its folder checked, the weights read, the folder made and locked."""
    s = plan.settings
    out = s.output_dir
    with contextlib.ExitStack() as lock:
        locked = out.is_dir()  # a second run into it is refused at once
        if locked:
            lock.enter_context(lock_folder(out, "--output-dir"))
        check_output_dir(s, list(CLIP_FILES))  # before the weights
        weights = load_weights(s.weights, job.weights_url, NETWORKS[s.network])
        seed = s.seed if s.seed is not None else secrets.randbelow(2**32)
        s = s.replace(weights=weights.path, seed=seed)
        prepare_output_dir(s, list(CLIP_FILES))
        if not locked:  # prepare_output_dir made the folder
            lock.enter_context(lock_folder(out, "--output-dir"))
        folder = ClipFolder.create(out, s, job, plan.span, plan.clip.fps)
        folder.set_weights(weights.path, weights.sha256)
        plan = dataclasses.replace(plan, settings=s)
        return _paint_clip(folder, plan, weights.kernels, stop)


def _resume(job: ClipJob, stop: StopRequests) -> Path:
    """A stopped clip's run, continued from its first unfinished frame."""
    with contextlib.ExitStack() as lock:
        if job.resume.is_dir():
            lock.enter_context(lock_folder(job.resume, "--resume"))
        folder = ClipFolder.open(job.resume)
        recorded = folder.settings()
        weights_file = job.settings.weights or recorded.weights
        s = recorded.replace(output_dir=job.resume, weights=weights_file)
        clip = open_clip(s.content, Fraction(folder.manifest["clip"]["fps"]))
        first, last = folder.span
        if last > clip.frame_count:
            raise InputError(
                f"--resume {job.resume}: clip {clip.path} now has {clip.frame_count} frames, "
                f"not the {last} or more it had"
            )
        plan = _planned(s, clip, (first, last))
        weights = load_weights(s.weights, job.weights_url, NETWORKS[s.network])
        folder.set_weights(weights.path, weights.sha256)
        folder.manifest["status"] = "running"
        folder.manifest.setdefault("resumed", []).append(folder.done)
        plan = dataclasses.replace(plan, settings=plan.settings.replace(weights=weights.path))
        return _paint_clip(folder, plan, weights.kernels, stop)


def _paint_clip(folder: ClipFolder, plan: _Plan, kernels: dict, stop: StopRequests) -> Path:
    """Paint the frames the folder does not hold yet, then write the clip's files; the
    folder's path."""
    # TensorFlow loads here, once every check has answered
    from nst.level_costs import KeptStyleTargets
    from nst.transfer import stylize

    s, (first, last) = plan.settings, plan.span
    options = folder.manifest["clip"]
    count, later = last - first + 1, options["frame_iterations"]
    weight, space = options["temporal_weight"], PIXEL_SPACES[s.pixels]
    work = [s.iterations] + [s.iterations if weight == 0 else later] * (count - 1)
    width, height = plan.size
    print(
        f"Painting {count} frames of {plan.clip.path} (frames {first} to {last}) in the style "
        f"of {' and '.join(map(str, s.styles))}: {width}x{height} pixels, {s.iterations} "
        f"iterations for the first frame, {work[-1]} for each later one, frames to "
        f"{folder.path / FRAMES}",
        flush=True,
    )
    status = StatusLine(sum(work), sum(work[: folder.done]), heartbeat=HEARTBEAT)
    history: deque = deque(maxlen=max(LONG_TERM))  # (content, result) of frames t-1, t-2, ...
    style_targets = KeptStyleTargets()  # the same for every frame: computed once
    try:
        for k, frame in enumerate(plan.clip.frames(first - 1, last)):
            content = resize(frame, width, height)
            if k < folder.done:
                history.appendleft((content, folder.result(k + 1)))
                continue
            where = f"frame {k + 1}/{count}"
            settings, start, temporal, certain = s, None, None, None
            if k > 0 and weight > 0:
                earlier = {j: history[j - 1] for j in LONG_TERM if j <= len(history)}
                begun = frame_start(content, earlier, space.to_network, weight, options["flow"])
                settings = s.replace(schedule=None, coarse_levels=0, iterations=later)
                start, temporal = Checkpoint(-1, begun.image), begun.temporal
                certain = begun.certain
            inputs = Inputs(frame, plan.styles)
            clock, done_before = time.monotonic(), sum(work[:k])
            frame_steps = stylize(settings, start, kernels, inputs, temporal, style_targets)
            with contextlib.closing(frame_steps) as steps:
                last_step = None
                for last_step in steps:
                    stop.in_loop = True
                    status.update(done_before + last_step.i + 1, last_step.J_before, where)
                    stop.check()
                stop.in_loop = False
            seconds = round(time.monotonic() - clock, 3)
            saved = folder.add_frame(last_step.image, last_step.costs, last_step.i + 1, seconds,
                                    certain)  # fmt: skip
            with status.aside():
                print(f"Frame {k + 1}/{count}: {_costs_text(last_step.costs)} ({seconds} s), "
                      f"{saved.name}", flush=True)  # fmt: skip
            history.appendleft((content, last_step.image))
    except (KeyboardInterrupt, Terminated, BrokenPipeError) as e:
        status.clear()
        folder.finish("interrupted")
        raise type(e)(
            f"interrupted in frame {folder.done + 1} of {count}; the {folder.done} frames "
            f"finished are in {folder.path / FRAMES}; continue with: "
            f"{program_command('--resume', folder.path)}"
        ) from None
    finally:
        status.close()
    _write_clip_files(folder, plan)
    return folder.path


def _costs_text(costs: dict[str, float] | None) -> str:
    """'J = ..., content = ..., style = ...[, temporal = ...]'."""
    if not costs:
        return "costs not evaluated"
    return ", ".join(f"{name} {cost_text(value)}" for name, value in costs.items())


def _write_clip_files(folder: ClipFolder, plan: _Plan) -> None:
    """stylized.mp4 and side_by_side.mp4 (H.264 at the clip's rate, with its audio) and the
    per-frame cost plot; the manifest closed."""
    first, last = plan.span
    count, clip = last - first + 1, plan.clip
    audio = clip.audio_span(first - 1, last)
    results = (folder.result(n) for n in range(1, count + 1))
    write_clip(folder.path / STYLIZED, results, clip.fps, audio)
    results = (folder.result(n) for n in range(1, count + 1))
    pairs = side_by_side_frames(clip.frames(first - 1, last), results)
    write_clip(folder.path / SIDE_BY_SIDE_CLIP, pairs, clip.fps, audio)
    folder.plot_costs()
    folder.finish("finished", [FRAMES, STYLIZED, SIDE_BY_SIDE_CLIP, PLOT])
    print(f"Wrote {folder.path / STYLIZED} and {folder.path / SIDE_BY_SIDE_CLIP}", flush=True)
