"""What a command asks the program to do, as plain data: one type for each kind of job.

The command line (nst/cli) parses and checks a job; neural_art.py hands it to the runner
of its kind: an image to nst/run, a batch to nst/batch, the weights file to
nst/weights/loading.py, a notebook to nst/tf1/notebook_run.py. Only the settings' types
are needed here, so a job is made and checked before TensorFlow or Ray is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nst.settings import Settings

BATCH_FILE = "batch.json"
"""The file that makes a folder a batch folder (nst/batch/report.py writes it)."""


@dataclass(frozen=True)
class ImageJob:
    """Paint one image with `settings`, or continue the stopped run in `resume` (its own
    settings, with `resume_iterations` when given). `argv` is the command line, for the
    run's manifest; `weights_url` the mirror to fetch missing weights from (None: the
    network's MatConvNet URL)."""

    settings: Settings
    argv: list[str]
    resume: Path | None
    resume_iterations: int | None
    weights_url: str | None


@dataclass(frozen=True)
class BatchJob:
    """Many runs on Ray: one per row of `batch` (JOBS.csv), or per pair of an image in
    `batch_content` and one in `batch_style`, or of settings.content and settings.styles;
    each repeated for every value of every `sweep` (option name, its values). `settings`
    hold the options its runs share; `resume` a stopped batch's folder to continue;
    `workers` how many run at once (None: one per CORES_PER_WORKER cores of the cluster),
    `ray_address` the Ray cluster (None: Ray started on this machine) and `retries` how many
    more times a job whose worker died runs."""

    settings: Settings
    argv: list[str]
    batch: Path | None
    batch_content: Path | None
    batch_style: Path | None
    sweep: tuple[tuple[str, tuple[str, ...]], ...]
    workers: int | None
    ray_address: str | None
    retries: int
    resume: Path | None
    weights_url: str | None


@dataclass(frozen=True)
class WeightsJob:
    """Report on settings.network's weights file (`download` False: --check-weights), or
    fetch it from `weights_url` (None: MatConvNet's) to settings.weights or the per-user
    cache (`download` True: --download-weights)."""

    settings: Settings
    download: bool
    weights_url: str | None


@dataclass(frozen=True)
class NotebookJob:
    """Run the TF 1.x notebook at `path` unchanged, writing the executed copy to `executed`
    (None: <name>.executed.ipynb beside it), replacing an existing one when `overwrite`."""

    path: Path
    executed: Path | None
    overwrite: bool


@dataclass(frozen=True)
class SettingsJob:
    """Print `settings` (a preset with the options given) as JSON (--show-preset)."""

    settings: Settings


Job = ImageJob | BatchJob | WeightsJob | NotebookJob | SettingsJob
"""Any kind of job."""
