"""A clip's run folder: frames/00001.png ..., manifest.json, and at the end stylized.mp4,
side_by_side.mp4 and costs.png.

The manifest (kind "clip") records what is needed to repeat or continue the clip: the
settings, the clip's options, the weights file's checksum, the library versions, the seed,
and for each finished frame its costs, iterations and seconds. A frame counts as finished
once its PNG is written and the manifest names it; a stopped clip continues from the first
frame the manifest does not name (its earlier results are read back from their PNGs, so a
continued clip gives what an uninterrupted one does). Every file is written under a
temporary name and renamed into place.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import numpy as np

from nst.errors import InputError
from nst.images import read_rgb, write_image
from nst.job import CLIP_KIND, MANIFEST, ClipJob
from nst.run.folder import PLOT, ManifestFolder, library_versions
from nst.run.visuals import plot_costs
from nst.settings import Settings, settings_from_dict, settings_to_dict

FRAMES = "frames"
"""The folder of the stylized frames, 00001.png, 00002.png, ... in the order painted."""
STYLIZED = "stylized.mp4"
SIDE_BY_SIDE_CLIP = "side_by_side.mp4"
CLIP_FILES = (FRAMES, STYLIZED, SIDE_BY_SIDE_CLIP, PLOT, MANIFEST)
"""What a clip's run writes into its folder."""


def frame_name(n: int) -> str:
    """The file of the n-th painted frame (from 1) in the folder: frames/00001.png."""
    return f"{FRAMES}/{n:05d}.png"


class ClipFolder(ManifestFolder):
    """The folder of one clip's run and its manifest, kept in memory and rewritten at each
    change."""

    @classmethod
    def create(
        cls, path: Path, settings: Settings, job: ClipJob, span: tuple[int, int], fps: Fraction
    ) -> ClipFolder:
        """A new clip's folder (which must exist): `span` are the first and last frame
        painted, numbered from 1; `fps` the clip's frame rate."""
        manifest = {
            "program": "neural_art.py",
            "kind": CLIP_KIND,
            "status": "running",
            "command": ["neural_art.py", *job.argv],
            "settings": settings_to_dict(settings.with_absolute_paths()),
            "clip": {
                "frames": list(span),
                "fps": str(fps),
                "temporal_weight": job.temporal_weight,
                "frame_iterations": job.later_iterations(settings),
                "flow": job.flow,
            },
            "seed": settings.seed,
            "weights": None,
            "versions": library_versions(),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "frames": [],
            "files": [],
        }
        (path / FRAMES).mkdir(exist_ok=True)
        return cls(path, manifest)

    @classmethod
    def open(cls, path: Path) -> ClipFolder:
        """A stopped clip's folder, for --resume; InputError when it is not one."""
        try:
            manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
            settings_from_dict(manifest["settings"])
            clip = manifest["clip"]
            span, fps = [int(n) for n in clip["frames"]], Fraction(clip["fps"])
            frames = manifest["frames"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InputError(f"--resume {path}: {MANIFEST} cannot be read ({e})") from None
        if len(span) != 2 or fps <= 0 or not isinstance(frames, list):
            raise InputError(f"--resume {path}: {MANIFEST} cannot be read (its clip is wrong)")
        folder = cls(path, manifest)
        missing = [n for n in range(1, len(frames) + 1) if not (path / frame_name(n)).is_file()]
        if missing:
            raise InputError(
                f"--resume {path}: {frame_name(missing[0])} is missing, which {MANIFEST} "
                "names as finished"
            )
        return folder

    def settings(self) -> Settings:
        """The clip's settings, as recorded."""
        return settings_from_dict(self.manifest["settings"])

    @property
    def span(self) -> tuple[int, int]:
        """The first and last frame of the clip that are painted, numbered from 1."""
        first, last = self.manifest["clip"]["frames"]
        return first, last

    @property
    def done(self) -> int:
        """How many frames are finished."""
        return len(self.manifest["frames"])

    def result(self, n: int) -> np.ndarray:
        """The n-th painted frame's result (from 1), uint8 RGB, as its PNG holds it."""
        return read_rgb(self.path / frame_name(n))

    def add_frame(
        self,
        image: np.ndarray,
        costs: dict[str, float] | None,
        iterations: int,
        seconds: float,
        certain: float | None,
    ) -> Path:
        """Keep the next frame's result (uint8 RGB) with its costs, its iterations, its
        seconds and the share of its pixels the previous frame showed (None for a frame
        painted on its own); its file."""
        name = frame_name(self.done + 1)
        write_image(self.path / name, image)
        entry = {"file": name, "costs": costs, "iterations": iterations, "seconds": seconds}
        if certain is not None:
            entry["certain"] = round(certain, 4)
        self.manifest["frames"].append(entry)
        self.write_manifest()
        return self.path / name

    def plot_costs(self) -> None:
        """costs.png: each finished frame's final costs against its number."""
        frames = self.manifest["frames"]
        names = list(dict.fromkeys(name for f in frames for name in (f["costs"] or {})))
        series = {
            name: [(f["costs"] or {}).get(name, float("nan")) for f in frames] for name in names
        }
        plot_costs(self.path / PLOT, list(range(1, len(frames) + 1)), series, along="frame")

    def finish(self, status: str, files: list[str] = (), message: str = "") -> None:
        """Record how the clip ended ('finished', 'interrupted', 'failed') and the files
        written at the end; write the manifest."""
        self.manifest["status"] = status
        self.manifest["files"] = list(files)
        if message:
            self.manifest["message"] = message
        self.write_manifest()
