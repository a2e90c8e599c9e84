"""A batch's jobs, each a neural_art.py command line, made before anything runs.

The jobs come from the rows of JOBS.csv (--batch), from the grid of
--batch-content x --batch-style, or from CONTENT STYLE, and each is repeated
for every value of every --sweep. A job's command line is the batch's own
options (--batch and the like left out), then its row's cells, then its
--sweep values (a later option overrides an earlier one). Each is checked by
the command line's own parser (nst.cli.main.parse_command), whose Settings
check every value, its images are decoded and its run folder checked; the first
bad one is refused with one line that names its row (or --sweep value) and the
option.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from PIL import Image

from nst.cli.main import (
    BATCH_RUNNING,
    BATCH_SOURCES,
    SETTING_NAMES,
    OptionError,
    parse_command,
)
from nst.cli.options import OPTIONS, Option, initial_image
from nst.errors import InputError
from nst.images import located, read_rgb_alpha
from nst.job import BatchJob
from nst.run.folder import check_output_dir, planned_files
from nst.run_names import run_name
from nst.settings import INITS
from nst.text_files import read_text

JOB_OPTIONS: dict[str, Option] = {
    option.name: option
    for option in OPTIONS
    if option.name in SETTING_NAMES - {"content", "styles", "output_dir", "overwrite"}
}
"""The options a column of JOBS.csv or a --sweep may name, by name: those of a run's
settings, but its images (the content and style columns) and its folder (the batch's)."""
IMAGE_COLUMNS = ("content", "style")
STYLE_SEPARATOR = ";"
"""Separates the style images in a style cell."""
YES, NO = ("yes", "true", "1", "on"), ("no", "false", "0", "off")
"""A flag's values in a cell or a --sweep (any case); an empty cell leaves it out."""
OWN_OPTIONS = frozenset({*BATCH_SOURCES, *BATCH_RUNNING, "output_dir"})
"""The options of the batch itself, which its jobs do not get."""


@dataclass(frozen=True)
class Job:
    """One run of a batch. index: its place in the batch, from 1; name: its run folder in
    the batch folder, <index>-<content>-<style>; source: where it comes from, as messages
    name it ("jobs.csv, row 3"); argv: its neural_art.py arguments but --output-dir;
    sweep: the (option, value) it takes from each --sweep."""

    index: int
    name: str
    source: str
    argv: tuple[str, ...]
    sweep: tuple[tuple[str, str], ...] = ()

    def arguments(self, batch_folder: Path) -> list[str]:
        """The job's command line: argv, into its run folder in `batch_folder`."""
        return [*self.argv, "--output-dir", str(batch_folder / self.name)]


class _SweepValue(NamedTuple):
    """One value of a --sweep: the option's name as given, the value, and its arguments."""

    name: str
    text: str
    arguments: list[str]


@dataclass(frozen=True)
class _Base:
    """A job before --sweep: where it comes from, its images (absolute paths, the content
    first) and the options its row gives."""

    source: str
    images: list[str]
    options: list[str]


def make_jobs(batch: BatchJob, batch_folder: Path) -> list[Job]:
    """The jobs of a batch, each checked, with its run folder in
    `batch_folder`; InputError names the first bad one and what is wrong with it."""
    images, shared = _command_line(batch.argv)
    if batch.batch is not None:
        bases = list(_rows(batch.batch))
    elif batch.batch_content is not None:
        bases = _grid(batch.batch_content, batch.batch_style)
    else:
        bases = [_Base("CONTENT STYLE", images, [])]
    sweeps = [_sweep(name, values) for name, values in batch.sweep]
    plans = [(base, values) for base in bases for values in itertools.product(*sweeps)]
    digits = len(str(len(plans)))
    jobs, decoded = [], {}
    for index, (base, values) in enumerate(plans, 1):
        content, *styles = map(Path, base.images)
        job = Job(
            index,
            f"{index:0{digits}d}-{run_name(content, styles)}",
            ", ".join([base.source, *(f"--sweep {v.name}={v.text}" for v in values)]),
            (*base.images, *shared, *base.options, *(a for v in values for a in v.arguments)),
            tuple((v.name, v.text) for v in values),
        )
        _check(job, batch_folder, decoded)
        jobs.append(job)
    return jobs


def _sweep(name: str, values: tuple[str, ...]) -> list[_SweepValue]:
    """The values of --sweep NAME=V1,V2,..."""
    option = _job_option(name, f"--sweep {name}")
    where = f"--sweep {name}={','.join(values)}"
    return [_SweepValue(name, value, _arguments(option, value, Path.cwd(), where))
            for value in values]  # fmt: skip


def _job_option(name: str, where: str) -> Option:
    """The option a column or a --sweep names ("learning-rate", "learning_rate" or
    "--learning-rate"); InputError when a job cannot take it."""
    option = JOB_OPTIONS.get(name.strip().lstrip("-").replace("-", "_").lower())
    if option is None:
        raise InputError(
            f"{where}: {name.strip()!r} is not an option of a job; a job takes those of a "
            "run's settings (see --help) but --output-dir and --overwrite"
        )
    return option


def _arguments(option: Option, text: str, base: Path, where: str) -> list[str]:
    """The arguments that give `option` the value `text` (a cell, or a --sweep value; a
    relative path is from `base`); none for an empty text."""
    text = text.strip()
    if not text:
        return []
    if option.kind in ("flag", "switch"):
        if text.lower() not in YES + NO:
            raise InputError(f"{where}: {option.flag} is yes or no, not {text!r}")
        if text.lower() in YES:
            return [option.flag]
        return [f"--no-{option.flag[2:]}"] if option.kind == "switch" else []
    return [option.flag, _located(option, text, base)]


def _located(option: Option, text: str, base: Path) -> str:
    """`text`, a value of `option`, with a file's relative path made absolute from `base`
    (the jobs run in other folders, on other machines). An --init that names no file there
    stays as it is, for Settings to refuse as written."""
    if option.parse is initial_image:
        is_file = text not in INITS and (base / text).is_file()
    else:
        is_file = option.parse is Path
    return str(base / text) if is_file else text


def _command_line(argv: list[str]) -> tuple[list[str], list[str]]:
    """A batch's command line (checked by its parser) as its CONTENT STYLE arguments and the
    options its jobs share: the batch's own options left out, paths made absolute."""
    flags = {option.flag: option for option in OPTIONS if option.flag.startswith("--")}
    flags.update({f"--no-{o.flag[2:]}": o for o in OPTIONS if o.kind == "switch"})
    images, shared = [], []
    tokens = iter(argv)
    for token in tokens:
        flag, equals, value = token.partition("=")
        option = flags.get(flag)
        if option is None:  # CONTENT or STYLE
            images.append(str(located(Path(token)).absolute()))
            continue
        takes_value = option.kind in ("value", "list")
        if takes_value and not equals:
            value = next(tokens)
        if option.name not in OWN_OPTIONS:
            shared += [flag, _located(option, value, Path.cwd())] if takes_value else [token]
    return images, shared


def _rows(path: Path) -> Iterator[_Base]:
    """The jobs of JOBS.csv: a header row naming the columns (content, style, and options),
    then a job a row; relative paths in cells are from the file's folder."""
    # utf-8-sig: a spreadsheet's byte-order mark aside (save it as CSV UTF-8)
    text = read_text(path, f"--batch {path}", encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header, folder, found = None, path.absolute().parent, False
    try:
        for row in reader:
            where = f"{path}, row {reader.line_num}"
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = _header(row, where)
                continue
            if len(row) > len(header):
                raise InputError(f"{where}: {len(row)} cells, and row 1 names {len(header)}")
            found = True
            yield _row(dict(zip(header, row, strict=False)), folder, where)
    except csv.Error as e:
        raise InputError(f"{path}, row {reader.line_num}: {e}") from None
    if not found:
        raise InputError(f"--batch {path} holds no jobs: a header row, then a job a row")


def _header(row: list[str], where: str) -> list[str | Option]:
    """The columns of JOBS.csv's header row: 'content', 'style', or an option."""
    columns = [cell.strip().lower() if cell.strip().lower() in IMAGE_COLUMNS
               else _job_option(cell, where) for cell in row]  # fmt: skip
    missing = [name for name in IMAGE_COLUMNS if name not in columns]
    if missing:
        raise InputError(f"{where}: no {' and no '.join(missing)} column")
    repeated = {str(getattr(c, "flag", c)) for c in columns if columns.count(c) > 1}
    if repeated:
        raise InputError(f"{where}: column {', '.join(sorted(repeated))} given twice")
    return columns


def _row(cells: dict, folder: Path, where: str) -> _Base:
    """One row of JOBS.csv as a job before --sweep."""
    content = cells.get("content", "").strip()
    styles = [s.strip() for s in cells.get("style", "").split(STYLE_SEPARATOR) if s.strip()]
    if not content or not styles:
        raise InputError(f"{where}: no {'content' if not content else 'style'} image")
    options = [argument for column, text in cells.items() if column not in IMAGE_COLUMNS
               for argument in _arguments(column, text, folder, where)]  # fmt: skip
    return _Base(where, [str(folder / name) for name in [content, *styles]], options)


def _grid(contents: Path, styles: Path) -> list[_Base]:
    """The jobs of --batch-content x --batch-style: each content with each style."""
    return [
        _Base(f"content {content.name} with style {style.name}", [str(content), str(style)], [])
        for content in _images(contents, "--batch-content")
        for style in _images(styles, "--batch-style")
    ]


def _images(path: Path, option: str) -> list[Path]:
    """The image files `path` names (absolute): itself, or those in the folder that Pillow
    opens by their extension, by name, hidden files aside."""
    if path.is_file():
        return [path.absolute()]
    if not path.is_dir():
        raise InputError(f"{option} {path}: no such file or folder")
    readable = {ext for ext, kind in Image.registered_extensions().items() if kind in Image.OPEN}
    found = sorted(p.absolute() for p in path.iterdir() if p.is_file()
                   and not p.name.startswith(".") and p.suffix.lower() in readable)  # fmt: skip
    if not found:
        raise InputError(f"{option} {path} holds no image files")
    return found


def _check(job: Job, batch_folder: Path, decoded: dict[Path, bool]) -> None:
    """Refuse a bad job before anything runs: its options (by the command line's parser),
    its images (each decoded once in a batch; `decoded` notes whether each has an alpha
    channel) and its run folder; the message starts with the job's source."""
    try:
        settings = parse_command(job.arguments(batch_folder)).settings
        images = [settings.content, *settings.styles, settings.init_file]
        for path in filter(None, images):
            if path not in decoded:
                decoded[path] = read_rgb_alpha(path)[1] is not None
        check_output_dir(settings, planned_files(settings, transparent=decoded[settings.content]))
    except (OptionError, InputError) as e:
        raise InputError(f"{job.source}: {e}") from None
