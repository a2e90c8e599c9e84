"""Running a TF 1.x notebook or script unchanged, as Jupyter would, and comparing its outputs.

`run_notebook(path)` runs each code cell in turn in one namespace, in the
environment of nst.tf1.environment (TF 1.x's API and random numbers, SciPy's
old image functions, NumPy 1.13's printing, the notebook's folder), and

* shows what each cell prints as it runs, and its result as Out[n] when its
  last line is an expression (not ended by ';'), as Jupyter does;
* skips IPython's magics (`%matplotlib inline`, `%%time`) and does not run
  shell lines (`!pip install ...`), saying so on stderr;
* keeps the figures a cell leaves open as pictures in the executed copy;
* stops at the first cell that raises, showing its traceback with the cell's
  number, with exit status 1;
* writes the executed copy (the input is never changed) and ends with a
  summary: for every cell with a stored output, whether the new text is
  identical, and where not, both side by side.

This is the one place where the program runs code it reads (exec): the
notebook the user asked it to run, as Jupyter or `python script.py` would.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import linecache
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from nst.job import NotebookJob
from nst.tf1.environment import tf1_environment
from nst.tf1.notebook import (
    Cell,
    Notebook,
    check_executed_path,
    output_text,
    read_notebook,
    write_executed,
)

SIDE_BY_SIDE_WIDTH = 60
"""Widest column of the summary's side-by-side comparison, in characters."""


def run_notebook_job(job: NotebookJob) -> int:
    """--run-notebook: run_notebook's exit status, or 130 after Ctrl-C, which interrupts the
    running cell as in Jupyter."""
    try:
        return run_notebook(job.path, job.executed, job.overwrite)
    except KeyboardInterrupt:
        print("\nneural_art.py: interrupted", file=sys.stderr)
        return 130


def run_notebook(path: Path, executed: Path | None = None, overwrite: bool = False) -> int:
    """Run the notebook or script at `path` (see the module's doc); the exit status:
    0 when every cell ran, 1 when one raised. NotebookError for a file it cannot run."""
    notebook = read_notebook(path)
    out = executed or notebook.default_executed_path()
    check_executed_path(notebook, out, overwrite)
    print(f"Running {path}: {len(notebook.cells)} code cells", flush=True)
    outputs: dict[int, list[dict]] = {}
    failed = False
    with tf1_environment(path.parent) as main:
        for cell in notebook.cells:
            print(f"\nIn [{cell.number}]:", flush=True)
            outputs[cell.number], failed = run_cell(cell, main.__dict__)
            if failed:
                break
    write_executed(notebook, outputs, out)
    print(f"\nThe executed notebook is {out}")
    print("\n".join(summary(notebook, outputs)), flush=True)
    return 1 if failed else 0


class Recorder:
    """A cell's outputs in nbformat, shown as they come: what it prints to stdout and stderr
    (sys.stdout, sys.stderr), its results, its figures and its error."""

    def __init__(self, number: int, stdout: TextIO, stderr: TextIO):
        self.number, self.outputs = number, []
        self.streams = {"stdout": stdout, "stderr": stderr}

    def stream(self, name: str, text: str) -> None:
        self.streams[name].write(text)
        self.streams[name].flush()
        last = self.outputs[-1] if self.outputs else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def result(self, value: Any) -> None:
        """The cell's value: Out[n]."""
        text = jupyter_repr(value)
        self.streams["stdout"].write(f"Out[{self.number}]: {text}\n")
        self.outputs.append({"output_type": "execute_result", "execution_count": self.number,
                             "data": {"text/plain": text}, "metadata": {}})  # fmt: skip

    def display(self, *values: Any) -> None:
        """IPython's display(): each value's repr, shown and kept."""
        for value in values:
            text = jupyter_repr(value)
            self.streams["stdout"].write(text + "\n")
            self.outputs.append({"output_type": "display_data",
                                 "data": {"text/plain": text}, "metadata": {}})  # fmt: skip

    def figures(self) -> None:
        """The figures the cell left open, kept as PNG pictures and closed (as Jupyter's
        inline backend does at the end of a cell)."""
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is None:
            return
        for number in pyplot.get_fignums():
            figure = pyplot.figure(number)
            png = io.BytesIO()
            figure.savefig(png, format="png", bbox_inches="tight")
            data = {"image/png": base64.b64encode(png.getvalue()).decode("ascii"),
                    "text/plain": repr(figure)}  # fmt: skip
            self.outputs.append({"output_type": "display_data", "data": data, "metadata": {}})
        pyplot.close("all")

    def error(self, error: BaseException) -> None:
        """The cell's exception, with the traceback of the cell's own frames, on stderr."""
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next  # the runner's own frames
        lines = traceback.format_exception(type(error), error, tb)
        self.streams["stderr"].write(
            f"The cell In [{self.number}] raised {type(error).__name__}; the run stops here.\n"
            + "".join(lines)
        )
        self.outputs.append({"output_type": "error", "ename": type(error).__name__,
                             "evalue": str(error),
                             "traceback": "".join(lines).splitlines()})  # fmt: skip


def jupyter_repr(value: Any) -> str:
    """repr(value), but as IPython shows an object without a repr of its own:
    `<matplotlib.image.AxesImage at 0x7f3c...>`, not `<... object at 0x7f3c...>`."""
    kind = type(value)
    if kind.__repr__ is object.__repr__:
        return f"<{kind.__module__}.{kind.__qualname__} at {hex(id(value))}>"
    return repr(value)


class _Stream(io.TextIOBase):
    """sys.stdout or sys.stderr during a cell: text goes to the recorder."""

    def __init__(self, recorder: Recorder, name: str):
        self.recorder, self.name = recorder, name

    def write(self, text: str) -> int:
        self.recorder.stream(self.name, text)
        return len(text)

    def writable(self) -> bool:
        return True


@contextlib.contextmanager
def _captured(recorder: Recorder) -> Iterator[None]:
    with (
        contextlib.redirect_stdout(_Stream(recorder, "stdout")),
        contextlib.redirect_stderr(_Stream(recorder, "stderr")),
    ):
        yield


def run_cell(cell: Cell, namespace: dict) -> tuple[list[dict], bool]:
    """Run one cell in `namespace`: its outputs, and whether it raised."""
    recorder = Recorder(cell.number, sys.stdout, sys.stderr)
    namespace["display"] = recorder.display
    source = without_magics(cell, sys.stderr)
    filename = f"<In [{cell.number}]>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    failed = False
    with _captured(recorder):
        try:
            _execute(source, filename, namespace, recorder)
        except BaseException as error:  # the cell's own, shown like Jupyter
            recorder.error(error)
            failed = True
        finally:
            recorder.figures()
    return recorder.outputs, failed


def _execute(source: str, filename: str, namespace: dict, recorder: Recorder) -> None:
    """Run the cell's statements; show the value of a last expression (unless after ';')."""
    tree = ast.parse(source, filename)
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    body = tree.body[:-1] if last is not None else tree.body
    exec(compile(ast.Module(body, type_ignores=[]), filename, "exec"), namespace)
    if last is None:
        return
    value = eval(compile(ast.Expression(last.value), filename, "eval"), namespace)
    if value is not None and not source.rstrip().endswith(";"):
        namespace["_"] = value
        recorder.result(value)


def without_magics(cell: Cell, stderr: TextIO) -> str:
    """The cell's source with each IPython magic (%...) and shell line (!...) made a `pass`
    of the same indentation, so that line numbers stay; a shell line is reported."""
    lines = []
    for line in cell.source.splitlines(keepends=True):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            indent = line[: len(line) - len(stripped)]
            if stripped.startswith("!"):
                stderr.write(f"In [{cell.number}]: not run (a shell command): {stripped}")
            lines.append(f"{indent}pass\n")
        else:
            lines.append(line)
    return "".join(lines)


def summary(notebook: Notebook, outputs: dict[int, list[dict]]) -> list[str]:
    """For each cell with a stored output: identical, differs (with both texts side by side),
    or not run."""
    stored = [cell for cell in notebook.cells if cell.stored is not None]
    if not stored:
        return ["No cell has a stored output to compare with."]
    lines, same = [], 0
    for cell in stored:
        if cell.number not in outputs:
            lines.append(f"  In [{cell.number}]: not run")
            continue
        new = output_text(outputs[cell.number]) or ""
        if new == cell.stored:
            same += 1
            lines.append(f"  In [{cell.number}]: identical")
        else:
            lines.append(f"  In [{cell.number}]: differs")
            lines += side_by_side(cell.stored, new)
    return [f"Stored outputs: {same} of {len(stored)} cells print the same text", *lines]


def side_by_side(old: str, new: str) -> list[str]:
    """The two texts in columns, 'stored' and 'now', with '|' between lines that differ."""
    left, right = old.splitlines(), new.splitlines()
    width = min(max(map(len, [*left, "stored"])), SIDE_BY_SIDE_WIDTH)
    rows = [f"    {'stored':<{width}}   now"]
    for k in range(max(len(left), len(right))):
        a = left[k] if k < len(left) else ""
        b = right[k] if k < len(right) else ""
        rows.append(f"    {a:<{width}} {'|' if a != b else ' '} {b}".rstrip())
    return rows
