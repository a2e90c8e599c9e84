"""What a batch leaves in its folder besides the jobs' run folders: batch.json, rewritten
at every change so that a stopped batch can be continued, and at the end a contact sheet
of every finished job's result."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from nst.batch.jobs import Job
from nst.errors import InputError
from nst.files import atomic_path
from nst.images import read_rgb
from nst.job import BATCH_FILE
from nst.run.folder import CONTACT_SHEET, MANIFEST
from nst.run.visuals import contact_sheet

LOGS = "logs"
"""The folder of the jobs' logs (what each job printed), in the batch folder."""
TILE = 256
"""Longest side in pixels of a result on the batch's contact sheet (smaller ones stay)."""


def now() -> str:
    """The time now, UTC, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def is_finished(run_folder: Path) -> bool:
    """Whether `run_folder` holds a run whose manifest.json says it finished."""
    try:
        manifest = json.loads((run_folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("status") == "finished"


class BatchRecord:
    """batch.json, kept in memory and rewritten (atomically) at each change.

    It holds the batch's command line ("command"), its status ("running",
    "finished", "failed" when a job failed, "interrupted"), when it started and
    ended, and every job: its index, run folder name, source ("jobs.csv, row 3"),
    arguments, --sweep values, status ("pending", "running", "finished",
    "failed", "interrupted"), attempts, when its last attempt started and ended
    (UTC, ISO 8601) and its seconds, the Ray node it ran on, its result
    (generated_image.jpg) and log, as paths in the batch folder, and the message
    of a failure or an interruption.
    """

    def __init__(self, folder: Path, data: dict):
        self.folder = folder
        self.data = data

    @classmethod
    def create(cls, folder: Path, argv: list[str], jobs: list[Job]) -> BatchRecord:
        """A new batch's record, every job pending."""
        data = {
            "program": "neural_art.py",
            "command": ["neural_art.py", *argv],
            "status": "running",
            "started": now(),
            "ended": None,
            "jobs": [
                {
                    "index": job.index,
                    "name": job.name,
                    "source": job.source,
                    "argv": list(job.argv),
                    "sweep": dict(job.sweep),
                    "status": "pending",
                    "attempts": 0,
                    "started": None,
                    "ended": None,
                    "seconds": None,
                    "node": None,
                    "result": None,
                    "log": f"{LOGS}/{job.name}.log",
                    "message": None,
                }
                for job in jobs
            ],
        }
        return cls(folder, data)

    @classmethod
    def open(cls, folder: Path) -> BatchRecord:
        """An earlier batch's record, for --resume; InputError when it cannot be read."""
        try:
            data = json.loads((folder / BATCH_FILE).read_text(encoding="utf-8"))
            cls(folder, data).jobs()
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InputError(f"--resume {folder}: {BATCH_FILE} cannot be read ({e})") from None
        return cls(folder, data)

    def jobs(self) -> list[Job]:
        """The batch's jobs."""
        return [
            Job(e["index"], e["name"], e["source"], tuple(e["argv"]), tuple(e["sweep"].items()))
            for e in self.data["jobs"]
        ]

    def entry(self, job: Job) -> dict:
        """The record of `job`."""
        return self.data["jobs"][job.index - 1]

    def note(self, job: Job, **fields) -> None:
        """Change fields of `job`'s record and write batch.json."""
        self.entry(job).update(fields)
        self.write()

    def count(self, status: str) -> int:
        """How many jobs have `status`."""
        return sum(entry["status"] == status for entry in self.data["jobs"])

    def write(self) -> None:
        """Rewrite batch.json from memory, atomically."""
        with atomic_path(self.folder / BATCH_FILE) as tmp:
            tmp.write_text(json.dumps(self.data, indent=2) + "\n", encoding="utf-8")

    def finish(self, status: str) -> None:
        """Record how the batch ended ("finished", "failed", "interrupted"); write batch.json."""
        self.data.update(status=status, ended=now())
        self.write()


def write_contact_sheet(record: BatchRecord) -> Path | None:
    """The batch's contact_sheet.png: every finished job's result in job order, each
    shrunk to at most TILE pixels on its longest side, labelled with its run folder's
    name and its --sweep values (nst.run.visuals.contact_sheet); its path, or None when
    no job finished."""
    finished = [e for e in record.data["jobs"] if e["status"] == "finished" and e["result"]]
    if not finished:
        return None
    frames = [(_label(entry), read_rgb(record.folder / entry["result"])) for entry in finished]
    path = record.folder / CONTACT_SHEET
    contact_sheet(path, frames, max_tile=TILE)
    return path


def _label(entry: dict) -> str:
    """'2-cat-stone', with its --sweep values: '2-cat-stone beta=100'."""
    return " ".join([entry["name"], *(f"{name}={value}" for name, value in entry["sweep"].items())])
