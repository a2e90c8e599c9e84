"""An image job from its checks to its result: the run folder made (or a stopped run's
reopened) and locked, the images and the weights read, the memory it needs checked, all
before TensorFlow loads, so that bad input is reported at once; then the painting loop
(nst/run/painting.py).

Exit status: 0 done (also when the live view's Stop ended it early, with its result),
2 bad input or a file that cannot be written (a full disk, a removed output folder) or
an output folder in use by another run or a --web address that cannot be listened on
(one line on stderr), 130 interrupted by Ctrl-C, 143 stopped by SIGTERM; an interrupted
run keeps its latest image and can be continued with --resume.

With --web, the live view (nst/web) listens before anything else is done, and watches the
painting loop; it leaves the images as they are without it.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path

from nst.checkpoint import Checkpoint
from nst.cpu_kernels import gpu_driver_present
from nst.errors import InputError
from nst.files import remove_partial_files
from nst.images import Inputs
from nst.job import ImageJob
from nst.levels import output_size
from nst.memory import GIB, available_bytes, estimate_peak_bytes, fit_memory
from nst.networks import NETWORKS
from nst.run.folder import (
    MANIFEST,
    RunFolder,
    check_output_dir,
    lock_folder,
    planned_files,
    prepare_output_dir,
    remove_earlier_run,
    saved_nothing,
)
from nst.setting_checks import SettingError
from nst.settings import Settings
from nst.stopping import StopRequests, Terminated, stoppable
from nst.watching import RunEnd, Watcher
from nst.weights.loading import Weights, load_weights


def run_image_job(job: ImageJob) -> int:
    """Carry out an image job: a new run (its images read first, so that a bad one is
    reported before TensorFlow loads) or a resumed one; the exit status, 0 when done (or
    stopped from the live view), 130 or 143 when stopped by Ctrl-C or SIGTERM. Bad input,
    write failures and a --web address that cannot be listened on are raised."""
    with contextlib.ExitStack() as live:
        watchers = []
        stopping = StopRequests()
        if job.web is not None:
            watchers.append(live.enter_context(_live_view(job.web, stopping)))
        inputs = None
        if job.resume is None:
            s = job.settings
            inputs = Inputs.read(s.content, s.styles, s.init_file)

        def paint(stop: StopRequests) -> int:
            print(f"Done: {run(job, inputs, stop, watchers=watchers)}")
            return 0

        return stoppable(paint, stopping)


@contextlib.contextmanager
def _live_view(address: tuple[str, int], stop: StopRequests) -> Iterator[Watcher]:
    """The live view listening on `address` (host, port) while the block runs, its address
    printed; its state, the watcher to give the run. Its Stop is stop.finish_early. When
    the block ends, the open pages get the run's end (a failure before the painting started
    too), then it stops serving."""
    from nst.web.server import LiveServer
    from nst.web.state import LiveState

    state = LiveState()
    with LiveServer(*address, state, stop.finish_early) as server:
        server.start()
        print(f"Live view: {server.url}", flush=True)
        try:
            yield state
        except (KeyboardInterrupt, Terminated) as e:
            if not state.ended:
                state.end(RunEnd("interrupted", str(e)))
            raise
        except BaseException as e:
            if not state.ended:
                state.end(RunEnd("failed", str(e)))
            raise
        if not state.ended:  # a signal before the painting started (stoppable answered it)
            state.end(RunEnd("interrupted", "interrupted before the first iteration"))


def run(
    job: ImageJob,
    inputs: Inputs | None = None,
    stop: StopRequests | None = None,
    weights: Weights | None = None,
    watchers: Sequence[Watcher] = (),
) -> Path:
    """One run (new or resumed), from top to bottom: check its inputs and folder, read the
    weights, optimize while saving the iterates, and leave the pictures; the final image.

    `inputs` are the images if already read; `weights` are the network's weights if
    already read (a batch reads them once for all its jobs), else the run reads them.
    `stop` (installed as the signal handler) ends the loop after an iteration; `watchers`
    watch the painting (nst/watching.py). The run
    holds its folder's lock until it ends, however it ends. A file that cannot be written
    (a full disk, a removed folder) ends it with a WriteError that says how to continue,
    when it can be."""
    stop = stop or StopRequests()
    with contextlib.ExitStack() as lock:
        if job.resume is not None:
            folder, settings, resume, inputs, kernels = _reopen(job, lock, weights)
        else:
            folder, settings, inputs, kernels = _create(job, inputs, lock, weights)
            resume = None
        from nst.run.painting import paint  # TensorFlow loads here, once every check has answered

        return paint(folder, settings, resume, kernels, inputs, stop, watchers)


def _create(
    job: ImageJob, inputs: Inputs | None, lock: contextlib.ExitStack, weights: Weights | None
) -> tuple[RunFolder, Settings, Inputs, dict]:
    """A new run's folder, settings (with the weights and the seed), images and weights
    (`weights` if given, else read), each checked before the folder is written. The folder's
    lock goes on `lock`: taken first when the folder exists, so that a second run into it
    is refused at once."""
    settings = job.settings
    out = settings.output_dir
    locked = out.is_dir()
    if locked:
        lock.enter_context(lock_folder(out, "--output-dir"))
    inputs = inputs or Inputs.read(settings.content, settings.styles, settings.init_file)
    settings = fit_to_memory(settings, output_size(settings, inputs.content.shape))
    planned = planned_files(settings, transparent=inputs.content_alpha is not None)
    if saved_nothing(out):  # stopped while starting: its manifest may be replaced
        planned.remove(MANIFEST)
    check_output_dir(settings, planned)  # before the weights
    network = NETWORKS[settings.network]
    weights = weights or load_weights(settings.weights, job.weights_url, network)
    seed = settings.seed if settings.seed is not None else secrets.randbelow(2**32)
    settings = settings.replace(weights=weights.path, seed=seed)
    prepare_output_dir(settings, planned)
    if not locked:  # prepare_output_dir made the folder
        lock.enter_context(lock_folder(out, "--output-dir"))
    if settings.overwrite:
        remove_earlier_run(out)
    folder = RunFolder.create(out, settings, job.argv)
    folder.set_weights(weights.path, weights.sha256)
    return folder, settings, inputs, weights.kernels


def _reopen(
    job: ImageJob, lock: contextlib.ExitStack, weights: Weights | None
) -> tuple[RunFolder, Settings, Checkpoint, Inputs, dict]:
    """A stopped run's folder (locked on `lock`), settings (--iterations and --weights
    applied), checkpoint, images and weights (`weights` if given, else read), each checked
    before the folder is written."""
    if job.resume.is_dir():  # if not, open() says there is no run folder there
        lock.enter_context(lock_folder(job.resume, "--resume"))
    remove_partial_files(job.resume)  # a killed run's half-written file
    folder = RunFolder.open(job.resume)
    recorded = folder.settings()
    inputs = Inputs.read(recorded.content, recorded.styles, recorded.init_file)
    recorded = fit_to_memory(recorded, output_size(recorded, inputs.content.shape))
    try:
        settings = recorded.replace(
            output_dir=job.resume,
            iterations=job.resume_iterations or recorded.iterations,
            weights=job.settings.weights or recorded.weights,
        )
    except SettingError as e:  # --iterations, checked alone, is too few for the coarse levels
        raise InputError(f"--resume {job.resume}: argument --iterations: {e.reason}") from None
    resume = folder.load_checkpoint()
    folder.catch_up(resume.i)
    if resume.i + 1 >= settings.iterations:
        raise InputError(
            f"--resume {job.resume}: the run already did its {settings.iterations} "
            "iterations; give --iterations N with a larger N to continue it"
        )
    network = NETWORKS[settings.network]
    weights = weights or load_weights(settings.weights, job.weights_url, network)
    settings = settings.replace(weights=weights.path)
    folder.set_weights(weights.path, weights.sha256)
    folder.manifest["settings"]["iterations"] = settings.iterations
    folder.manifest["status"] = "running"
    folder.manifest.setdefault("resumed", []).append(resume.i)
    return folder, settings, resume, inputs, weights.kernels


def fit_to_memory(settings: Settings, size: tuple[int, int], at_once: int = 1) -> Settings:
    """The settings to run with: in tiles when the whole image would need more memory than
    the system has and no --tile was given (saying so), refused when even tiles would not
    fit (on a CPU; a GPU's own memory holds most of the buffers, and is not checked).
    `at_once`: how many such runs share the memory (a clip's frames painted at once on Ray
    started on this machine), each with its share."""
    if gpu_driver_present():
        from nst.tf_session import gpu_present  # TensorFlow: it tells whether it uses the GPU

        if gpu_present():
            return settings
    available = available_bytes() // at_once
    try:
        fitted = fit_memory(settings, size, available)
    except InputError as e:
        if at_once == 1:
            raise
        raise InputError(f"{e}; that is the share of each of {at_once} frames at once") from None
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
