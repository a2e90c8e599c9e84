"""One job of a batch, as a Ray worker carries it out: the command line's own path (its
arguments parsed by nst.cli.main.parse_command into an image job, nst.run.image_job.run), with the
weights the batch read once, so that it gives what `neural_art.py` with its arguments gives.

A job that ran before (its worker died, or the batch was stopped) continues from its
checkpoint, as --resume continues a single run. What the job prints goes to its log file.
Ray's cancelling (the batch's Ctrl-C) arrives as SIGINT, which stops the run after its
current iteration with its image and checkpoint kept, as Ctrl-C stops a single run.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from pathlib import Path

from nst.batch.report import now
from nst.cli.main import parse_command
from nst.errors import InputError
from nst.files import WriteError
from nst.run.folder import CHECKPOINT, MANIFEST
from nst.run.image_job import run
from nst.stopping import StopRequests, Terminated, stop_signals
from nst.weights.loading import Weights


def run_job(argv: list[str], run_folder: str, weights: Weights, log: str, again: bool) -> dict:
    """Carry out the job whose command line is `argv` (into `run_folder`) with `weights`,
    printing into the file `log` (appended to). `again`: the job ran before, so it continues
    from its checkpoint when its folder has one.

    Returns {"status": "finished", "result": the final image's path} or {"status":
    "failed" or "interrupted", "message": why}, with "started" and "ended" (UTC, ISO 8601),
    "seconds" (this attempt's) and "node" (the Ray node's id).
    """
    started, clock = now(), time.monotonic()
    stop = StopRequests()
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with (
        open(log, "a", encoding="utf-8") as out,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(out),
        stop_signals(stop),
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
