"""The README's Python code runs as shown (test weights, 2 iterations, a temporary folder)."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)


def test_the_readme_api_example_runs(vgg19_mat, monkeypatch, capsys):
    api, _, _ = readme_python_blocks()
    monkeypatch.setenv("NEURAL_ART_WEIGHTS", str(vgg19_mat))
    monkeypatch.chdir(ROOT)
    api = api.replace("iterations=100,", "iterations=2, width=40, height=30,")
    assert "iterations=2," in api
    namespace: dict = {}
    exec(compile(api, "README API example", "exec"), namespace)
    printed = capsys.readouterr().out.split("\n")
    assert [line.split()[0] for line in printed if line] == ["0", "1"]
    assert namespace["final_image"].shape == (30, 40, 3)


@pytest.mark.parametrize("show_progress", [False, True])
def test_the_readme_notebook_code_runs(show_progress, vgg19_mat, tmp_path, monkeypatch, capsys):
    _, cells, training = readme_python_blocks()
    training = training.replace("pretrained-model/imagenet-vgg-verydeep-19.mat", str(vgg19_mat))
    training = training.replace(
        "model_nn(sess, generated_image, 200, graph=graph)",
        f"model_nn(sess, generated_image, 2, graph=graph, show_progress={show_progress})",
    )
    assert str(vgg19_mat) in training and ", 2," in training
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal for the status line
    monkeypatch.chdir(tmp_path)
    (tmp_path / "output").mkdir()
    (tmp_path / "images").symlink_to(ROOT / "images")
    namespace: dict = {}
    try:
        exec(compile(cells, "README cells", "exec"), namespace)
        assert "J_content = 6.7655926" in capsys.readouterr().out
        exec(compile(training, "README training", "exec"), namespace)
    finally:
        if "sess" in namespace:
            namespace["sess"].close()
    printed = capsys.readouterr()
    assert "Iteration 0 :\ntotal cost = " in printed.out
    assert ("2/2" in printed.err) == show_progress  # the status line, only when asked for
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == [
        "0.png",
        "generated_image.jpg",
    ]
