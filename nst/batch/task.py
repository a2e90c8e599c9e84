"""One job of a batch, as a Ray worker carries it out: the command line's own path (its
arguments parsed by nst.cli.main.parse_command into an image job, nst.run.image_job.run), with the
weights the batch read once, so that it gives what `neural_art.py` with its arguments gives.

A job that ran before (its worker died, or the batch was stopped) continues from its
checkpoint, as --resume continues a single run. What the job prints goes to its log file.

The batch's Ctrl-C reaches a job through a StopFlag that the job watches: once it is set,
the job's main thread is interrupted as Ctrl-C interrupts a single run, which stops after
its current iteration with its image and checkpoint kept. Not through ray.cancel: in Ray
2.60, cancelling a task whose result is arriving at that moment fails a check inside Ray
that ends the batch's own process with status 1 ("Tried to complete task that was not
pending"; ray-project/ray#54527 describes this race in a sibling check).
"""

from __future__ import annotations

import _thread
import contextlib
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

from nst.batch.report import now
from nst.cli.main import parse_command
from nst.errors import InputError
from nst.files import WriteError
from nst.run.folder import CHECKPOINT, MANIFEST
from nst.run.image_job import run
from nst.stopping import StopRequests, Terminated, stop_signals
from nst.weights.loading import Weights

WATCH_SECONDS = 0.1
"""How often, in seconds, a job looks whether its batch was stopped."""


class StopFlag:
    """A batch's request to stop, as a Ray actor (with no cores of its own) that its jobs
    ask every WATCH_SECONDS: the batch calls `set` on Ctrl-C or SIGTERM."""

    def __init__(self):
        self._stop = False

    def set(self) -> None:
        self._stop = True

    def is_set(self) -> bool:
        return self._stop


def run_job(
    argv: list[str], run_folder: str, weights: Weights, log: str, again: bool, stop_flag
) -> dict | None:
    """Carry out the job whose command line is `argv` (into `run_folder`) with `weights`,
    printing into the file `log` (appended to). `again`: the job ran before, so it continues
    from its checkpoint when its folder has one. `stop_flag`: the batch's StopFlag (an actor
    handle); once it is set, the job stops as Ctrl-C stops a run.

    Returns {"status": "finished", "result": the final image's path} or {"status":
    "failed" or "interrupted", "message": why}, with "started" and "ended" (UTC, ISO 8601),
    "seconds" (this attempt's) and "node" (the Ray node's id); None when the batch was
    stopped before the job began.
    """
    import ray

    if ray.get(stop_flag.is_set.remote()):
        return None
    started, clock = now(), time.monotonic()
    stop = StopRequests()
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with (
        open(log, "a", encoding="utf-8") as out,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(out),
        stop_signals(stop),
        _interrupted_by(stop_flag),
    ):
        try:
            final = run(
                parse_command(job_command_line(argv, Path(run_folder), again)), None, stop, weights
            )
            print(f"Done: {final}", flush=True)
            outcome = {"status": "finished", "result": str(final)}
        except (InputError, WriteError) as e:
            print(f"neural_art.py: error: {e}", flush=True)
            outcome = {"status": "failed", "message": str(e)}
        except (KeyboardInterrupt, Terminated) as e:
            print(f"neural_art.py: {e or 'interrupted'}", flush=True)
            outcome = {"status": "interrupted", "message": str(e) or "interrupted"}
        except Exception as e:  # a defect: its traceback goes to the log
            traceback.print_exc(file=out)
            outcome = {"status": "failed", "message": f"{type(e).__name__}: {e}"}
    seconds = round(time.monotonic() - clock, 3)
    return {**outcome, "started": started, "ended": now(), "seconds": seconds, "node": _node()}


@contextlib.contextmanager
def _interrupted_by(stop_flag) -> Iterator[None]:
    """While the block runs, interrupt the main thread as Ctrl-C does (through the SIGINT
    handler, so a run in its loop stops after the current iteration) once `stop_flag` is
    set; a thread asks it every WATCH_SECONDS."""
    import ray

    done = threading.Event()

    def watch() -> None:
        while not done.wait(WATCH_SECONDS):
            if ray.get(stop_flag.is_set.remote()):
                if not done.is_set():
                    _thread.interrupt_main()
                return

    threading.Thread(target=watch, name="batch stop", daemon=True).start()
    try:
        yield
    finally:
        done.set()


def job_command_line(argv: list[str], run_folder: Path, again: bool) -> list[str]:
    """The command line that carries a job out: `argv`, or --resume of its run folder when
    the job ran before and left a checkpoint there."""
    if again and (run_folder / CHECKPOINT).is_file() and (run_folder / MANIFEST).is_file():
        return ["--resume", str(run_folder)]
    return argv


def _node() -> str:
    """The id of the Ray node this runs on."""
    import ray

    return ray.get_runtime_context().get_node_id()
