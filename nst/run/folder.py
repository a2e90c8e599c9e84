"""A run's folder: the saved iterates, manifest.json, checkpoint.npz and the pictures at the end.

manifest.json records everything needed to repeat or continue the run: the
settings, the weights file's checksum, the library versions, the seed, the
costs and times at each checkpoint, and the run's status. checkpoint.npz holds
the image, Adam's moments and the iterates' average after the latest checkpoint, as plain arrays
(read back without pickle). Every file is written under a temporary name and
renamed into place, so a crash never leaves a partial one. While a run writes
into a folder it holds the folder's lock (`lock_folder`), so a second run
there is refused.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

from nst.checkpoint import Checkpoint
from nst.errors import InputError
from nst.files import atomic_path
from nst.images import Inputs, over_white, read_rgb, resize, result_file_image, write_image
from nst.job import MANIFEST
from nst.run.visuals import animation, contact_sheet, plot_costs, side_by_side
from nst.settings import Settings, settings_from_dict, settings_to_dict

try:
    import fcntl
except ImportError:  # not POSIX: creating the lock file exclusively is the lock
    fcntl = None

CHECKPOINT = "checkpoint.npz"
FINAL_IMAGE = "generated_image.jpg"
FINAL_PNG = "generated_image.png"
"""The final image at --output-depth 16 and/or with the content's alpha, besides the JPEG."""
PLOT = "costs.png"
CONTACT_SHEET = "contact_sheet.png"
ANIMATION = "progress.gif"
SIDE_BY_SIDE = "side_by_side.png"
LOCK = ".neural_art.lock"
LIBRARIES = ("tensorflow", "numpy", "scipy", "pillow", "imageio", "h5py", "matplotlib")


def planned_files(settings: Settings, transparent: bool = False) -> list[str]:
    """The names a run with these settings writes into its folder (`transparent`: the
    content has an alpha channel)."""
    saved = [f"{i}.png" for i in range(0, settings.iterations, settings.save_every)]
    pictures = [PLOT, CONTACT_SHEET, ANIMATION, SIDE_BY_SIDE]
    final = [FINAL_IMAGE] + ([FINAL_PNG] if needs_png(settings.output_depth, transparent) else [])
    return saved + final + [MANIFEST, CHECKPOINT] + pictures


def needs_png(depth: int, transparent: bool) -> bool:
    """Whether the final image is also written as generated_image.png: the JPEG holds
    neither 16 bits nor alpha."""
    return depth == 16 or transparent


def _files_of_earlier_run(folder: Path) -> list | None:
    """The "files" an earlier run's manifest in `folder` lists; None without a readable one."""
    try:
        files = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return files if isinstance(files, list) else None


def saved_nothing(folder: Path) -> bool:
    """Whether `folder` holds the manifest of a run that saved no iteration (stopped while
    starting): such a folder does not block a new run."""
    return _files_of_earlier_run(folder) == [] and not (folder / CHECKPOINT).exists()


def remove_earlier_run(folder: Path) -> None:
    """Delete what an earlier run wrote into `folder`, by its manifest: its files, checkpoint
    and manifest (for --overwrite: none of its images is left beside the new run's). Files
    it did not write stay, and so does everything when there is no readable manifest."""
    files = _files_of_earlier_run(folder)
    if files is None:
        return
    for name in [*files, CHECKPOINT, MANIFEST]:
        if isinstance(name, str) and name and Path(name).name == name:  # only plain names
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()


def check_output_dir(settings: Settings, planned: list[str]) -> None:
    """What prepare_output_dir would refuse, found without writing anything (so that it is
    said before the weights are loaded): a file where the folder should be, a folder that
    cannot be made or written (by the permissions of the nearest one that exists), or one
    holding files of `planned` (unless --overwrite)."""
    out = settings.output_dir
    if out.exists() and not out.is_dir():
        raise InputError(f"--output-dir {out} is a file, not a folder")
    nearest = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not nearest.is_dir():
        raise InputError(f"--output-dir {out} cannot be made: {nearest} is a file")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise InputError(f"--output-dir {out} cannot be written: {nearest} is not writable")
    existing = [name for name in planned if (out / name).exists()]
    if existing and not settings.overwrite:
        shown = ", ".join(existing[:3]) + (", ..." if len(existing) > 3 else "")
        raise InputError(
            f"--output-dir {out} already holds {shown} from an earlier run; "
            "choose another --output-dir, or pass --overwrite to replace them"
        )


def prepare_output_dir(settings: Settings, planned: list[str]) -> None:
    """Create the output folder and make sure the run destroys nothing of an earlier one.

    `planned` are the file names this run will write. Raises InputError when the
    folder cannot be made or written, or already holds one of them (unless
    --overwrite).
    """
    check_output_dir(settings, planned)
    out = settings.output_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".neural_art_write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise InputError(f"--output-dir {out} cannot be written: {e.strerror}") from None


def library_versions() -> dict[str, str]:
    """Python's and each library's installed version."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


class ManifestFolder:
    """A folder whose manifest.json is kept in memory (`manifest`) and rewritten at each
    change: a run's (RunFolder) or a clip's (nst.run.clip_folder.ClipFolder)."""

    def __init__(self, path: Path, manifest: dict):
        self.path = path
        self.manifest = manifest

    def set_weights(self, path: Path, sha256: str) -> None:
        """Record the weights file the run uses and write the manifest."""
        self.manifest["weights"] = {"path": str(path.absolute()), "sha256": sha256}
        self.write_manifest()

    def write_manifest(self) -> None:
        """Rewrite manifest.json from memory, atomically."""
        with atomic_path(self.path / MANIFEST) as tmp:
            tmp.write_text(json.dumps(self.manifest, indent=2) + "\n", encoding="utf-8")


class RunFolder(ManifestFolder):
    """The folder of one run and its manifest, kept in memory and rewritten at each change."""

    def __init__(self, path: Path, manifest: dict):
        super().__init__(path, manifest)
        self._resumed_at = time.monotonic()
        self._elapsed_before = manifest["timings"].get("run_seconds", 0.0)
        self._first_done: tuple[int, float] | None = None
        self._last_done: tuple[int, float] | None = None
        """(iteration, elapsed() when it was done) of this session's first and latest."""
        self.totals: list[float] = []
        """J at every iteration so far (NaN where unknown), kept in checkpoint.npz."""
        self.depth: int = manifest["settings"].get("output_depth", 8)
        """Bits per sample of <i>.png and generated_image.png (--output-depth)."""
        self.content_alpha: np.ndarray | None = None
        """The content's alpha channel, uint8 (H, W), which the result PNGs carry, or None."""

    @classmethod
    def create(cls, path: Path, settings: Settings, argv: list[str]) -> RunFolder:
        """A new run's folder (which must exist) with its first manifest: `argv` are the
        command line's arguments."""
        manifest = {
            "program": "neural_art.py",
            "status": "running",
            "command": ["neural_art.py", *argv],
            "settings": settings_to_dict(settings.with_absolute_paths()),
            "seed": settings.seed,
            "weights": None,
            "versions": library_versions(),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "timings": {},
            "checkpoints": [],
            "last_checkpoint": None,
            "files": [],
        }
        return cls(path, manifest)

    @classmethod
    def open(cls, path: Path) -> RunFolder:
        """An earlier run's folder, for --resume; InputError when it is not one."""
        file = path / MANIFEST
        if not file.is_file():
            raise InputError(f"--resume {path}: no {MANIFEST} there, so it is not a run folder")
        try:
            manifest = json.loads(file.read_text(encoding="utf-8"))
            settings_from_dict(manifest["settings"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InputError(f"--resume {path}: {MANIFEST} cannot be read ({e})") from None
        return cls(path, manifest)

    def settings(self) -> Settings:
        """The run's settings, as recorded."""
        return settings_from_dict(self.manifest["settings"])

    def elapsed(self) -> float:
        """Seconds since the run started, summed over its sessions when it was resumed."""
        return self._elapsed_before + time.monotonic() - self._resumed_at

    def iteration_done(self, i: int) -> None:
        """Iteration i is done now. Its time is the one its manifest entry records, and the
        manifest's timings follow from this session's: seconds from the session's start (the
        folder made or reopened) until its first iteration was done, and seconds per
        iteration after it."""
        now = self.elapsed()
        timings = self.manifest["timings"]
        if self._first_done is None:
            self._first_done = (i, now)
            timings["until_first_iteration_seconds"] = round(now - self._elapsed_before, 3)
        elif i > self._first_done[0]:
            first, first_done = self._first_done
            timings["seconds_per_iteration"] = round((now - first_done) / (i - first), 4)
        self._last_done = (i, now)

    def record(self, i: int, costs: dict[str, float] | None, file: str | None) -> None:
        """Note iteration i's costs and saved file in the manifest (written at the next save),
        with the time it was done; a second note of the same iteration adds to the first."""
        checkpoints = self.manifest["checkpoints"]
        if not checkpoints or checkpoints[-1]["iteration"] != i:
            last = self._last_done
            done = last[1] if last and last[0] == i else self.elapsed()
            checkpoints.append({"iteration": i, "elapsed_seconds": round(done, 3)})
        entry = checkpoints[-1]
        if costs is not None:
            entry["costs"] = costs
        if file is not None:
            entry["file"] = file
            if file not in self.manifest["files"]:
                self.manifest["files"].append(file)

    def note_total(self, i: int, J: float) -> None:
        """Keep J, the total cost of iteration i's image, for the cost plot."""
        self.totals.extend([math.nan] * (i + 1 - len(self.totals)))
        self.totals[i] = J

    def save_iterate(
        self,
        i: int,
        image: np.ndarray,
        costs: dict | None,
        checkpoint: Checkpoint,
        pixels: np.ndarray | None = None,
    ) -> Path:
        """Save iteration i: <i>.png, the checkpoint, and i's costs and file in the manifest
        (written by the caller); returns the image's path. `image` is uint8 RGB, `pixels`
        the same picture unrounded (Step.pixels), written at --output-depth 16."""
        path = self.path / f"{i}.png"
        write_image(path, self._result_file_image(image, pixels))
        self.save_checkpoint(checkpoint)
        self.record(i, costs, path.name)
        return path

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Write checkpoint.npz (with J so far) and point the manifest's last_checkpoint at it."""
        arrays = {
            f"{name}_{k}": np.asarray(v)
            for name in ("state", "average")
            for k, v in enumerate(getattr(checkpoint, name))
        }
        totals = np.asarray(self.totals[: checkpoint.i + 1], dtype=np.float64)
        with atomic_path(self.path / CHECKPOINT) as tmp, tmp.open("wb") as f:
            np.savez(f, i=np.int64(checkpoint.i), image=checkpoint.image, totals=totals, **arrays)
        self.manifest["last_checkpoint"] = {"iteration": checkpoint.i, "file": CHECKPOINT}

    def write_result(
        self,
        inputs: Inputs,
        i: int,
        image: np.ndarray,
        costs: dict | None,
        checkpoint: Checkpoint,
        pixels: np.ndarray | None = None,
    ) -> None:
        """The run's end, iteration i: generated_image.jpg (8-bit RGB), generated_image.png
        when needs_png, the checkpoint, costs.png (J at every iteration, each part at the
        saved ones), contact_sheet.png and progress.gif (the saved iterates, then the
        result, labelled; 8-bit, transparent parts over white), side_by_side.png; then
        the manifest says the run finished."""
        write_image(self.path / FINAL_IMAGE, image)
        finals = [FINAL_IMAGE]
        if needs_png(self.depth, self.content_alpha is not None):
            write_image(self.path / FINAL_PNG, self._result_file_image(image, pixels))
            finals.append(FINAL_PNG)
        self.save_checkpoint(checkpoint)
        self.record(i, costs, None)
        self._plot_costs(list(costs or {"total": None}))
        pictures = [*finals, PLOT, CONTACT_SHEET, ANIMATION, SIDE_BY_SIDE]
        iterates = [name for name in self.manifest["files"] if name not in pictures]
        height, width = image.shape[:2]  # coarse levels' iterates are smaller
        frames = [
            (f"iteration {Path(name).stem}", resize(read_rgb(self.path / name), width, height))
            for name in iterates
            if name != f"{i}.png"  # the result, shown once as such
        ]
        frames.append((f"result (iteration {i})", self._over_white(image)))
        contact_sheet(self.path / CONTACT_SHEET, frames)
        animation(self.path / ANIMATION, [f for _, f in frames], labels=[t for t, _ in frames])
        side_by_side(
            self.path / SIDE_BY_SIDE, inputs.content, inputs.styles, self._over_white(image)
        )
        self.manifest["files"] = iterates + pictures
        self.finish("finished")

    def _result_file_image(self, image: np.ndarray, pixels: np.ndarray | None) -> np.ndarray:
        """What a result PNG of this run holds (see nst.images.result_file_image)."""
        return result_file_image(image, pixels, self.depth, self.content_alpha)

    def _over_white(self, image: np.ndarray) -> np.ndarray:
        """uint8 `image` as the pictures show it: with the content's alpha (resized to it),
        composited over white, as read_rgb reads a saved iterate."""
        if self.content_alpha is None:
            return image
        height, width = image.shape[:2]
        return over_white(image, resize(self.content_alpha, width, height))

    def _plot_costs(self, names: list[str]) -> None:
        """costs.png: the total cost J at every iteration; the other costs where saved."""
        saved = {c["iteration"]: c["costs"] for c in self.manifest["checkpoints"] if "costs" in c}
        iterations = sorted(set(range(len(self.totals))) | set(saved))
        series = {
            name: [saved.get(i, {}).get(name, math.nan) for i in iterations] for name in names
        }
        for k, i in enumerate(iterations):
            if i < len(self.totals) and not math.isnan(self.totals[i]):
                series["total"][k] = self.totals[i]
        plot_costs(self.path / PLOT, iterations, series)

    def catch_up(self, i: int) -> None:
        """Note iteration i, that of checkpoint.npz, when the manifest stops short of it
        (its write after the checkpoint's failed): i's iterate, if saved, joins the files."""
        last = self.manifest["last_checkpoint"]
        if last is not None and last["iteration"] >= i:
            return
        image = f"{i}.png"
        self.record(i, None, image if (self.path / image).is_file() else None)
        self.manifest["last_checkpoint"] = {"iteration": i, "file": CHECKPOINT}

    def load_checkpoint(self) -> Checkpoint:
        """The checkpoint to resume from; InputError when missing or damaged."""
        file = self.path / CHECKPOINT
        try:
            with np.load(file, allow_pickle=False) as data:
                state, average = (
                    tuple(data[f"{name}_{k}"] for k in range(_count(data.files, name)))
                    for name in ("state", "average")
                )
                if "totals" in data.files:
                    self.totals = [float(J) for J in data["totals"]]
                return Checkpoint(int(data["i"]), data["image"], state, average)
        except FileNotFoundError:
            message = f"--resume {self.path}: there is no {CHECKPOINT} to continue from"
            if saved_nothing(self.path):
                message += " (the run stopped before its first iteration: run it again)"
            raise InputError(message) from None
        except (OSError, ValueError, KeyError) as e:
            raise InputError(f"--resume {self.path}: {CHECKPOINT} cannot be read ({e})") from None

    def finish(self, status: str, message: str = "") -> None:
        """Record how the run ended ('finished', 'interrupted', 'failed'); write the manifest."""
        self.manifest["status"] = status
        if message:
            self.manifest["message"] = message
        self.manifest["timings"]["run_seconds"] = round(self.elapsed(), 3)
        self.write_manifest()


@contextlib.contextmanager
def lock_folder(path: Path, option: str) -> Iterator[None]:
    """Hold the lock of the run folder `path` (which must exist) while the block runs.

    Raises InputError at once, naming `option` (--output-dir, --resume) and the
    holder's pid, when another run holds it. The lock is flock() on the file
    LOCK in the folder, which holds the pid and is deleted on release; a run
    that crashes loses its lock with its process. Without fcntl (Windows) the
    exclusive creation of LOCK is the lock, so a crashed run's file must be
    deleted by hand, as the message then says.
    """
    file = path / LOCK
    try:
        fd = _lock(file)
    except OSError as e:
        raise InputError(f"{option} {path} cannot be written: {e.strerror}") from None
    if fd is None:
        raise InputError(_in_use(path, file, option))
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # the folder may be gone
            file.unlink()  # before letting go, so no one locks a deleted file
        os.close(fd)


def _lock(file: Path) -> int | None:
    """A descriptor of `file` holding its lock, with this process's pid written in it;
    None when another process holds the lock."""
    fd = _flock(file) if fcntl else _create_exclusively(file)
    if fd is not None:
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except BaseException:
            os.close(fd)
            raise
    return fd


def _flock(file: Path) -> int | None:
    """`file` opened (created if need be) and flock()ed, or None when it is locked already."""
    while True:
        fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            try:
                if os.path.samestat(os.fstat(fd), os.stat(file)):
                    return fd
            except FileNotFoundError:
                pass
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder deleted this file as it let go: lock the next one


def _create_exclusively(file: Path) -> int | None:
    """`file`, newly created, or None when it exists."""
    try:
        return os.open(file, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return None


def _in_use(path: Path, file: Path, option: str) -> str:
    """The message refusing a second run in `path`, whose lock `file` names the holder."""
    try:
        pid = file.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    holder = f"another run (pid {pid})" if pid.isdigit() else "another run"
    message = f"{option} {path} is in use by {holder}"
    if fcntl is None:
        message += f"; if that run has ended, delete {file}"
    return message


def _count(names: list[str], prefix: str) -> int:
    """How many of checkpoint.npz's arrays are named <prefix>_<k>."""
    return sum(1 for name in names if name.startswith(f"{prefix}_"))
