"""Jupyter notebooks and Python scripts as code cells with their stored outputs.

A notebook is nbformat 4 JSON: its code cells run in order, and their stored
outputs are what the notebook's author saw. A script is split into cells at
the lines `jupyter nbconvert --to script` writes (`# In[3]:`) or at `# %%`
lines; a script without them is one cell, and has no stored outputs.

The text of a cell's output, compared between the stored and the new run, is
what it printed to stdout and the text of its results (Out[n] and `display`),
in order; the addresses in reprs such as `<matplotlib.image.AxesImage at
0x7f3c...>` are not compared. Errors, stderr and pictures are kept in the
executed copy but not compared.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

from nst.errors import InputError
from nst.files import atomic_path
from nst.text_files import read_text

SCRIPT_CELL_MARK = re.compile(r"^# (In\[[ 0-9]*\]:|%%)")
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")
EXECUTED_MARK = "neural_art"
"""The metadata key an executed copy carries, so a later run may replace it."""


class NotebookError(InputError):
    """A notebook or script that cannot be read, or an executed copy that cannot be written."""


@dataclass(frozen=True)
class Cell:
    """A code cell: its position among all cells, its number among the code cells (1, 2,
    ...: Jupyter's In [n]), its source, and its stored output text (None: none stored)."""

    position: int
    number: int
    source: str
    stored: str | None


@dataclass(frozen=True)
class Notebook:
    """A notebook or script: its path, code cells, and nbformat document."""

    path: Path
    cells: list[Cell]
    document: dict

    def default_executed_path(self) -> Path:
        """<name>.executed.ipynb beside the input."""
        return self.path.with_name(f"{self.path.stem}.executed.ipynb")


def read_notebook(path: Path) -> Notebook:
    """The notebook (.ipynb) or script (any other name) at `path`; NotebookError if it cannot
    be read or is not nbformat 4."""
    text = read_text(path, f"notebook {path}", NotebookError)
    if path.suffix != ".ipynb":
        return _script(path, text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise NotebookError(f"notebook {path} is not JSON ({e})") from None
    if not isinstance(document, dict) or document.get("nbformat") != 4:
        found = document.get("nbformat") if isinstance(document, dict) else None
        raise NotebookError(
            f"notebook {path} is not in Jupyter's format 4 (nbformat is {found!r}); "
            "open and save it in a current Jupyter first"
        )
    cells, number = [], 0
    for position, cell in enumerate(document.get("cells", [])):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        number += 1
        outputs = cell.get("outputs") or []
        cells.append(Cell(position, number, _text(cell.get("source", "")), output_text(outputs)))
    return Notebook(path, cells, document)


def _script(path: Path, text: str) -> Notebook:
    """A script split at its cell marks, as a notebook of those cells without outputs."""
    chunks, current = [], []
    for line in text.splitlines(keepends=True):
        if SCRIPT_CELL_MARK.match(line):
            chunks.append("".join(current))
            current = []
        else:
            current.append(line)
    chunks.append("".join(current))
    sources = [c for c in chunks if c.strip()] or [""]
    document = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "code", "metadata": {}, "source": s, "outputs": [],
             "execution_count": None}
            for s in sources
        ],
    }  # fmt: skip
    cells = [Cell(k, k + 1, s, None) for k, s in enumerate(sources)]
    return Notebook(path, cells, document)


def _text(value) -> str:
    """nbformat's multiline string: a string or a list of strings."""
    return "".join(value) if isinstance(value, list) else str(value)


def output_text(outputs: list) -> str | None:
    """The comparable text of a cell's outputs (see the module's doc); None if there is none."""
    parts = []
    for output in outputs:
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        if kind == "stream" and output.get("name") == "stdout":
            parts.append(_text(output.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            plain = (output.get("data") or {}).get("text/plain")
            if plain is not None and "image/png" not in (output.get("data") or {}):
                parts.append(_text(plain).rstrip("\n") + "\n")
    text = ADDRESS.sub(" at 0x...>", "".join(parts))
    return text if text else None


def check_executed_path(notebook: Notebook, out: Path, overwrite: bool) -> None:
    """Refuse `out` when it is the input, or holds a file that is not an executed copy that
    this program wrote (unless `overwrite`): nothing the user made is replaced."""
    if out.resolve() == notebook.path.resolve():
        raise NotebookError(f"--executed {out} is the notebook itself, which is never changed")
    if out.is_dir():
        raise NotebookError(f"--executed {out} is a directory")
    if out.exists() and not overwrite and not _is_executed_copy(out):
        raise NotebookError(
            f"--executed {out} already exists and is not a copy this program wrote; "
            "choose another path, or pass --overwrite to replace it"
        )


def _is_executed_copy(path: Path) -> bool:
    try:
        return EXECUTED_MARK in json.loads(path.read_text(encoding="utf-8"))["metadata"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def write_executed(notebook: Notebook, outputs: dict[int, list[dict]], out: Path) -> None:
    """The notebook with each run cell's new outputs and execution count, written to `out`
    atomically; cells that did not run keep no outputs."""
    document = copy.deepcopy(notebook.document)
    document.setdefault("metadata", {})[EXECUTED_MARK] = {"executed_from": str(notebook.path)}
    for cell in notebook.cells:
        entry = document["cells"][cell.position]
        ran = cell.number in outputs
        entry["outputs"] = outputs.get(cell.number, [])
        entry["execution_count"] = cell.number if ran else None
    try:
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", "utf-8")
    except OSError as e:
        raise NotebookError(f"--executed {out} cannot be written: {e.strerror or e}") from None
