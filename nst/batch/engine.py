"""A batch on Ray: its jobs run as Ray tasks, a few at a time, on Ray started on this
machine (`ray.init()`) or on the cluster at --ray-address (nst/ray_cluster.py).

Before anything runs, the jobs are made and checked (nst/batch/jobs.py) and each weights
file they use is read once, in this process; the kernels go into Ray's object store once
and every job gets them from there. The cores are shared: with N jobs running at once,
each job's TensorFlow ops get cores / N threads (--threads, unless a job gives its own),
and Ray places each job where that many cores are free. A job whose worker process dies
(killed, out of memory, its node lost) is run again, from its checkpoint, up to
--retries times, and then reported as failed; the other jobs go on. Ctrl-C (or SIGTERM)
stops the running jobs after their current iteration, each keeping its image and
checkpoint, and `--resume DIR` continues the batch: finished jobs are skipped, the others
continue from their checkpoints.
"""

from __future__ import annotations

import contextlib
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from nst.batch.jobs import Job, make_jobs
from nst.batch.report import LOGS, BatchRecord, is_finished, write_contact_sheet
from nst.batch.task import StopFlag, run_job
from nst.cli.main import parse_command
from nst.errors import InputError
from nst.job import BATCH_FILE, BatchJob
from nst.networks import NETWORKS
from nst.progress import JobsLine, plural
from nst.project import program_command
from nst.ray_cluster import Cluster, check_ray_address, ray_cluster
from nst.run.folder import (
    CHECKPOINT,
    RunFolder,
    check_output_dir,
    lock_folder,
    prepare_output_dir,
    remove_earlier_run,
)
from nst.settings import Settings
from nst.stopping import StopRequests, Terminated, stop_signals
from nst.weights.loading import Weights, load_weights

WAIT_SECONDS = 0.2
"""How often, in seconds, the batch looks at its jobs: the progress is brought up to date
and a Ctrl-C is acted on (Python handles signals between the waits)."""


def run_batch(batch: BatchJob) -> int:
    """Run a batch job; the exit status: 0 when every job finished, 1 when some failed,
    130 (Ctrl-C) or 143 (SIGTERM) when stopped. Bad input (a bad row, a --ray-address
    where no cluster admits this machine, a folder in use, unreadable weights) is raised
    as InputError before any job runs."""
    resumed = batch.resume is not None
    if resumed:
        folder = batch.resume.absolute()
        record = BatchRecord.open(folder)
        jobs = record.jobs()
    else:
        folder = batch.settings.output_dir.absolute()
        _check_new_folder(folder, batch.settings)
        jobs = make_jobs(batch, folder)
    ray_address = check_ray_address(batch.ray_address)  # before anything is written
    with contextlib.ExitStack() as lock:
        locked = folder.is_dir()  # a second batch there is refused at once
        if locked:
            lock.enter_context(lock_folder(folder, "--resume" if resumed else "--output-dir"))
        todo = [job for job in jobs if not (resumed and is_finished(folder / job.name))]
        weights, settings = _read_weights(todo, folder, batch.weights_url, resumed)
        # Ray before the folder is written: a cluster that refuses this machine leaves none
        ray_or_none = ray_cluster(ray_address) if todo else contextlib.nullcontext((None, None))
        with ray_or_none as (ray, cluster):
            if not resumed:
                prepare_output_dir(batch.settings.replace(output_dir=folder), [])
                if not locked:
                    lock.enter_context(lock_folder(folder, "--output-dir"))
                (folder / LOGS).mkdir(exist_ok=True)
                if batch.settings.overwrite:  # now, so that no job continues an earlier run
                    for job in jobs:
                        remove_earlier_run(folder / job.name)
                record = BatchRecord.create(folder, batch.argv, jobs)
            for job in jobs:
                if job not in todo:
                    record.entry(job)["status"] = "finished"
            record.data.update(status="running", ended=None)
            record.write()
            if todo:
                stopped = _run(batch, ray, cluster, record, todo, weights, settings)
                if stopped is not None:
                    return stopped
        return _report(record)


def _check_new_folder(folder: Path, settings: Settings) -> None:
    """Refuse a new batch's folder that holds a batch already (unless --overwrite), is a
    file, or cannot be made or written (nothing is written yet)."""
    if (folder / BATCH_FILE).exists() and not settings.overwrite:
        raise InputError(
            f"--output-dir {folder} holds a batch already: continue it with --resume "
            f"{folder}, or choose another --output-dir (--overwrite replaces its runs)"
        )
    check_output_dir(settings.replace(output_dir=folder), [])


def _job_settings(job: Job, folder: Path, resumed: bool) -> Settings:
    """The settings a job runs with: those its run folder recorded, when it continues a
    run there, else its command line's."""
    run_folder = folder / job.name
    if resumed and (run_folder / CHECKPOINT).is_file():
        return RunFolder.open(run_folder).settings()
    return parse_command(job.arguments(folder)).settings


def _read_weights(
    jobs: list[Job], folder: Path, url: str | None, resumed: bool
) -> tuple[dict[tuple, Weights], dict[int, Settings]]:
    """The weights the jobs use, each file read once, by (network, --weights); and each
    job's settings, by its index."""
    settings = {job.index: _job_settings(job, folder, resumed) for job in jobs}
    weights = {}
    for s in settings.values():
        if (s.network, s.weights) not in weights:
            network = NETWORKS[s.network]
            weights[s.network, s.weights] = load_weights(s.weights, url, network)
    return weights, settings


def _run(
    batch: BatchJob,
    ray: ModuleType,
    cluster: Cluster,
    record: BatchRecord,
    todo: list[Job],
    weights: dict[tuple, Weights],
    settings: dict[int, Settings],
) -> int | None:
    """Run the jobs `todo` on `cluster` through the `ray` module, keeping `record` up to
    date; None when they have run, the exit status when the batch was stopped."""
    folder = record.folder
    workers, threads = cluster.shares(batch.workers)
    print(
        f"Batch of {len(record.data['jobs'])} jobs in {folder} ({len(todo)} to run) on "
        f"{cluster.where} ({plural(cluster.nodes, 'node')}, {plural(cluster.cores, 'core')}"
        f"): {workers} at a time, {plural(threads, 'thread')} each",
        flush=True,
    )
    stored = {key: ray.put(w) for key, w in weights.items()}  # once, for every job
    runner = _Runner(ray, record, cluster, workers, batch.retries)
    for job in todo:
        s = settings[job.index]
        arguments = job.arguments(folder)
        if s.threads is None:
            arguments += ["--threads", str(threads)]
        runner.add(job, arguments, stored[s.network, s.weights], s.threads or threads)
    with stop_signals(StopRequests()):  # a signal raises at once, here
        try:
            with runner.progress():
                runner.run()
        except (KeyboardInterrupt, Terminated) as e:
            runner.stop()
            record.finish("interrupted")
            print(
                f"\nneural_art.py: the batch was interrupted with "
                f"{record.count('finished')} of {len(record.data['jobs'])} jobs finished; "
                f"continue it with: {program_command('--resume', folder)}",
                file=sys.stderr,
            )
            return 143 if isinstance(e, Terminated) else 130
    return None


class _Runner:
    """A batch's jobs in flight on Ray: at most `workers` at once, each given the cores its
    TensorFlow threads use (and a GPU when the cluster has some: TensorFlow takes all of
    a GPU's memory); a job whose worker died is run again up to `retries` times.

    Each job runs in a worker process of its own (Ray's max_calls=1), as a single run
    does: TensorFlow keeps the thread pool of a process's first session, so a reused
    worker would compute a job with an earlier job's --threads, and other numbers."""

    def __init__(self, ray, record: BatchRecord, cluster: Cluster, workers: int, retries: int):
        self.ray, self.record, self.cluster = ray, record, cluster
        self.workers, self.retries = workers, retries
        self.task = ray.remote(max_retries=0, max_calls=1)(run_job)
        self.stop_flag = ray.remote(num_cpus=0)(StopFlag).remote()
        self.queue: deque[tuple[Job, list[str], object, int]] = deque()
        self.running: dict[object, tuple[Job, list[str], object, int]] = {}
        self.tries: dict[int, int] = {}
        self.bar: JobsLine | None = None

    def add(self, job: Job, arguments: list[str], weights, threads: int) -> None:
        """Queue `job` with its command line, its weights (in the object store) and its
        TensorFlow threads."""
        self.queue.append((job, arguments, weights, threads))

    @contextlib.contextmanager
    def progress(self) -> Iterator[None]:
        """Show the batch's progress while the block runs."""
        done = self.record.count("finished") + self.record.count("failed")
        with JobsLine(len(self.record.data["jobs"]), done) as self.bar:
            self._show()
            yield
        self.bar = None

    def run(self) -> None:
        """Run the queued jobs to their end."""
        while self.queue or self.running:
            while self.queue and len(self.running) < self.workers:
                self._submit(*self.queue.popleft())
            ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=WAIT_SECONDS)
            for ref in ready:
                self._collect(ref, retry=True)

    def stop(self) -> None:
        """Stop the running jobs: each stops after its current iteration, keeping its image
        and checkpoint; a second Ctrl-C stops waiting for them (they keep their latest
        checkpoint)."""
        self.stop_flag.set.remote()
        try:
            while self.running:
                ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=WAIT_SECONDS)
                for ref in ready:
                    self._collect(ref, retry=False)
        except (KeyboardInterrupt, Terminated):
            pass
        for job, *_ in self.running.values():
            self.record.note(job, status="interrupted")

    def _submit(self, job: Job, arguments: list[str], weights, threads: int) -> None:
        entry = self.record.entry(job)
        again = entry["attempts"] > 0  # it ran before: it continues from its checkpoint
        self.tries[job.index] = self.tries.get(job.index, 0) + 1
        log = self.record.folder / entry["log"]
        options = {
            "num_cpus": min(threads, self.cluster.largest_node_cores),
            "num_gpus": 1 if self.cluster.gpus else 0,
        }
        ref = self.task.options(**options).remote(
            arguments, str(self.record.folder / job.name), weights, str(log), again, self.stop_flag
        )
        self.running[ref] = (job, arguments, weights, threads)
        self.record.note(job, status="running", attempts=entry["attempts"] + 1, message=None)
        self._show()

    def _collect(self, ref, retry: bool) -> None:
        """Note how the job of `ref` ended; run it again when its worker died and it has
        retries left (and `retry`)."""
        job, *rest = self.running.pop(ref)
        errors = self.ray.exceptions
        try:
            outcome = self.ray.get(ref)
        except errors.RayTaskError as e:  # it could not even start (run_job catches the rest)
            outcome = {"status": "failed", "message": f"{type(e.cause).__name__}: {e.cause}"}
        except errors.RayError as e:  # its worker process (or node) died
            if retry and self.tries[job.index] <= self.retries:
                self.queue.appendleft((job, *rest))
                self.record.note(job, status="pending", message="its worker died; it runs again")
                self._show()
                return
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            tries = self.tries[job.index]
            outcome = {
                "status": "failed",
                "message": f"its worker died, in {plural(tries, 'attempt')}: {first}",
            }
        if outcome is None:  # the batch stopped before it began: not an attempt
            attempts = self.record.entry(job)["attempts"] - 1
            outcome = {"status": "interrupted" if attempts else "pending", "attempts": attempts}
        if outcome.get("result"):
            outcome["result"] = str(Path(outcome["result"]).relative_to(self.record.folder))
        self.record.note(job, **outcome)
        self._show()

    def _show(self) -> None:
        if self.bar is not None:
            failed = self.record.count("failed")
            done = self.record.count("finished") + failed
            self.bar.show(done, len(self.running), failed)


def _report(record: BatchRecord) -> int:
    """The end of a batch: its contact sheet, batch.json, a line for each failed job (on
    stderr) and a summary; the exit status, 1 when a job failed, else 0."""
    folder = record.folder
    sheet = write_contact_sheet(record)
    failed = [entry for entry in record.data["jobs"] if entry["status"] == "failed"]
    record.finish("failed" if failed else "finished")
    for entry in failed:
        print(
            f"neural_art.py: job {entry['name']} ({entry['source']}) failed: "
            f"{entry['message']}; its log: {folder / entry['log']}",
            file=sys.stderr,
        )
    total = len(record.data["jobs"])
    print(
        f"Done: {record.count('finished')} of {total} jobs finished"
        f"{f', {len(failed)} failed' if failed else ''}; {folder / BATCH_FILE}"
        f"{f', {sheet}' if sheet else ''}",
        flush=True,
    )
    return 1 if failed else 0
