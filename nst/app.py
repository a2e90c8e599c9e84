"""The command line of neural_art.py: find the weights, run `stylize`, print and save.

Exit status: 0 done, 2 bad input or a file that cannot be written (a full disk,
a removed output folder) or an output folder in use by another run (one line on
stderr), 130 interrupted by Ctrl-C, 143 stopped by SIGTERM; an interrupted run
keeps its latest image and can be continued with --resume.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import signal
import sys
import threading
import time
from pathlib import Path

from nst.cli import Command, check_output_dir, prepare_output_dir
from nst.compute import gpu_present
from nst.download import DownloadBar, download
from nst.errors import InputError
from nst.files import WriteError
from nst.images import read_rgb, resize, write_image
from nst.memory import available_bytes, check_memory
from nst.notebook_run import run_notebook
from nst.program import program_command
from nst.progress import StatusLine, cost_lines
from nst.run_folder import (
    ANIMATION,
    CHECKPOINT,
    CONTACT_SHEET,
    FINAL_IMAGE,
    MANIFEST,
    PLOT,
    SIDE_BY_SIDE,
    RunFolder,
    lock_folder,
    planned_files,
    remove_earlier_run,
    saved_nothing,
)
from nst.settings import Settings, settings_to_dict
from nst.transfer import (
    Checkpoint,
    NonFiniteCostError,
    Step,
    output_size,
    schedule,
    stylize,
)
from nst.visuals import animation, contact_sheet, plot_costs, side_by_side
from nst.weights import WEIGHTS_URL
from nst.weights_check import describe_weights
from nst.weights_guard import read_vgg19
from nst.weights_sources import WeightsNotFoundError, cached_weights_file, digests, find_weights


class Terminated(BaseException):
    """SIGTERM arrived; handled like Ctrl-C."""


class StopRequests:
    """The handler of SIGINT and SIGTERM.

    Outside the optimization loop a signal interrupts at once. Inside it, the
    first signal is only noted, and the loop stops after the current iteration
    (`check`): an exception raised at an arbitrary point could land in a
    destructor, where Python prints and drops it. A second signal interrupts at once.
    """

    def __init__(self):
        self.in_loop = False
        self.signum: int | None = None

    def __call__(self, signum: int, frame) -> None:
        if self.in_loop and self.signum is None:
            self.signum = signum
            return
        raise _interruption(signum)

    def check(self) -> None:
        """Raise the interruption a signal asked for, if any."""
        if self.signum is not None:
            raise _interruption(self.signum)


def _interruption(signum: int) -> BaseException:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def run_command(command: Command) -> int:
    """Carry out a parsed command line (nst.cli.main); returns the exit status. Bad input and
    write failures are raised, for nst.cli.main to report."""
    settings = command.settings
    if command.run_notebook is not None:  # Ctrl-C interrupts the cell, as in Jupyter
        return _run_notebook(command)
    stop = StopRequests()
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if command.show_preset:
            print(_one_setting_a_line(settings_to_dict(settings)))
            return 0
        if command.download_weights:
            fetch_weights(command.weights_url, settings.weights or cached_weights_file())
            return 0
        if command.check_weights:
            return check_weights(settings.weights)
        final = run(command, stop)
    except (KeyboardInterrupt, Terminated) as e:
        print(f"\nneural_art.py: {e or 'interrupted'}", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    finally:
        if in_main_thread:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    print(f"Done: {final}")
    return 0


def _one_setting_a_line(settings: dict) -> str:
    """The settings as a JSON object, each on one line (--show-preset)."""
    lines = (f"  {json.dumps(name)}: {json.dumps(value)}" for name, value in settings.items())
    return "{\n" + ",\n".join(lines) + "\n}"


def _run_notebook(command: Command) -> int:
    try:
        return run_notebook(command.run_notebook, command.executed, command.settings.overwrite)
    except KeyboardInterrupt:
        print("\nneural_art.py: interrupted", file=sys.stderr)
        return 130


def run(command: Command, stop: StopRequests | None = None) -> Path:
    """One run (new or resumed): optimize, save the iterates and the run folder's files.

    `stop` (installed as the signal handler) ends the loop after an iteration. The
    run holds its folder's lock until it ends, however it ends. A file that cannot
    be written (a full disk, a removed folder) ends it with a WriteError that says
    how to continue, when it can be."""
    stop = stop or StopRequests()
    with contextlib.ExitStack() as lock:
        folder, settings, resume, kernels, size = _start(command, lock)
        try:
            return _paint(folder, settings, resume, kernels, size, stop)
        except WriteError as e:
            with contextlib.suppress(WriteError):  # the manifest may not be writable either
                folder.finish("failed", str(e))
            raise WriteError(f"{e}{_resume_hint(folder, settings)}") from None


def _paint(
    folder: RunFolder,
    settings: Settings,
    resume: Checkpoint | None,
    kernels: dict,
    size: tuple[int, int],
    stop: StopRequests,
) -> Path:
    """The optimization loop with its saves, then the pictures at the end; the final image."""
    out = folder.path
    width, height = size
    coarse = ", ".join(
        f"{len(steps)} at {w}x{h}" for (w, h), steps in schedule(settings, size)[:-1]
    )
    print(
        f"Painting {settings.content} in the style of "
        f"{' and '.join(map(str, settings.styles))}: {width}x{height} pixels, "
        f"{settings.iterations} iterations{f' ({coarse} first)' if coarse else ''}, "
        f"images to {out}",
        flush=True,
    )
    status = StatusLine(settings.iterations, resume.i + 1 if resume else 0)
    timings = folder.manifest["timings"]
    started = time.monotonic()
    last: Step | None = None
    try:
        for step in stylize(settings, resume, kernels):
            if last is None:
                timings["until_first_iteration_seconds"] = round(time.monotonic() - started, 3)
                first_done = time.monotonic()
                stop.in_loop = True
            last = step
            status.update(step.i + 1, step.J_before)
            if step.i % settings.save_every == 0:
                status.clear()
                _report(folder, step)
            stop.check()
        stop.in_loop = False
    except (KeyboardInterrupt, Terminated) as e:
        status.clear()
        kept = _keep(folder, last)
        folder.finish("interrupted")
        if kept is None:
            raise type(e)("interrupted before the first iteration; nothing was saved") from None
        raise type(e)(
            f"interrupted after iteration {last.i}; the image so far is {kept}; "
            f"continue with: {program_command('--resume', out)}"
        ) from None
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
    status.clear()
    if last.costs is not None and last.i % settings.save_every:  # not printed yet
        c = last.costs
        print(f"Final costs (iteration {last.i}): total cost = {c['total']}, content cost = "
              f"{c['content']}, style cost = {c['style']}", flush=True)  # fmt: skip
    steps_after_first = last.i - (resume.i + 1 if resume else 0)
    if steps_after_first > 0:
        per_step = (time.monotonic() - first_done) / steps_after_first
        timings["seconds_per_iteration"] = round(per_step, 4)
    _finish(folder, settings, last)
    return out / FINAL_IMAGE


def _start(
    command: Command, lock: contextlib.ExitStack
) -> tuple[RunFolder, Settings, Checkpoint | None, dict, tuple[int, int]]:
    """The run folder, the settings, the checkpoint to continue from (when resuming), the
    weights and the output size, each checked before the folder is written. The folder's
    lock goes on `lock`: taken first when the folder exists, so that a second run into it
    is refused at once."""
    if command.resume is not None:
        if command.resume.is_dir():  # if not, open() says there is no run folder there
            lock.enter_context(lock_folder(command.resume, "--resume"))
        folder = RunFolder.open(command.resume)
        recorded = folder.settings()
        size = output_size(recorded, _check_images(recorded))
        _check_memory(recorded, size)
        given = command.settings
        settings = recorded.replace(
            output_dir=command.resume,
            iterations=command.resume_iterations or recorded.iterations,
            weights=given.weights or recorded.weights,
        )
        resume = folder.load_checkpoint()
        folder.catch_up(resume.i)
        if resume.i + 1 >= settings.iterations:
            raise InputError(
                f"--resume {command.resume}: the run already did its {settings.iterations} "
                "iterations; give --iterations N with a larger N to continue it"
            )
        weights = _weights(settings.weights, command.weights_url)
        kernels = read_vgg19(weights)
        settings = settings.replace(weights=weights)
        folder.set_weights(weights, digests(weights)[1])
        folder.manifest["settings"]["iterations"] = settings.iterations
        folder.manifest["status"] = "running"
        folder.manifest.setdefault("resumed", []).append(resume.i)
        return folder, settings, resume, kernels, size
    settings = command.settings
    out = settings.output_dir
    locked = out.is_dir()
    if locked:
        lock.enter_context(lock_folder(out, "--output-dir"))
    size = output_size(settings, _check_images(settings))  # bad images before the weights
    _check_memory(settings, size)
    planned = planned_files(settings)
    if saved_nothing(out):  # stopped while starting: its manifest may be replaced
        planned.remove(MANIFEST)
    check_output_dir(settings, planned)  # and the output folder too
    weights = _weights(settings.weights, command.weights_url)
    print(f"Loading VGG-19 from {weights}", flush=True)
    kernels = read_vgg19(weights)
    seed = settings.seed if settings.seed is not None else secrets.randbelow(2**32)
    settings = settings.replace(weights=weights, seed=seed)
    prepare_output_dir(settings, planned)
    if not locked:  # prepare_output_dir made the folder
        lock.enter_context(lock_folder(out, "--output-dir"))
    if settings.overwrite:
        remove_earlier_run(out)
    folder = RunFolder.create(out, settings, command.argv)
    folder.set_weights(weights, digests(weights)[1])
    return folder, settings, None, kernels, size


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


def _check_memory(settings: Settings, size: tuple[int, int]) -> None:
    """Refuse a run that would need more memory than the system has (on a CPU; a GPU's own
    memory holds most of the buffers)."""
    if not gpu_present():
        check_memory(settings, size, available_bytes())


def _check_images(settings: Settings) -> tuple[int, ...]:
    """Read each image once to report a bad one early; returns the content's shape."""
    shape = read_rgb(settings.content).shape
    for path in settings.styles:
        read_rgb(path)
    return shape


def _report(folder: RunFolder, step: Step) -> None:
    """At a save point: the assignment's lines, then <i>.png, the checkpoint and the manifest."""
    if step.costs is not None:
        c = step.costs
        lines = cost_lines(step.i, c["total"], c["content"], c["style"])
        if "total variation" in c:
            lines += f"\ntotal variation cost = {c['total variation']}"
        print(lines, flush=True)
    _keep(folder, step)
    folder.write_manifest()


def _keep(folder: RunFolder, step: Step | None) -> Path | None:
    """Save `step` as <i>.png with its checkpoint and note it in the manifest (written by the
    caller); returns the image's path, or None when there is no step."""
    if step is None:
        return None
    image = folder.path / f"{step.i}.png"
    write_image(image, step.image)
    folder.save_checkpoint(step.checkpoint)
    folder.record(step.i, step.costs, image.name)
    return image


def _finish(folder: RunFolder, settings: Settings, last: Step) -> None:
    """generated_image.jpg, the cost plot, the contact sheet, the animation, the side-by-side."""
    out = folder.path
    write_image(out / FINAL_IMAGE, last.image)
    folder.save_checkpoint(last.checkpoint)
    folder.record(last.i, last.costs, None)
    points = [c for c in folder.manifest["checkpoints"] if "costs" in c]
    plot_costs(  # every point has the same costs: the settings are the run's throughout
        out / PLOT,
        [c["iteration"] for c in points],
        {name: [c["costs"][name] for c in points] for name in last.costs},
    )
    pictures = [FINAL_IMAGE, PLOT, CONTACT_SHEET, ANIMATION, SIDE_BY_SIDE]
    iterates = [name for name in folder.manifest["files"] if name not in pictures]
    height, width = last.image.shape[:2]  # coarse levels' iterates are smaller
    result = f"result (iteration {last.i})"
    saved = [
        (f"iteration {Path(name).stem}", resize(read_rgb(out / name), width, height))
        for name in iterates
        if name != f"{last.i}.png"  # the result, shown once as such
    ]
    saved.append((result, last.image))
    contact_sheet(out / CONTACT_SHEET, saved)
    animation(out / ANIMATION, [image for _, image in saved], labels=[t for t, _ in saved])
    side_by_side(
        out / SIDE_BY_SIDE,
        read_rgb(settings.content),
        [read_rgb(path) for path in settings.styles],
        last.image,
    )
    folder.manifest["files"] = iterates + pictures
    folder.finish("finished")


def _weights(path: Path | None, url: str) -> Path:
    """The weights file to use: `path`, else the first found, else a fresh download."""
    if path is None:
        try:
            return find_weights()
        except WeightsNotFoundError:
            return fetch_weights(url, cached_weights_file())
    if not path.exists():
        raise InputError(
            f"no VGG-19 weights at {path}: download {WEIGHTS_URL} (510 MiB) "
            f"to that path, or pass --weights PATH"
        )
    return path


def fetch_weights(url: str, destination: Path) -> Path:
    """Download the weights from `url` to `destination`, showing progress on stderr."""
    print(f"Downloading VGG-19 weights (about 510 MiB) from {url} to {destination}", flush=True)
    with DownloadBar() as bar:
        published = download(url, destination, progress=bar)
    print(f"Saved {destination}: the published {published.description} (MD5 {published.md5})")
    return destination


def check_weights(path: Path | None) -> int:
    """Print what --check-weights reports; 0 when the file is a usable VGG-19, else 2."""
    lines, usable = describe_weights(path or find_weights())
    print("\n".join(lines))
    return 0 if usable else 2
