"""The pictures a run leaves in its run folder: cost plot, contact sheet, animation, summary.

Each picture appears complete at its path or not at all: no temporary ".part"
file is left in the folder, and a failed write keeps an older file intact.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from nst.run.visuals import MARGIN, PLOT_SIZE, animation, contact_sheet, plot_costs, side_by_side

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
YELLOW = (255, 255, 0)
WHITE = (255, 255, 255)
REPO = Path(__file__).resolve().parent.parent


def solid(colour, height, width):
    """A uint8 RGB image of one colour."""
    return np.full((height, width, 3), colour, dtype=np.uint8)


def region(path, colour):
    """(left, top, width, height) of the pixels of exactly `colour` in the image at `path`."""
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    ys, xs = np.nonzero((pixels == colour).all(axis=2))
    assert len(xs), f"no pixel of colour {colour}"
    left, top = xs.min(), ys.min()
    width, height = xs.max() - left + 1, ys.max() - top + 1
    # The region is a filled rectangle: every pixel in it has the colour.
    assert len(xs) == width * height
    return int(left), int(top), int(width), int(height)


def has_ink(path, left, top, width, height):
    """Whether the box holds dark pixels, e.g. the text of a label."""
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("L"))
    return bool((pixels[top : top + height, left : left + width] < 128).any())


@pytest.fixture
def drawn_text(monkeypatch):
    """The strings drawn with PIL's ImageDraw.text while the test runs, in order."""
    texts = []
    original = ImageDraw.ImageDraw.text

    def record(self, xy, text, *args, **kwargs):
        texts.append(text)
        return original(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", record)
    return texts


def folder_holds_only(path):
    return sorted(os.listdir(path.parent)) == [path.name]


COSTS = {
    "total": [9e6, 4e6, 1e6, 5e5],
    "content": [2e4, 3e4, 3.5e4, 3.6e4],
    "style": [2e5, 9e4, 2e4, 1e4],
    "total variation": [1e3, 2e3, 2.5e3, 2.6e3],
}


# The four pictures, each written with small valid arguments to `path`.
WRITERS = {
    "plot_costs": lambda path: plot_costs(path, [0, 20, 40, 60], COSTS),
    "contact_sheet": lambda path: contact_sheet(path, [("iteration 0", solid(RED, 8, 8))]),
    "animation": lambda path: animation(path, [solid(RED, 8, 8), solid(BLUE, 8, 8)]),
    "side_by_side": lambda path: side_by_side(
        path, solid(RED, 8, 8), [solid(GREEN, 8, 8)], solid(BLUE, 8, 8)
    ),
}
SUFFIX = {
    "plot_costs": ".png",
    "contact_sheet": ".png",
    "animation": ".gif",
    "side_by_side": ".png",
}


# --- Cost plot ---------------------------------------------------------------


def test_plot_is_a_png_of_the_plot_size_with_lines_drawn(tmp_path):
    path = tmp_path / "costs.png"
    plot_costs(path, [0, 20, 40, 60], COSTS)
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == PLOT_SIZE
        # Not a blank canvas: lines, text and legend in several colours.
        colours = np.asarray(image.convert("RGB")).reshape(-1, 3)
    assert len(np.unique(colours, axis=0)) > 10
    assert folder_holds_only(path)


def test_plot_joins_costs_known_only_at_the_save_points(tmp_path):
    """A run's costs.png: J at each of 100 iterations, the content and style costs only every
    20th (NaN between). Their curves run across the plot, not only in the legend."""
    path = tmp_path / "costs.png"
    saved = [i % 20 == 0 or i == 99 for i in range(100)]
    costs = {
        "total": [1e7 / (i + 1) for i in range(100)],
        "content": [1e4 * (i + 1) if s else float("nan") for i, s in enumerate(saved)],
        "style": [1e6 / (i + 1) if s else float("nan") for i, s in enumerate(saved)],
    }
    plot_costs(path, list(range(100)), costs)
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    # matplotlib's first colours, in order: total blue, content orange, style green
    for name, colour in (("content", (0xFF, 0x7F, 0x0E)), ("style", (0x2C, 0xA0, 0x2C))):
        near = (np.abs(pixels - colour).sum(axis=2) < 60).any(axis=0)
        columns = np.nonzero(near)[0]
        # The legend's sample line is about 30 pixels wide; the plot about 700.
        assert columns.max() - columns.min() > PLOT_SIZE[0] / 2, name


@pytest.mark.parametrize(
    "iterations, costs",
    [
        pytest.param([0, 10, 20], {"total": [5.0, 0.0, 2.0], "style": [0.0, 0.0, 0.0]}, id="zeros"),
        pytest.param([0, 10], {"total": [-1.0, float("nan")]}, id="nothing-positive"),
        pytest.param([0], {"total": [3.5], "content": [1.0]}, id="single-point"),
        pytest.param([], {"total": []}, id="no-points"),
        pytest.param([0, 10], {}, id="no-series"),
    ],
)
def test_plot_accepts_series_a_log_axis_cannot_show_in_full(tmp_path, iterations, costs):
    path = tmp_path / "costs.png"
    plot_costs(path, iterations, costs)
    with Image.open(path) as image:
        assert (image.format, image.size) == ("PNG", PLOT_SIZE)


def test_plot_refuses_a_series_not_matching_the_iterations(tmp_path):
    with pytest.raises(ValueError, match="'style' has 2 values for 3 iterations"):
        plot_costs(tmp_path / "costs.png", [0, 1, 2], {"total": [1, 2, 3], "style": [1, 2]})
    assert os.listdir(tmp_path) == []


def test_importing_the_module_does_not_import_matplotlib():
    code = "import sys, nst.run.visuals; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "False"


# --- Contact sheet -----------------------------------------------------------


def test_contact_sheet_lays_out_tiles_in_reading_order(tmp_path):
    path = tmp_path / "sheet.png"
    frames = [
        ("iteration 0", solid(RED, 40, 60)),
        ("iteration 20", solid(GREEN, 40, 60)),
        ("iteration 40", solid(BLUE, 40, 60)),
    ]
    contact_sheet(path, frames, columns=2, max_tile=30)

    with Image.open(path) as image:
        assert (image.format, image.mode) == ("PNG", "RGB")
        assert image.getpixel((0, 0)) == WHITE
    red, green, blue = (region(path, colour) for colour in (RED, GREEN, BLUE))
    # Each 60x40 frame fills its tile, shrunk to 30 pixels on its longest side.
    assert red[2:] == green[2:] == blue[2:] == (30, 20)
    # Two per row: green right of red, blue under red.
    assert green[1] == red[1] and green[0] > red[0] + 30
    assert blue[0] == red[0] and blue[1] > red[1] + 20
    assert folder_holds_only(path)


def test_contact_sheet_labels_each_tile_underneath(tmp_path, drawn_text):
    path = tmp_path / "sheet.png"
    contact_sheet(path, [("iteration 0", solid(RED, 20, 20)), ("", solid(GREEN, 20, 20))])
    for colour, labelled in ((RED, True), (GREEN, False)):
        left, top, width, height = region(path, colour)
        assert has_ink(path, left, top + height, width, 20) == labelled
    assert drawn_text[0] == "iteration 0"


def test_contact_sheet_shrinks_large_frames_and_keeps_small_ones(tmp_path):
    path = tmp_path / "sheet.png"
    contact_sheet(path, [("big", solid(RED, 300, 600))], max_tile=256)
    assert region(path, RED)[2:] == (256, 128)
    contact_sheet(path, [("small", solid(RED, 12, 10))], max_tile=256)
    assert region(path, RED)[2:] == (10, 12)


def test_contact_sheet_centres_frames_of_other_shapes_in_cells_of_the_largest(tmp_path):
    """A wide and a tall frame, shrunk to 30 pixels: cells 30x30 side by side, each frame
    centred in its own."""
    path = tmp_path / "sheet.png"
    contact_sheet(path, [("wide", solid(RED, 20, 40)), ("tall", solid(GREEN, 40, 20))], max_tile=30)
    red, green = region(path, RED), region(path, GREEN)
    assert (red[2:], green[2:]) == ((30, 15), (15, 30))
    assert (red[0], green[1]) == (MARGIN, MARGIN)  # both cells' top left at the margin
    assert red[1] == MARGIN + 7  # (30 - 15) // 2 below the cell's top
    assert green[0] == MARGIN + 30 + MARGIN + 7  # the next cell, 7 from its left


def test_contact_sheet_takes_the_format_from_the_extension(tmp_path):
    path = tmp_path / "sheet.jpg"
    contact_sheet(path, [("iteration 0", solid(RED, 20, 20))])
    with Image.open(path) as image:
        assert (image.format, image.mode) == ("JPEG", "RGB")


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param([], id="no-frames"),
        pytest.param([("a", np.zeros((8, 8, 3), np.float32))], id="float"),
        pytest.param([("a", np.zeros((8, 8), np.uint8))], id="gray"),
    ],
)
def test_contact_sheet_refuses_bad_frames(tmp_path, frames):
    with pytest.raises(ValueError):
        contact_sheet(tmp_path / "sheet.png", frames)
    assert os.listdir(tmp_path) == []


# --- Animation ---------------------------------------------------------------


def test_animation_is_a_looping_gif_with_the_last_frame_held_longer(tmp_path):
    path = tmp_path / "iterations.gif"
    colours = [RED, GREEN, BLUE]
    animation(path, [solid(colour, 30, 40) for colour in colours], seconds_per_frame=0.25)

    with Image.open(path) as image:
        assert image.format == "GIF"
        assert image.size == (40, 30)
        assert image.n_frames == 3
        assert image.info["loop"] == 0
        durations = []
        for index, colour in enumerate(colours):
            image.seek(index)
            durations.append(image.info["duration"])
            assert image.convert("RGB").getpixel((20, 15)) == colour
    assert durations == [250, 250, 1000]
    assert folder_holds_only(path)


def test_animation_frames_can_carry_their_labels_on_a_white_band(tmp_path):
    path = tmp_path / "iterations.gif"
    animation(path, [solid(RED, 30, 40), solid(BLUE, 30, 40)], labels=["iteration 0", "result"])
    with Image.open(path) as image:
        assert image.width == 40 and image.height > 30  # the band is under the picture
        for index, colour in enumerate((RED, BLUE)):
            image.seek(index)
            frame = np.asarray(image.convert("RGB"))
            assert tuple(frame[15, 20]) == colour
            band = frame[30:]
            assert (band == 255).all(axis=2).mean() > 0.5 and (band < 100).all(axis=2).any()
    with pytest.raises(ValueError, match="1 labels for 2 frames"):
        animation(tmp_path / "other.gif", [solid(RED, 8, 8)] * 2, labels=["one"])


def test_animation_of_one_frame(tmp_path):
    path = tmp_path / "iterations.gif"
    animation(path, [solid(RED, 10, 10)])
    with Image.open(path) as image:
        assert (image.n_frames, image.info["duration"]) == (1, 2000)


@pytest.mark.parametrize(
    "frames, seconds",
    [
        pytest.param([], 0.5, id="no-frames"),
        pytest.param([solid(RED, 8, 8), solid(RED, 9, 8)], 0.5, id="mixed-sizes"),
        pytest.param([solid(RED, 8, 8)], 0, id="zero-seconds"),
    ],
)
def test_animation_refuses_bad_arguments(tmp_path, frames, seconds):
    with pytest.raises(ValueError):
        animation(tmp_path / "iterations.gif", frames, seconds)
    assert os.listdir(tmp_path) == []


# --- Content | style | result ------------------------------------------------


def test_side_by_side_scales_everything_to_the_result_height(tmp_path):
    path = tmp_path / "summary.png"
    side_by_side(path, solid(RED, 20, 40), [solid(GREEN, 10, 10)], solid(BLUE, 30, 45))

    with Image.open(path) as image:
        assert (image.format, image.mode) == ("PNG", "RGB")
        assert image.getpixel((0, 0)) == WHITE
    content, style, result = (region(path, colour) for colour in (RED, GREEN, BLUE))
    assert content[2:] == (60, 30)
    assert style[2:] == (30, 30)
    assert result[2:] == (45, 30)
    # One row, left to right, with white gaps between.
    assert content[1] == style[1] == result[1]
    assert content[0] + 60 < style[0] and style[0] + 30 < result[0]
    for left, top, width, height in (content, style, result):
        assert has_ink(path, left, top + height, width, 20)
    assert folder_holds_only(path)


def test_side_by_side_with_several_styles_numbers_them(tmp_path, drawn_text):
    path = tmp_path / "summary.png"
    styles = [solid(GREEN, 10, 10), solid(YELLOW, 10, 20)]
    side_by_side(path, solid(RED, 10, 10), styles, solid(BLUE, 10, 10))
    assert drawn_text == ["content", "style 1", "style 2", "result"]
    lefts = [region(path, colour)[0] for colour in (RED, GREEN, YELLOW, BLUE)]
    assert lefts == sorted(lefts)
    assert region(path, YELLOW)[2:] == (20, 10)


def test_side_by_side_with_one_style_calls_it_style(tmp_path, drawn_text):
    side_by_side(tmp_path / "s.png", solid(RED, 8, 8), [solid(GREEN, 8, 8)], solid(BLUE, 8, 8))
    assert drawn_text == ["content", "style", "result"]


def test_side_by_side_takes_the_format_from_the_extension(tmp_path):
    path = tmp_path / "summary.jpg"
    side_by_side(path, solid(RED, 8, 8), [solid(GREEN, 8, 8)], solid(BLUE, 8, 8))
    with Image.open(path) as image:
        assert (image.format, image.mode) == ("JPEG", "RGB")


def test_side_by_side_refuses_an_image_that_is_not_uint8_rgb(tmp_path):
    with pytest.raises(ValueError, match="style image 1"):
        side_by_side(
            tmp_path / "s.png", solid(RED, 8, 8), [np.zeros((8, 8, 4), np.uint8)], solid(RED, 8, 8)
        )
    assert os.listdir(tmp_path) == []


# --- Atomic writing, for all four ---------------------------------------------


@pytest.fixture(params=sorted(WRITERS))
def writer(request, tmp_path):
    """(function writing a picture to a path, a path in an empty folder) for each picture."""
    return WRITERS[request.param], tmp_path / f"picture{SUFFIX[request.param]}"


def test_writing_replaces_an_older_file(writer):
    write, path = writer
    path.write_bytes(b"older picture")
    write(path)
    with Image.open(path) as image:
        image.verify()
    assert folder_holds_only(path)


def test_failure_to_move_into_place_keeps_the_older_file(writer, monkeypatch):
    write, path = writer
    path.write_bytes(b"older picture")

    def refuse(src, dst):
        raise OSError("no space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="no space"):
        write(path)
    assert path.read_bytes() == b"older picture"
    assert folder_holds_only(path)


def test_failure_while_encoding_leaves_no_partial_file(writer, monkeypatch):
    write, path = writer

    def half_written(image, fp, *args, **kwargs):
        if isinstance(fp, (str, os.PathLike)):
            with open(fp, "wb") as file:
                file.write(b"\x89PNG half")
        else:
            fp.write(b"\x89PNG half")
        raise OSError("disk failed while writing")

    # Every picture is encoded by Pillow (matplotlib's PNG writer and imageio use it too).
    monkeypatch.setattr(Image.Image, "save", half_written)
    with pytest.raises(OSError, match="disk failed"):
        write(path)
    assert os.listdir(path.parent) == []


def test_failure_while_encoding_keeps_the_older_file(writer, monkeypatch):
    write, path = writer
    path.write_bytes(b"older picture")

    def fail(*args, **kwargs):
        raise OSError("disk failed while writing")

    monkeypatch.setattr(Image.Image, "save", fail)
    with pytest.raises(OSError):
        write(path)
    assert path.read_bytes() == b"older picture"
    assert folder_holds_only(path)
