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
import sys
import time
from pathlib import Path

import numpy as np

from nst.checkpoint import Checkpoint
from nst.cli.main import Command
from nst.compute import Compute, device_line, gpu_present
from nst.errors import InputError
from nst.files import WriteError, remove_partial_files
from nst.images import Inputs
from nst.memory import GIB, available_bytes, estimate_peak_bytes, fit_memory
from nst.networks import NETWORKS
from nst.progress import HEARTBEAT, StatusLine, cost_lines, cost_text
from nst.project import program_command
from nst.run.folder import (
    CHECKPOINT,
    FINAL_IMAGE,
    MANIFEST,
    RunFolder,
    check_output_dir,
    lock_folder,
    planned_files,
    prepare_output_dir,
    remove_earlier_run,
    saved_nothing,
)
from nst.settings import Settings, settings_to_dict
from nst.stopping import StopRequests, Terminated, stop_signals
from nst.tf1.notebook_run import run_notebook
from nst.tiling import tiling_of
from nst.transfer import (
    NonFiniteCostError,
    Step,
    output_size,
    schedule,
    stylize,
)
from nst.weights.loading import Weights, check_weights, fetch_weights, load_weights
from nst.weights.sources import cached_weights_file


def run_command(command: Command, inputs: Inputs | None = None) -> int:
    """Carry out a parsed command line (nst.cli.main.main) with its images, when read; returns
    the exit status. Bad input and write failures are raised, for nst.cli.main.main to report."""
    if command.run_notebook is not None:  # Ctrl-C interrupts the cell, as in Jupyter
        return _run_notebook(command)
    stop = StopRequests()
    try:
        with stop_signals(stop):
            return _carry_out(command, inputs, stop)
    except (KeyboardInterrupt, Terminated) as e:
        print(f"\nneural_art.py: {e or 'interrupted'}", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130


def _carry_out(command: Command, inputs: Inputs | None, stop: StopRequests) -> int:
    """run_command's work, under its signal handlers; the exit status."""
    settings = command.settings
    network = NETWORKS[settings.network]
    if command.show_preset:
        print(_one_setting_a_line(settings_to_dict(settings)))
        return 0
    if command.download_weights:
        destination = settings.weights or cached_weights_file(network=network)
        fetch_weights(command.weights_url or network.mat_url, destination, network)
        return 0
    if command.check_weights:
        return check_weights(settings.weights, network)
    print(f"Done: {run(command, inputs, stop)}")
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


def run(
    command: Command,
    inputs: Inputs | None = None,
    stop: StopRequests | None = None,
    weights: Weights | None = None,
) -> Path:
    """One run (new or resumed), from top to bottom: check its inputs and folder, read the
    weights, optimize while saving the iterates, and leave the pictures; the final image.

    `inputs` are the images if already read (nst.cli.main reads them before TensorFlow
    loads); `weights` are the network's weights if already read (a batch reads them
    once for all its jobs), else the run reads them. `stop` (installed as the signal
    handler) ends the loop after an iteration. The run holds its folder's lock until
    it ends, however it ends. A file that cannot be written (a full disk, a removed
    folder) ends it with a WriteError that says how to continue, when it can be."""
    stop = stop or StopRequests()
    with contextlib.ExitStack() as lock:
        if command.resume is not None:
            folder, settings, resume, inputs, kernels = _reopen(command, lock, weights)
        else:
            folder, settings, inputs, kernels = _create(command, inputs, lock, weights)
            resume = None
        folder.content_alpha = inputs.content_alpha
        try:
            last = _paint(folder, settings, resume, kernels, inputs, stop)
            pixels = _unrounded(folder, last)
            folder.write_result(inputs, last.i, last.image, last.costs, last.checkpoint, pixels)
        except WriteError as e:
            with contextlib.suppress(WriteError):  # the manifest may not be writable either
                folder.finish("failed", str(e))
            raise WriteError(f"{e}{_resume_hint(folder, settings)}") from None
    return folder.path / FINAL_IMAGE


def _paint(
    folder: RunFolder,
    settings: Settings,
    resume: Checkpoint | None,
    kernels: dict,
    inputs: Inputs,
    stop: StopRequests,
) -> Step:
    """The optimization loop: each step's J noted, the saved steps printed and kept; the
    last step. An interruption or an overflow keeps the latest image and says so."""
    first = resume.i + 1 if resume else 0
    size = output_size(settings, inputs.content.shape)
    _announce(settings, folder.path, size)
    # Each iteration's work is its size level's pixel count: the time left weighs the cheap
    # coarse iterations and the dear fine ones as they are.
    work = [w * h for (w, h), steps in schedule(settings, size) for _ in steps]
    status = StatusLine(settings.iterations, first, weights=work, heartbeat=HEARTBEAT)
    timer = _Timer(folder.manifest["timings"], first)
    last: Step | None = None
    try:
        for step in stylize(settings, resume, kernels, inputs):
            stop.in_loop = True
            timer.step(step.i)
            _note_totals(folder, step)
            last = step
            if step.i % settings.save_every == 0:  # the costs before the status line
                with status.aside():
                    _report(folder, step)
            status.update(step.i + 1, folder.totals[-1] if folder.totals else None)
            stop.check()
        stop.in_loop = False
    except (KeyboardInterrupt, Terminated) as e:
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
    if last.i + 1 < settings.iterations:  # --tolerance, or L-BFGS-B could not go on
        print(f"Ended after iteration {last.i} of {settings.iterations}: the total cost settled")
    if last.costs is not None and last.i % settings.save_every:  # not printed yet
        print(f"Final costs (iteration {last.i}): {_costs_text(last.costs)}", flush=True)
    return last


def _announce(settings: Settings, out: Path, size: tuple[int, int]) -> None:
    """The lines that start the painting: the images, the size, the steps and the folder;
    then where and how TensorFlow computes."""
    width, height = size
    coarse = ", ".join(
        f"{len(steps)} at {w}x{h}" for (w, h), steps in schedule(settings, size)[:-1]
    )
    tiling = tiling_of(settings.tile, size)
    tiles = f" in tiles of {tiling.tile} px (overlap {tiling.halo} px)" if tiling else ""
    print(
        f"Painting {settings.content} in the style of "
        f"{' and '.join(map(str, settings.styles))}: {width}x{height} pixels{tiles}, "
        f"{settings.iterations} iterations{f' ({coarse} first)' if coarse else ''}, "
        f"images to {out}",
        flush=True,
    )
    print(device_line(Compute(settings.threads, settings.xla, settings.precision)), flush=True)


class _Timer:
    """The run's timings in the manifest: seconds until the first iteration was done, and
    seconds per iteration after it (from the first to the latest)."""

    def __init__(self, timings: dict, first: int):
        self.timings, self.first = timings, first
        self.started = time.monotonic()
        self.first_done: float | None = None

    def step(self, i: int) -> None:
        """Iteration i is done."""
        now = time.monotonic()
        if self.first_done is None:
            self.first_done = now
            self.timings["until_first_iteration_seconds"] = round(now - self.started, 3)
        elif i > self.first:
            per_step = (now - self.first_done) / (i - self.first)
            self.timings["seconds_per_iteration"] = round(per_step, 4)


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
    """Ctrl-C or SIGTERM: the latest iterate kept, the manifest closed, and the message that
    says where the image is and how to continue."""
    kept = _keep(folder, last)
    folder.finish("interrupted")
    if kept is None:
        return type(e)("interrupted before the first iteration; nothing was saved")
    return type(e)(
        f"interrupted after iteration {last.i}; the image so far is {kept}; "
        f"continue with: {program_command('--resume', folder.path)}"
    )


def _create(
    command: Command, inputs: Inputs | None, lock: contextlib.ExitStack, weights: Weights | None
) -> tuple[RunFolder, Settings, Inputs, dict]:
    """A new run's folder, settings (with the weights and the seed), images and weights
    (`weights` if given, else read), each checked before the folder is written. The folder's
    lock goes on `lock`: taken first when the folder exists, so that a second run into it
    is refused at once."""
    settings = command.settings
    out = settings.output_dir
    locked = out.is_dir()
    if locked:
        lock.enter_context(lock_folder(out, "--output-dir"))
    inputs = inputs or Inputs.read(settings.content, settings.styles, settings.init_file)
    settings = _check_memory(settings, output_size(settings, inputs.content.shape))
    planned = planned_files(settings, transparent=inputs.content_alpha is not None)
    if saved_nothing(out):  # stopped while starting: its manifest may be replaced
        planned.remove(MANIFEST)
    check_output_dir(settings, planned)  # before the weights
    network = NETWORKS[settings.network]
    weights = weights or load_weights(settings.weights, command.weights_url, network)
    seed = settings.seed if settings.seed is not None else secrets.randbelow(2**32)
    settings = settings.replace(weights=weights.path, seed=seed)
    prepare_output_dir(settings, planned)
    if not locked:  # prepare_output_dir made the folder
        lock.enter_context(lock_folder(out, "--output-dir"))
    if settings.overwrite:
        remove_earlier_run(out)
    folder = RunFolder.create(out, settings, command.argv)
    folder.set_weights(weights.path, weights.sha256)
    return folder, settings, inputs, weights.kernels


def _reopen(
    command: Command, lock: contextlib.ExitStack, weights: Weights | None
) -> tuple[RunFolder, Settings, Checkpoint, Inputs, dict]:
    """A stopped run's folder (locked on `lock`), settings (--iterations and --weights
    applied), checkpoint, images and weights (`weights` if given, else read), each checked
    before the folder is written."""
    if command.resume.is_dir():  # if not, open() says there is no run folder there
        lock.enter_context(lock_folder(command.resume, "--resume"))
    remove_partial_files(command.resume)  # a killed run's half-written file
    folder = RunFolder.open(command.resume)
    recorded = folder.settings()
    inputs = Inputs.read(recorded.content, recorded.styles, recorded.init_file)
    recorded = _check_memory(recorded, output_size(recorded, inputs.content.shape))
    settings = recorded.replace(
        output_dir=command.resume,
        iterations=command.resume_iterations or recorded.iterations,
        weights=command.settings.weights or recorded.weights,
    )
    resume = folder.load_checkpoint()
    folder.catch_up(resume.i)
    if resume.i + 1 >= settings.iterations:
        raise InputError(
            f"--resume {command.resume}: the run already did its {settings.iterations} "
            "iterations; give --iterations N with a larger N to continue it"
        )
    network = NETWORKS[settings.network]
    weights = weights or load_weights(settings.weights, command.weights_url, network)
    settings = settings.replace(weights=weights.path)
    folder.set_weights(weights.path, weights.sha256)
    folder.manifest["settings"]["iterations"] = settings.iterations
    folder.manifest["status"] = "running"
    folder.manifest.setdefault("resumed", []).append(resume.i)
    return folder, settings, resume, inputs, weights.kernels


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


def _check_memory(settings: Settings, size: tuple[int, int]) -> Settings:
    """The settings to run with: in tiles when the whole image would need more memory than
    the system has and no --tile was given (saying so), refused when even tiles would not
    fit (on a CPU; a GPU's own memory holds most of the buffers, and is not checked)."""
    if gpu_present():
        return settings
    available = available_bytes()
    fitted = fit_memory(settings, size, available)
    if fitted.tile != settings.tile:
        width, height = size
        print(
            f"The whole {width}x{height} image would need about "
            f"{estimate_peak_bytes(settings, size) / GIB:.1f} GiB of memory and "
            f"{available / GIB:.1f} GiB is available: painting it in tiles of {fitted.tile} "
            f"pixels (about {estimate_peak_bytes(fitted, size) / GIB:.1f} GiB)",
            flush=True,
        )
    return fitted


def _report(folder: RunFolder, step: Step) -> None:
    """At a save point: the assignment's lines, then <i>.png, the checkpoint and the manifest."""
    if step.costs is not None:
        c = step.costs
        lines = cost_lines(step.i, c["total"], c["content"], c["style"])
        if "total variation" in c:
            lines += f"\ntotal variation cost = {cost_text(c['total variation'])}"
        print(lines, flush=True)
    _keep(folder, step)
    folder.write_manifest()


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
