"""`neural_art.py --run-notebook`: a TF 1.x notebook or script runs unchanged, as Jupyter
would, in the course's folder with the course's own nst_utils.py, and prints what TF 1.x
and NumPy 1.13 printed (tests/course_files.py writes the folder and the notebook)."""

from __future__ import annotations

import io
import json
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from cli_runs import run_cli
from course_files import CELLS, CONTENT_COST, CONTENT_TEST, IMPORTS, course_folder, notebook_json

import nst_utils


def run_captured(*argv) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of the command line run in this process."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        status = run_cli(*argv)
    return status, stdout.getvalue(), stderr.getvalue()


def write_notebook(folder: Path, cells, name: str = "notebook.ipynb") -> Path:
    path = folder / name
    path.write_text(json.dumps(notebook_json(cells)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def course_run(tmp_path_factory):
    """The course's folder after one run of its notebook: (notebook, its bytes before the
    run, exit status, stdout, stderr)."""
    notebook = course_folder(tmp_path_factory.mktemp("course"))
    before = notebook.read_bytes()
    return notebook, before, *run_captured("--run-notebook", notebook)


def test_the_course_notebook_runs_without_an_edit(course_run):
    notebook, _, status, out, err = course_run
    assert status == 0, err
    assert "Traceback" not in err


def test_every_stored_output_is_printed_again_character_for_character(course_run):
    _, _, _, out, _ = course_run
    stored = sum(1 for _, output in CELLS if output)
    assert f"Stored outputs: {stored} of {stored} cells print the same text" in out
    for number, (_, output) in enumerate(CELLS, start=1):
        if output:
            assert f"  In [{number}]: identical" in out


def test_each_cells_output_is_shown_as_it_runs(course_run):
    _, _, _, out, _ = course_run
    shown = out.split("The executed notebook is")[0]
    assert shown.index("In [3]:\nJ_content = 6.76559\n") < shown.index("In [6]:\nJ_style_layer")
    assert "In [8]:\n(30, 40, 3) uint8\nOut[8]: (15, 20, 3)\n" in shown


def test_the_executed_copy_holds_the_outputs_and_the_notebook_is_unchanged(course_run):
    notebook, before, _, _, _ = course_run
    assert notebook.read_bytes() == before
    executed = notebook.with_name(notebook.stem + ".executed.ipynb")
    document = json.loads(executed.read_text(encoding="utf-8"))
    code = [cell for cell in document["cells"] if cell["cell_type"] == "code"]
    assert [cell["execution_count"] for cell in code] == list(range(1, len(CELLS) + 1))
    assert code[2]["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "J_content = 6.76559\n"}
    ]
    pictures = [o for o in code[7]["outputs"] if "image/png" in o.get("data", {})]
    assert len(pictures) == 1  # imshow's figure, kept as Jupyter's inline backend keeps it


def test_the_course_nst_utils_wrote_its_images_with_scipy_misc_imsave(course_run):
    notebook = course_run[0]
    written = sorted(p.name for p in (notebook.parent / "output").iterdir())
    assert written == ["0.png", "2.png", "generated_image.jpg", "small.png"]


def test_the_program_is_as_it_was_after_the_run(course_run):
    """The run's environment is undone: TensorFlow, scipy.misc, NumPy's printing, the
    working folder and the project's own nst_utils."""
    import numpy as np
    import scipy.misc
    import tensorflow

    assert sys.modules["nst_utils"] is nst_utils
    assert "Session" not in dir(tensorflow)  # TensorFlow 2's namespace again
    assert not hasattr(scipy.misc, "imread")
    assert np.get_printoptions()["legacy"] is False
    assert Path.cwd() != course_run[0].parent


def test_a_script_runs_too_with_cells_at_its_marks(tmp_path):
    script = tmp_path / "art.py"
    script.write_text(
        IMPORTS.replace("%matplotlib inline", "")
        + "\n\n# In[2]:\n\n"
        + CONTENT_COST
        + "\n\n# In[3]:\n\n"
        + CONTENT_TEST
        + "\n",
        encoding="utf-8",
    )
    (tmp_path / "nst_utils.py").write_text("CONFIG = None\n", encoding="utf-8")
    status, out, err = run_captured("--run-notebook", script)
    assert status == 0, err
    assert "In [3]:\nJ_content = 6.76559\n" in out
    assert "No cell has a stored output to compare with." in out
    assert (tmp_path / "art.executed.ipynb").is_file()


def test_a_cell_that_raises_stops_the_run_with_its_number(tmp_path):
    cells = [("x = 1", None), ("print(x)\nprint(undefined_name)", "1\n"), ("print(2)", "2\n")]
    status, out, err = run_captured("--run-notebook", write_notebook(tmp_path, cells))
    assert status == 1
    assert "The cell In [2] raised NameError; the run stops here." in err
    assert 'File "<In [2]>", line 2, in <module>' in err and "print(undefined_name)" in err
    assert "\nIn [3]:\n" not in out and "  In [3]: not run" in out
    executed = json.loads((tmp_path / "notebook.executed.ipynb").read_text(encoding="utf-8"))
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert code[1]["outputs"][-1]["ename"] == "NameError"
    assert code[2]["outputs"] == [] and code[2]["execution_count"] is None


def test_a_python_2_cell_is_a_syntax_error_of_that_cell(tmp_path):
    cells = [('print "hello"', "hello\n")]
    status, out, err = run_captured("--run-notebook", write_notebook(tmp_path, cells))
    assert status == 1
    assert "The cell In [1] raised SyntaxError" in err and "Did you mean print(...)?" in err


def test_magics_are_skipped_and_shell_lines_not_run(tmp_path):
    marker = tmp_path / "ran"
    cells = [(f"%matplotlib inline\n!touch {marker}\nif True:\n    %time\n    print(3)", "3\n")]
    status, out, err = run_captured("--run-notebook", write_notebook(tmp_path, cells))
    assert status == 0, err
    assert f"In [1]: not run (a shell command): !touch {marker}" in err
    assert not marker.exists()
    assert "  In [1]: identical" in out


def test_results_and_display_are_outputs_and_a_semicolon_hides_the_result(tmp_path):
    cells = [("display(1, 'a')\n2 + 2", ("1\n'a'\n", "4")), ("3 + 3;", None)]
    status, out, err = run_captured("--run-notebook", write_notebook(tmp_path, cells))
    assert status == 0, err
    assert "Out[1]: 4\n" in out and "Out[2]" not in out
    assert "  In [1]: identical" in out


def test_an_object_without_a_repr_of_its_own_is_shown_as_ipython_shows_it(tmp_path):
    cells = [("class Thing:\n    pass\n\nThing()", ("", "<__main__.Thing at 0x7f9f36829be0>"))]
    status, out, err = run_captured("--run-notebook", write_notebook(tmp_path, cells))
    assert status == 0, err
    assert "Out[1]: <__main__.Thing at 0x" in out and "  In [1]: identical" in out


def test_a_differing_output_is_shown_side_by_side(tmp_path):
    cells = [("print('a')\nprint('b')", "a\nc\n")]
    status, out, _ = run_captured("--run-notebook", write_notebook(tmp_path, cells))
    assert status == 0
    assert "  In [1]: differs\n    stored   now\n    a        a\n    c      | b\n" in out


def test_the_executed_copy_replaces_only_its_own_earlier_copy(tmp_path):
    notebook = write_notebook(tmp_path, [("print(1)", "1\n")])
    assert run_captured("--run-notebook", notebook)[0] == 0
    assert run_captured("--run-notebook", notebook)[0] == 0  # its own copy: replaced
    mine = tmp_path / "mine.ipynb"
    mine.write_text("{}", encoding="utf-8")
    status, _, err = run_captured("--run-notebook", notebook, "--executed", mine)
    assert status == 2 and err.count("\n") == 1
    assert f"--executed {mine} already exists and is not a copy this program wrote" in err
    assert mine.read_text(encoding="utf-8") == "{}"
    assert run_captured("--run-notebook", notebook, "--executed", mine, "--overwrite")[0] == 0
    assert json.loads(mine.read_text(encoding="utf-8"))["cells"][1]["outputs"]


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (None, "does not exist"),
        ("{not json", "is not JSON"),
        ('{"nbformat": 3, "worksheets": []}', "is not in Jupyter's format 4 (nbformat is 3)"),
        (b"\xff\xfe\x00", "is not UTF-8 text"),
    ],
)
def test_a_notebook_that_cannot_be_read_is_one_line_and_status_2(tmp_path, content, phrase):
    path = tmp_path / "bad.ipynb"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    status, out, err = run_captured("--run-notebook", path)
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"notebook {path} {phrase}" in err
    assert not (tmp_path / "bad.executed.ipynb").exists()


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["--executed", "x.ipynb"], "--executed names the executed copy of --run-notebook"),
        (["--run-notebook", "n.ipynb", "cat.jpg"], "not CONTENT"),
        (["--run-notebook", "n.ipynb", "--iterations", "3"], "not --iterations"),
    ],
)
def test_options_that_do_not_go_with_it_are_refused(argv, phrase):
    status, _, err = run_captured(*argv)
    assert status == 2 and phrase in err and err.count("\n") == 1


def test_the_executed_copy_may_not_be_the_notebook(tmp_path):
    notebook = write_notebook(tmp_path, [("print(1)", None)])
    status, _, err = run_captured("--run-notebook", notebook, "--executed", notebook)
    assert status == 2 and "is the notebook itself, which is never changed" in err
    assert os.path.getsize(notebook) > 0
