"""A clip's run folder: frames/00001.png ..., manifest.json, and at the end stylized.mp4,
side_by_side.mp4 and costs.png. With --passes 2 or more, each pass's frames go to
passes/<pass>/00001.png ..., the last pass's become frames/ at the end, and a pass's folder
is removed once the pass after it is finished.

The manifest (kind "clip") records what is needed to repeat or continue the clip: the
settings, the clip's options, the weights file's checksum, the library versions, the seed,
and for each finished frame its costs, iterations and seconds. A frame counts as finished
once its PNG is written and the manifest names it; a stopped clip continues from the first
frame the manifest does not name (its earlier results are read back from their PNGs, so a
continued clip gives what an uninterrupted one does). Every file is written under a
temporary name and renamed into place. With passes, the manifest records each pass's
finished frames, which may finish in any order; a stopped clip continues with the frames of
its first unfinished pass that it does not name.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import numpy as np

from nst.errors import InputError
from nst.images import read_rgb, write_image
from nst.job import CLIP_KIND, MANIFEST, ClipJob
from nst.run.folder import PLOT, ManifestFolder, library_versions
from nst.run.frame_painting import PaintedFrame
from nst.run.visuals import plot_costs
from nst.settings import Settings, settings_from_dict, settings_to_dict

FRAMES = "frames"
"""The folder of the stylized frames, 00001.png, 00002.png, ... in the order painted."""
PASSES = "passes"
"""The folder of the passes' frames (--passes 2 or more): passes/1/00001.png, ..."""
STYLIZED = "stylized.mp4"
SIDE_BY_SIDE_CLIP = "side_by_side.mp4"
CLIP_FILES = (FRAMES, PASSES, STYLIZED, SIDE_BY_SIDE_CLIP, PLOT, MANIFEST)
"""What a clip's run writes into its folder."""


def frame_name(n: int) -> str:
    """The file of the n-th painted frame (from 1) in the folder: frames/00001.png."""
    return f"{FRAMES}/{n:05d}.png"


def pass_frame_name(number: int, n: int) -> str:
    """The file of the n-th frame (from 1) of pass `number`: passes/2/00001.png."""
    return f"{PASSES}/{number}/{n:05d}.png"


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
                "passes": job.passes,
            },
            "seed": settings.seed,
            "weights": None,
            "versions": library_versions(),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "frames": [],
            "passes": [],
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
        named = [frame_name(n) for n in range(1, len(frames) + 1)]
        if not frames:  # the pass a later one starts from, and the frames of that one
            done = folder.passes_done
            needed = [done, done + 1] if done < clip.get("passes", 1) else []
            for number in (n for n in needed if n > 0):
                named += [pass_frame_name(number, n) for n in sorted(folder.pass_frames(number))]
        missing = [name for name in named if not (path / name).is_file()]
        if missing:
            raise InputError(
                f"--resume {path}: {missing[0]} is missing, which {MANIFEST} names as finished"
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

    def add_frame(self, painted: PaintedFrame) -> Path:
        """Keep the next frame's result with its costs, iterations, seconds and certain
        share; its file."""
        name = frame_name(self.done + 1)
        self.manifest["frames"].append(self._kept(name, painted))
        self.write_manifest()
        return self.path / name

    @property
    def passes_done(self) -> int:
        """How many of the passes are finished (--passes 2 or more)."""
        count = self.span[1] - self.span[0] + 1
        return sum(len(frames) == count for frames in self.manifest.get("passes", []))

    def pass_frames(self, number: int) -> dict[int, dict]:
        """The finished frames of pass `number` (from 1): {frame number: its entry}."""
        passes = self.manifest.get("passes", [])
        return {int(n): e for n, e in passes[number - 1].items()} if number <= len(passes) else {}

    def pass_result(self, number: int, n: int) -> np.ndarray:
        """The n-th frame's result (from 1) in pass `number`, uint8 RGB, as its PNG holds it."""
        return read_rgb(self.path / pass_frame_name(number, n))

    def add_pass_frame(self, number: int, painted: PaintedFrame) -> Path:
        """Keep a frame's result in pass `number` (from 1), as add_frame does; its file. Once
        the pass is finished, the pass before it is removed."""
        passes = self.manifest["passes"]
        while len(passes) < number:
            passes.append({})
        name = pass_frame_name(number, painted.number)
        (self.path / name).parent.mkdir(parents=True, exist_ok=True)
        passes[number - 1][str(painted.number)] = self._kept(name, painted)
        self.write_manifest()
        if self.passes_done == number and number > 1:
            shutil.rmtree(self.path / PASSES / str(number - 1), ignore_errors=True)
        return self.path / name

    def keep_last_pass(self) -> None:
        """Make the last pass's frames the clip's frames/ and remove passes/."""
        number = self.passes_done
        last = self.path / PASSES / str(number)
        if last.is_dir():
            shutil.rmtree(self.path / FRAMES, ignore_errors=True)
            last.rename(self.path / FRAMES)
        frames = self.pass_frames(number)
        self.manifest["frames"] = [{**frames[n], "file": frame_name(n)} for n in sorted(frames)]
        self.write_manifest()
        shutil.rmtree(self.path / PASSES, ignore_errors=True)

    def _kept(self, name: str, painted: PaintedFrame) -> dict:
        """The result written to `name`; its manifest entry."""
        write_image(self.path / name, painted.image)
        entry = {"file": name, "costs": painted.costs, "iterations": painted.iterations,
                 "seconds": painted.seconds}  # fmt: skip
        if painted.certain is not None:
            entry["certain"] = round(painted.certain, 4)
        return entry

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
