"""What a command asks the program to do, as plain data: one type for each kind of job.

The command line (nst/cli) parses and checks a job; neural_art.py hands it to the runner
of its kind: an image or a clip to nst/run, a batch to nst/batch, the weights file to
nst/weights/loading.py, a notebook to nst/tf1/notebook_run.py. Only the settings' types
are needed here, so a job is made and checked before TensorFlow or Ray is imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from nst.settings import Settings

BATCH_FILE = "batch.json"
"""The file that makes a folder a batch folder (nst/batch/report.py writes it)."""
MANIFEST = "manifest.json"
"""The manifest of a run folder or a clip's folder (nst/run/folder.py, nst/run/clip_folder.py)."""
CLIP_KIND = "clip"
"""The "kind" a clip's manifest gives (an image run's manifest gives none)."""
TEMPORAL_WEIGHT = 3e6
"""--temporal-weight's default (see the README's "Clips" for how it was chosen)."""
FLOW_METHODS = ("dis", "farneback")
"""The optical flows a clip can use (nst.video.flow), the default first (measured by
bench/flow.py, see bench/README.md)."""
MAX_PASSES = 1000
"""The most passes a clip is painted in (--passes)."""
LATER_SHARE = 1 / 3
"""Without --frame-iterations, each frame after the first takes this share of --iterations
(at least 1): it starts from the previous result, carried along the optical flow."""


@dataclass(frozen=True)
class ImageJob:
    """Paint one image with `settings`, or continue the stopped run in `resume` (its own
    settings, with `resume_iterations` when given). `argv` is the command line, for the
    run's manifest; `weights_url` the mirror to fetch missing weights from (None: the
    network's MatConvNet URL); `web` the (host, port) where the live view listens (None:
    no live view)."""

    settings: Settings
    argv: list[str]
    resume: Path | None
    resume_iterations: int | None
    weights_url: str | None
    web: tuple[str, int] | None = None


@dataclass(frozen=True)
class ClipJob:
    """Paint every frame of the clip settings.content (a video file or a folder of frames)
    into settings.output_dir, or continue the stopped clip in `resume`. `frames`: the first
    and last frame to paint, numbered from 1 (None: the clip's first, its last); `fps`: the
    frame rate of a folder of frames (None: DEFAULT_FPS; a video's own rate else);
    `temporal_weight`: the temporal cost's weight in J (0: each frame painted on its own);
    `frame_iterations`: the iterations of each frame after the first (None: LATER_SHARE of
    settings.iterations); `flow`: the optical flow's method (nst.video.flow.FLOW_METHODS);
    `passes`: 1 to paint the frames in order, each later one from the one before, or how
    many passes paint the clip (nst.run.clip_passes), on Ray with `workers` at once (None:
    one per CORES_PER_WORKER cores) when `workers` or `ray_address` is given, a frame whose
    worker died painted again up to `retries` times."""

    settings: Settings
    argv: list[str]
    frames: tuple[int | None, int | None]
    fps: Fraction | None
    temporal_weight: float
    frame_iterations: int | None
    flow: str
    resume: Path | None
    weights_url: str | None
    passes: int
    workers: int | None
    ray_address: str | None
    retries: int

    @property
    def uses_ray(self) -> bool:
        """Whether --workers or --ray-address is given: a clip's passes are painted on Ray."""
        return self.workers is not None or self.ray_address is not None

    def later_iterations(self, settings: Settings) -> int:
        """The iterations of each frame after the first, for a clip run with `settings`."""
        if self.frame_iterations is not None:
            return self.frame_iterations
        return max(1, round(settings.iterations * LATER_SHARE))


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


Job = ImageJob | ClipJob | BatchJob | WeightsJob | NotebookJob | SettingsJob
"""Any kind of job."""


def is_clip_folder(folder: Path) -> bool:
    """Whether `folder` holds a clip's run (its manifest says kind "clip")."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("kind") == CLIP_KIND
