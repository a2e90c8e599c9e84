"""Every value Settings refuses, refused alike through the Python API, the command line and
a JOBS.csv row, with the same reason.

BAD is the one table: a field, a value it refuses, the same value as the command line
and a JOBS.csv cell spell it (None when no option takes it: the fields only a preset
sets, and values of a type the command line cannot produce), and the reason. The API's
message is "field: reason"; the command line's "argument --option: reason"; a row's
"<file>, row <n>: argument --option: reason". No TensorFlow runs here.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from nst.batch.jobs import make_jobs
from nst.cli.main import OptionError, parse_command
from nst.errors import InputError
from nst.run.folder import MANIFEST, RunFolder
from nst.setting_checks import SettingError
from nst.settings import FIELD_RULES, Settings, settings_to_dict

ROOT = Path(__file__).resolve().parent.parent
CONTENT, STYLE = Path("c.png"), Path("s.png")
"""The images of every case (never read: the values are refused first)."""

UNKNOWN_LAYER = (
    "; VGG-19's conv layers are conv1_1, conv1_2, conv2_1, conv2_2, conv3_1 .. conv3_4, "
    "conv4_1 .. conv4_4, conv5_1 .. conv5_4 (on the command line, Keras' block1_conv1 .. "
    "block5_conv4 too; VGG-16 lacks conv3_4, conv4_4 and conv5_4)"
)


class Bad(NamedTuple):
    """`field` = `value` is refused for `reason`, with the fields in `also` set as well, each
    (field, value, text); `text` spells the value on the command line and in a cell."""

    field: str
    value: object
    text: str | None
    reason: str
    also: tuple[tuple[str, object, str], ...] = ()


BAD = [
    Bad("content", 3, None, "must be a path, not 3"),
    Bad("styles", "s.png", None, "must be a list of paths, not 's.png'"),
    Bad("styles", ("s.png", None), None, "must be a list of paths, not (PosixPath('s.png'), None)"),
    Bad("style_blend_weights", (0.0,), "0", "at least one style image needs a positive weight"),
    Bad("style_blend_weights", (1.0, -1.0), "1,-1",
        "weight 2 must be a number >= 0 and <= 1e+12, not -1.0"),
    Bad("style_blend_weights", (math.nan,), "nan",
        "weight 1 must be a number >= 0 and <= 1e+12, not nan"),
    Bad("style_blend_weights", (1.0, 2.0), "1,2",
        "must hold one weight per style image, not 2 for 1"),
    Bad("style_blend_weights", ("1",), None, "must be a tuple of numbers, not ('1',)"),
    Bad("style_scale", 0.0, "0", "must be a number > 0 and <= 8, not 0.0"),
    Bad("style_scale", 9.0, "9", "must be a number > 0 and <= 8, not 9.0"),
    Bad("weights", b"w.mat", None, "must be a path, not b'w.mat'"),
    Bad("network", "vgg11", "vgg11", "must be vgg19 or vgg16, not 'vgg11'"),
    Bad("width", 0, "0", "must be at least 1, not 0"),
    Bad("width", 16385, "16385", "16385 pixels is more than the 16384 this program handles"),
    Bad("width", 2.5, None, "must be a whole number, not 2.5"),
    Bad("height", -3, "-3", "must be at least 1, not -3"),
    Bad("size", -3, "-3", "must be at least 1, not -3"),
    Bad("size", 20000, "20000", "20000 pixels is more than the 16384 this program handles"),
    Bad("pixels", "rgb", "rgb", "must be caffe or unit, not 'rgb'"),
    Bad("pooling", "median", "median", "must be avg or max, not 'median'"),
    Bad("content_layer", "conv9_9", "conv9_9", "unknown layer 'conv9_9'" + UNKNOWN_LAYER),
    Bad("content_layer", "conv5_4", "conv5_4",
        "VGG-16 (network vgg16) has no layer conv5_4; choose another, or use network vgg19",
        (("network", "vgg16", "vgg16"),)),
    Bad("style_layers", [("fc7", 1.0)], "fc7", "unknown layer 'fc7'" + UNKNOWN_LAYER),
    Bad("style_layers", [], ",", "no layers given"),
    Bad("style_layers", [("conv1_1", 0.5), ("conv1_1", 0.5)], "conv1_1:0.5,conv1_1:0.5",
        "layer conv1_1 is listed more than once"),
    Bad("style_layers", [("conv1_1", -1.0)], "conv1_1:-1",
        "the weight of conv1_1 must be a number >= 0 and <= 1e+12, not -1.0"),
    Bad("style_layers", [("conv1_1", 0.0)], "conv1_1:0",
        "at least one layer needs a positive weight"),
    Bad("style_layers", [("conv1_1", 0.5), ("conv3_4", 0.5)], "conv1_1:0.5,block3_conv4:0.5",
        "VGG-16 (network vgg16) has no layer conv3_4; choose another, or use network vgg19",
        (("network", "vgg16", "vgg16"),)),
    Bad("style_layers", "conv1_1", None,
        "must be a list of (layer, weight) pairs, not 'conv1_1'"),
    Bad("style_loss", "l1", "l1", "must be gram or wasserstein, not 'l1'"),
    Bad("alpha", -1.0, "-1", "must be a number >= 0 and <= 1e+12, not -1.0"),
    Bad("alpha", math.nan, "nan", "must be a number >= 0 and <= 1e+12, not nan"),
    Bad("alpha", 1e300, "1e300", "must be a number >= 0 and <= 1e+12, not 1e+300"),
    Bad("alpha", 0.0, "0", "alpha and beta are both 0, so there is nothing to optimize",
        (("beta", 0.0, "0"),)),
    Bad("alpha", "10", None, "must be a number, not '10'"),
    Bad("beta", -1.0, "-1", "must be a number >= 0 and <= 1e+12, not -1.0"),
    Bad("tv_weight", math.inf, "inf", "must be a number >= 0 and <= 1e+12, not inf"),
    Bad("optimizer", "sgd", "sgd", "must be adam or lbfgs, not 'sgd'"),
    Bad("learning_rate", 0.0, "0", "must be a number > 0 and <= 1e+06, not 0.0"),
    Bad("learning_rate", math.nan, "nan", "must be a number > 0 and <= 1e+06, not nan"),
    Bad("adam_epsilon", 0.0, None, "must be a number > 0 and <= 1, not 0.0"),
    Bad("adam_beta2", 1.0, None, "must be a number >= 0 and < 1, not 1.0"),
    Bad("adam_warm_start", 1, None, "must be True or False, not 1"),
    Bad("average", 1.0, "1", "must be a number >= 0 and <= 0.9999, not 1.0"),
    Bad("clip", "yes", None, "must be True or False, not 'yes'"),
    Bad("init", "nosie", "nosie",
        "must be one of noise, content, style, random, jitter, or an image file's path, "
        "not 'nosie'"),
    Bad("init", 5, None,
        "must be one of noise, content, style, random, jitter, or an image file's path, not 5"),
    Bad("noise_ratio", 1.5, "1.5", "must be a number >= 0 and <= 1, not 1.5"),
    Bad("seed", -1, "-1", "must be between 0 and 4294967295, not -1"),
    Bad("seed", 2**32, "4294967296", "must be between 0 and 4294967295, not 4294967296"),
    Bad("iterations", -5, "-5", "must be at least 1, not -5"),
    Bad("iterations", 1_000_001, "1000001",
        "1000001 is more than the 1,000,000 iterations a run may have"),
    Bad("coarse_levels", 9, "9", "must be between 0 and 8, not 9"),
    Bad("coarse_levels", 4, "4",
        "coarse levels x coarse iterations, 4 x 50, leave none of the 200 iterations for the "
        "full size"),
    Bad("coarse_iterations", 0, "0", "must be at least 1, not 0"),
    Bad("schedule", (0, 2), "0,2", "each size needs at least 1 iteration, not 0"),
    Bad("schedule", tuple(range(1, 11)), "1,2,3,4,5,6,7,8,9,10",
        "10 sizes are more than the 9 (8 coarse ones) allowed"),
    Bad("schedule", (600_000, 600_000), "600000,600000",
        "1,200,000 iterations are more than the 1,000,000 allowed"),
    Bad("schedule", (), None, "names no size's iterations"),
    Bad("schedule", (5, 3.5), None, "must be a tuple of whole numbers, not (5, 3.5)"),
    Bad("level_ratio", 1.0, "1", "must be a number > 1 and <= 16, not 1.0"),
    Bad("min_size", -1, None, "must be between 0 and 16384, not -1"),
    Bad("tolerance", 2.0, "2", "must be a number >= 0 and <= 1, not 2.0"),
    Bad("save_every", 0, "0", "must be at least 1, not 0"),
    Bad("preserve_colors", None, None, "must be True or False, not None"),
    Bad("color_transfer", "both", "both", "must be off, style or content, not 'both'"),
    Bad("color_match", "mean", "mean", "must be covariance or histogram, not 'mean'"),
    Bad("tile", 100, "100", "must be between 128 and 16384, not 100"),
    Bad("tile", 200, "200", "must be a multiple of 16 (the network's 4 poolings), not 200"),
    Bad("threads", 0, "0", "must be at least 1, not 0"),
    Bad("threads", 1025, "1025", "1025 is more than the 1,024 threads an op may use"),
    Bad("xla", "no", None, "must be True or False, not 'no'"),
    Bad("precision", "float8", "float8", "must be float32 or bfloat16, not 'float8'"),
    Bad("output_dir", None, None, "must be a path, not None"),
    Bad("overwrite", 1, None, "must be True or False, not 1"),
    Bad("output_depth", 12, "12", "must be 8 or 16, not 12"),
    Bad("preset", "nope", "nope",
        "must be assignment, eight, tf2, crowsonkb or quality, not 'nope'"),
]  # fmt: skip
ON_COMMAND_LINE = [bad for bad in BAD if bad.text is not None]


def ids(cases: list[Bad]) -> list[str]:
    return [f"{bad.field}={bad.text or bad.value!r}" for bad in cases]


def option(field: str) -> str:
    return "--" + field.replace("_", "-")


def test_the_table_refuses_a_value_of_every_field_and_every_field_has_a_rule():
    fields = [field.name for field in dataclasses.fields(Settings)]
    assert list(FIELD_RULES) == fields
    assert {bad.field for bad in BAD} == set(fields)


@pytest.mark.parametrize("bad", BAD, ids=ids(BAD))
def test_the_api_refuses_the_value_naming_the_field(bad):
    values = {"content": CONTENT, "styles": (STYLE,)}
    values.update({field: value for field, value, _ in bad.also})
    with pytest.raises(SettingError) as refused:
        Settings(**{**values, bad.field: bad.value})
    assert str(refused.value) == f"{bad.field}: {bad.reason}"
    assert (refused.value.field, refused.value.reason) == (bad.field, bad.reason)


def test_the_api_takes_paths_as_text_and_lists_for_tuples():
    settings = Settings(
        content="images/cat.jpg",
        styles=["images/stone.jpg", Path("images/starry_night.jpg")],
        style_blend_weights=[1, 3],
        schedule=[5, 3],
        weights="pretrained-model/vgg.mat",
        output_dir="out",
    )
    assert settings.content == Path("images/cat.jpg")
    assert settings.styles == (Path("images/stone.jpg"), Path("images/starry_night.jpg"))
    assert settings.style_blend_weights == (1, 3)
    assert settings.schedule == (5, 3)
    assert settings.iterations == 8
    assert settings.weights == Path("pretrained-model/vgg.mat")
    assert settings.output_dir == Path("out")


def arguments(bad: Bad) -> list[str]:
    """The options that give the case's values."""
    given = [*((field, text) for field, _, text in bad.also), (bad.field, bad.text)]
    return [word for field, text in given for word in (option(field), text)]


@pytest.mark.parametrize("bad", ON_COMMAND_LINE, ids=ids(ON_COMMAND_LINE))
def test_the_command_line_refuses_the_value_naming_the_option(bad, tmp_path):
    argv = [str(CONTENT), str(STYLE), "--output-dir", str(tmp_path / "out"), *arguments(bad)]
    with pytest.raises(OptionError) as refused:
        parse_command(argv)
    assert str(refused.value) == f"argument {option(bad.field)}: {bad.reason}"


@pytest.mark.parametrize("bad", ON_COMMAND_LINE, ids=ids(ON_COMMAND_LINE))
def test_a_jobs_csv_row_refuses_the_value_naming_the_file_row_and_option(bad, tmp_path):
    jobs = tmp_path / "jobs.csv"
    cells = [(field, text) for field, _, text in bad.also] + [(bad.field, bad.text)]
    with jobs.open("w", newline="", encoding="utf-8") as file:
        rows = csv.writer(file)
        rows.writerow(["content", "style", *(field.replace("_", "-") for field, _ in cells)])
        rows.writerow([CONTENT, STYLE, *(text for _, text in cells)])
    command = parse_command(["--batch", str(jobs), "--output-dir", str(tmp_path / "batch")])
    with pytest.raises(InputError) as refused:
        make_jobs(command, tmp_path / "batch")
    assert str(refused.value) == f"{jobs}, row 2: argument {option(bad.field)}: {bad.reason}"


def test_the_script_refuses_a_value_in_one_line_with_status_2():
    done = subprocess.run(
        [sys.executable, "neural_art.py", "images/cat.jpg", "images/stone.jpg", "--iterations",
         "-5"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        "neural_art.py: error: argument --iterations: must be at least 1, not -5 (see --help)\n"
    )


def test_a_layer_a_preset_chose_is_refused_naming_the_preset():
    with pytest.raises(SettingError) as refused:
        Settings.preset_settings("tf2", network="vgg16")
    assert str(refused.value) == (
        "content_layer: preset tf2 uses the content layer conv5_4, which VGG-16 (network vgg16) "
        "lacks: use network vgg19, or other content layer"
    )


def test_a_combination_a_row_may_change_is_refused_only_in_the_job(tiny_images, tmp_path):
    """--alpha 0 --beta 0 on a batch's command line is no error while its rows give alpha."""
    content, style = tiny_images
    jobs = tmp_path / "jobs.csv"
    rows = f"content,style,alpha\n{content},{style},5\n{content},{style},\n"
    jobs.write_text(rows, encoding="utf-8")
    argv = ["--batch", str(jobs), "--alpha", "0", "--beta", "0", "--output-dir", str(tmp_path)]
    with pytest.raises(InputError) as refused:
        make_jobs(parse_command(argv), tmp_path)
    assert str(refused.value) == (
        f"{jobs}, row 3: argument --alpha: alpha and beta are both 0, so there is nothing to "
        "optimize"
    )


def test_resume_refuses_a_manifest_with_a_bad_setting_naming_the_folder(tmp_path):
    settings = settings_to_dict(Settings(content=CONTENT, styles=(STYLE,)))
    (tmp_path / MANIFEST).write_text(
        json.dumps({"settings": {**settings, "iterations": -5}}), encoding="utf-8"
    )
    with pytest.raises(InputError) as refused:
        RunFolder.open(tmp_path)
    assert str(refused.value) == (
        f"--resume {tmp_path}: {MANIFEST} cannot be read (iterations: must be at least 1, not -5)"
    )
