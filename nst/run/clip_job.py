"""A clip job from its checks to its result: the clip opened (every frame decoded once, so
that a damaged one is found before any is painted), the frames to paint, the style images,
the memory and the folder checked, all before TensorFlow loads; then each frame painted
with stylize, in order, and at the end stylized.mp4, side_by_side.mp4 and costs.png.

The first frame is painted as an image is (the settings' initial image, coarse levels,
--iterations). Each later frame starts from the previous result carried along the optical
flow and is held to the earlier results by the temporal cost (nst.video.frame_start), at
the output size, for --frame-iterations; with --temporal-weight 0 every frame is painted
as the first is, on its own. With --passes 2 or more the clip is painted in passes instead
(nst.run.clip_passes), on Ray with --workers or --ray-address.

Exit status as an image job's: 0 done, 2 bad input, 130 Ctrl-C, 143 SIGTERM; and, as a
batch with a failed job, 1 when a frame's Ray worker died more than --retries times (the
other frames of its group are painted first). A stopped clip keeps its finished frames,
and --resume continues from the first unfinished one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import sys
from collections import deque
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from nst.errors import InputError
from nst.images import read_rgb, resize
from nst.job import ClipJob
from nst.levels import output_size
from nst.networks import NETWORKS
from nst.pixels import PIXEL_SPACES
from nst.progress import HEARTBEAT, StatusLine, plural
from nst.project import program_command
from nst.ray_cluster import RayAddress, check_ray_address, ray_cluster
from nst.run.clip_folder import (
    CLIP_FILES,
    FRAMES,
    PLOT,
    SIDE_BY_SIDE_CLIP,
    STYLIZED,
    ClipFolder,
)
from nst.run.clip_passes import paint_passes
from nst.run.clip_plan import ClipPlan
from nst.run.folder import check_output_dir, lock_folder, prepare_output_dir
from nst.run.frame_painting import FrameWork
from nst.run.frame_pools import LocalFrames, RayFrames, WorkerDiedError
from nst.run.image_job import fit_to_memory
from nst.settings import Settings
from nst.stopping import StopRequests, Terminated, stoppable
from nst.video.clip_files import DEFAULT_FPS, Clip, open_clip, side_by_side_frames, write_clip
from nst.video.frame_start import LONG_TERM, frame_start
from nst.weights.loading import load_weights


class ClipFailedError(Exception):
    """A clip that cannot go on (a frame's Ray worker died too often); the message says
    where, what was kept and how to continue."""


def run_clip_job(job: ClipJob) -> int:
    """Carry out a clip job, new or resumed; the exit status (0 when done, 130 or 143 when
    stopped by Ctrl-C or SIGTERM, 1 when a frame's Ray worker died more than --retries
    times, after one line on stderr). Bad input and write failures are raised."""
    try:
        return _run(job)
    except ClipFailedError as e:
        print(f"neural_art.py: {e}", file=sys.stderr)
        return 1


def _run(job: ClipJob) -> int:
    """run_clip_job's work: the exit status, or ClipFailedError."""
    if job.resume is not None:
        return stoppable(lambda stop: _done(_resume(job, stop)))
    s = job.settings
    clip = open_clip(s.content, job.fps or DEFAULT_FPS)
    if job.fps is not None and clip.fps != job.fps:
        raise InputError(
            f"--fps {job.fps}: {clip.path} is a video file, whose frames come at their own "
            f"rate ({float(clip.fps):.4g} per second); --fps gives the rate of a folder of frames"
        )
    span = _span(job.frames, clip)
    ray_address = _ray_address(job, job.passes)
    if job.passes > 1 and span[0] == span[1]:
        raise InputError(
            f"--passes {job.passes}: one frame of {clip.path} is painted, and passes hold "
            f"frames to their neighbours; give --passes 1 or more --frames"
        )
    plan = _planned(s, clip, span, job, ray_address)
    return stoppable(lambda stop: _done(_start(job, plan, ray_address, stop)))


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


def _planned(
    settings: Settings, clip: Clip, span: tuple[int, int], job: ClipJob, ray: RayAddress | None
) -> ClipPlan:
    """The plan of a clip's run, its style images read and its memory checked: for as many
    frames at once as --workers paints on Ray started on this machine (`ray` with no
    address)."""
    styles = [read_rgb(path) for path in settings.styles]
    size = output_size(settings, (clip.height, clip.width, 3))
    here = ray is not None and ray.address is None
    settings = fit_to_memory(settings, size, job.workers if here else 1)
    return ClipPlan(settings, clip, span, styles, size)


def _start(
    job: ClipJob, plan: ClipPlan, ray_address: RayAddress | None, stop: StopRequests
) -> Path:
    """A new clip's run: its folder checked, the weights read, the folder made and locked;
    its frames painted on Ray at `ray_address` when given, else in this process."""
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
        # Ray before the folder is written: a cluster that refuses this machine leaves none
        pool = lock.enter_context(_frame_pool(job, ray_address, weights.kernels))
        prepare_output_dir(s, list(CLIP_FILES))
        if not locked:  # prepare_output_dir made the folder
            lock.enter_context(lock_folder(out, "--output-dir"))
        folder = ClipFolder.create(out, s, job, plan.span, plan.clip.fps)
        folder.set_weights(weights.path, weights.sha256)
        plan = dataclasses.replace(plan, settings=s)
        return _paint_clip(folder, plan, pool, stop)


def _resume(job: ClipJob, stop: StopRequests) -> Path:
    """A stopped clip's run, continued from its first unfinished frame."""
    with contextlib.ExitStack() as lock:
        if job.resume.is_dir():
            lock.enter_context(lock_folder(job.resume, "--resume"))
        folder = ClipFolder.open(job.resume)
        if folder.manifest["status"] == "finished":
            raise InputError(
                f"--resume {job.resume}: the clip is finished, its {folder.done} frames and "
                f"{STYLIZED} written; nothing is left to paint"
            )
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
        passes = folder.manifest["clip"].get("passes", 1)
        ray_address = _ray_address(job, passes)
        plan = _planned(s, clip, (first, last), job, ray_address)
        weights = load_weights(s.weights, job.weights_url, NETWORKS[s.network])
        folder.set_weights(weights.path, weights.sha256)
        pool = lock.enter_context(_frame_pool(job, ray_address, weights.kernels))
        folder.manifest["status"] = "running"
        folder.manifest.setdefault("resumed", []).append(folder.done)
        plan = dataclasses.replace(plan, settings=plan.settings.replace(weights=weights.path))
        return _paint_clip(folder, plan, pool, stop)


def _ray_address(job: ClipJob, passes: int) -> RayAddress | None:
    """Where the frames of a clip in `passes` are painted on Ray, checked before the weights
    are read (nst.ray_cluster.check_ray_address), or None: in this process. --workers and
    --ray-address are refused for a clip painted in one pass, whose frames are painted in
    order."""
    if not job.uses_ray:
        return None
    if passes == 1:
        given = "--workers" if job.workers is not None else "--ray-address"
        fix = (
            f"leave out {given}" if job.resume else f"give --passes 2 or more, or leave out {given}"
        )
        raise InputError(
            f"{given} paints a clip's passes on Ray, and this clip is painted in one pass, "
            f"frame after frame: {fix}"
        )
    return check_ray_address(job.ray_address)


@contextlib.contextmanager
def _frame_pool(
    job: ClipJob, ray_address: RayAddress | None, kernels: dict
) -> Iterator[LocalFrames | RayFrames]:
    """Where the frames are painted: --workers at once on Ray at `ray_address` (shut down
    after the block), a frame whose worker died painted again up to --retries times; or,
    with None, in this process."""
    if ray_address is not None:
        with ray_cluster(ray_address) as (ray, cluster):
            yield RayFrames(ray, cluster, job.workers, kernels, job.retries)
    else:
        yield LocalFrames(kernels)


def _paint_clip(
    folder: ClipFolder, plan: ClipPlan, pool: LocalFrames | RayFrames, stop: StopRequests
) -> Path:
    """Paint the frames the folder does not hold yet with `pool`, in order or in passes,
    then write the clip's files; the folder's path."""
    s, (first, last) = plan.settings, plan.span
    options = folder.manifest["clip"]
    count, later, passes = last - first + 1, options["frame_iterations"], options.get("passes", 1)
    width, height = plan.size
    if passes > 1:
        how = (
            f"in {passes} passes on {pool.where}: {s.iterations} iterations for each frame in "
            f"pass 1, {later} in each later pass"
        )
    else:
        each = _in_order_iterations(options, s, 2)[1]
        how = f"{s.iterations} iterations for the first frame, {each} for each later one"
    print(
        f"Painting {count} frames of {plan.clip.path} (frames {first} to {last}) in the style "
        f"of {' and '.join(map(str, s.styles))}: {width}x{height} pixels, {how}, frames to "
        f"{folder.path / FRAMES}",
        flush=True,
    )
    status = StatusLine(*_iterations(folder, s, count), heartbeat=HEARTBEAT)
    try:
        if passes > 1:
            paint_passes(folder, plan, pool, status, stop)
        else:
            _paint_in_order(folder, plan, pool, status, stop)
    except (KeyboardInterrupt, Terminated, BrokenPipeError) as e:
        status.clear()
        folder.finish("interrupted")
        raise type(e)(
            f"interrupted in {_stopped_in(folder, count, passes)}; continue with: "
            f"{program_command('--resume', folder.path)}"
        ) from None
    except WorkerDiedError as e:
        status.clear()
        number = folder.passes_done + 1
        message = (
            f"frame {e.number} of {count}, in pass {number} of {passes}: its Ray worker died "
            f"{plural(e.deaths, 'time')} (the last: {e.cause}; --retries {pool.retries}); "
            f"pass {number} has {_kept_in_pass(folder, count, number)}; continue with: "
            f"{program_command('--resume', folder.path)}"
        )
        folder.finish("failed", message=message)
        raise ClipFailedError(message) from None
    finally:
        status.close()
    _write_clip_files(folder, plan)
    return folder.path


def _iterations(folder: ClipFolder, settings: Settings, count: int) -> tuple[int, int]:
    """The iterations of the clip's `count` frames, and those of the frames it holds."""
    options = folder.manifest["clip"]
    first, later, passes = (
        settings.iterations,
        options["frame_iterations"],
        options.get("passes", 1),
    )
    if passes == 1:
        work = _in_order_iterations(options, settings, count)
        return sum(work), sum(work[: folder.done])
    done = sum(
        len(folder.pass_frames(number)) * (first if number == 1 else later)
        for number in range(1, passes + 1)
    )
    return count * (first + (passes - 1) * later), done


def _in_order_iterations(options: dict, settings: Settings, count: int) -> list[int]:
    """Each frame's iterations when the clip's `count` frames are painted in order:
    --iterations for the first, and --frame-iterations for each later one (--iterations
    with --temporal-weight 0, each frame then painted as the first)."""
    each = settings.iterations if options["temporal_weight"] == 0 else options["frame_iterations"]
    return [settings.iterations] + [each] * (count - 1)


def _stopped_in(folder: ClipFolder, count: int, passes: int) -> str:
    """Where a clip stopped, and what it kept."""
    if passes == 1:
        return (
            f"frame {folder.done + 1} of {count}; the {folder.done} frames finished are in "
            f"{folder.path / FRAMES}"
        )
    number = folder.passes_done + 1
    return f"pass {number} of {passes}, with {_kept_in_pass(folder, count, number)}"


def _kept_in_pass(folder: ClipFolder, count: int, number: int) -> str:
    """'3 of its 4 frames finished': the frames of pass `number` the folder keeps."""
    return f"{len(folder.pass_frames(number))} of its {count} frames finished"


def _paint_in_order(
    folder: ClipFolder, plan: ClipPlan, pool: LocalFrames, status: StatusLine, stop: StopRequests
) -> None:
    """Paint the frames the folder lacks one after another, each later one from the
    previous result (nst.video.frame_start)."""
    s, (first, last) = plan.settings, plan.span
    options = folder.manifest["clip"]
    count, later, weight = last - first + 1, options["frame_iterations"], options["temporal_weight"]
    work = _in_order_iterations(options, s, count)
    space, (width, height) = PIXEL_SPACES[s.pixels], plan.size
    history: deque = deque(maxlen=max(LONG_TERM))  # (content, result) of frames t-1, t-2, ...
    for k, frame in enumerate(plan.clip.frames(first - 1, last)):
        content = resize(frame, width, height)
        if k < folder.done:
            history.appendleft((content, folder.result(k + 1)))
            continue
        where, settings, start = f"frame {k + 1}/{count}", s, None
        if k > 0 and weight > 0:
            earlier = {j: history[j - 1] for j in LONG_TERM if j <= len(history)}
            start = frame_start(content, earlier, space.to_network, weight, options["flow"])
            settings = s.replace(schedule=None, coarse_levels=0, iterations=later)
        done_before = sum(work[:k])

        def on_step(step, _work, done_before=done_before, where=where) -> None:
            stop.in_loop = True
            status.update(done_before + step.i + 1, step.J_before, where)
            stop.check()

        frame_work = FrameWork(k + 1, settings, frame, plan.styles, start)
        try:
            painted = next(pool.paint([frame_work], on_step))
        finally:
            stop.in_loop = False
        saved = folder.add_frame(painted)
        with status.aside():
            print(f"Frame {k + 1}/{count}: {painted.costs_line()}, {saved.name}", flush=True)
        history.appendleft((content, painted.image))


def _write_clip_files(folder: ClipFolder, plan: ClipPlan) -> None:
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
