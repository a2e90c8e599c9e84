"""Pictures a run leaves in its run folder: a cost plot, a contact sheet, an animation, a summary.

Every file is written atomically: it is first written to a temporary file
(".<name>.<random>.part") in the same folder, which then replaces the path in one
step. A reader never sees a partial file, a failure leaves no temporary file
behind, and an older file at the path stays as it was until the new one is complete.

matplotlib is imported only by `plot_costs`, so importing this module is cheap.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from nst.files import atomic_path
from nst.images import resize, write_image

PLOT_SIZE = (800, 500)
"""Width and height in pixels of the PNG written by `plot_costs`."""

_PLOT_DPI = 100

MARGIN = 8
"""White space in pixels around and between the pictures of a contact sheet or summary."""

_LABEL_GAP = 3
"""White space in pixels between a picture and its label."""

_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)


def plot_costs(
    path: str | os.PathLike,
    iterations: list[int],
    costs: dict[str, list[float]],
    along: str = "iteration",
) -> None:
    """Write a PNG line plot of each named cost series against the iteration (or what
    `along` names: a clip's "frame").

    `costs` maps a series name ("total", "content", "style", "total variation"...)
    to one value per entry of `iterations`. The image is `PLOT_SIZE` pixels, with
    axes labelled `along` and "cost", a legend and a title.

    The cost axis is logarithmic. Values that cannot be drawn on it (zero,
    negative, infinite, or NaN: not evaluated at that iteration, as the content and
    style costs between save points) are left out, and the line joins the points
    on either side; the legend still names the series. If no series has a positive
    value the axis is linear instead. A series with at most 50 drawable points
    marks each of them with a dot (so a single point shows).

    Raises ValueError if a series does not have one value per iteration.
    """
    # matplotlib is imported here, not at the top, to keep `import nst.run.visuals` cheap.
    # Figure + FigureCanvasAgg draws without pyplot, so no global backend is selected.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    x = np.asarray(iterations, dtype=np.float64)
    for name, values in costs.items():
        if len(values) != len(x):
            raise ValueError(
                f"cost series {name!r} has {len(values)} values for {len(x)} iterations"
            )

    width, height = PLOT_SIZE
    figure = Figure(figsize=(width / _PLOT_DPI, height / _PLOT_DPI), dpi=_PLOT_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()

    any_positive = False
    for name, values in costs.items():
        y = np.asarray(values, dtype=np.float64)
        drawable = np.isfinite(y) & (y > 0)
        any_positive = any_positive or bool(drawable.any())
        marker = "o" if drawable.sum() <= 50 else None
        axes.plot(x[drawable], y[drawable], label=name, marker=marker, markersize=3, linewidth=1.5)

    if any_positive:
        axes.set_yscale("log")
    axes.set_xlabel(along)
    axes.set_ylabel("cost")
    axes.set_title(
        "Cost during optimisation" if along == "iteration" else f"Final cost per {along}"
    )
    axes.grid(True, which="major", alpha=0.3)
    if costs:
        axes.legend()
    figure.tight_layout()

    _write_atomically(path, lambda file: figure.savefig(file, format="png", dpi=_PLOT_DPI))


def contact_sheet(
    path: str | os.PathLike,
    frames: list[tuple[str, np.ndarray]],
    columns: int = 5,
    max_tile: int = 256,
) -> None:
    """Write a grid of labelled images, e.g. the iterates a run saved.

    `frames` holds (label, image) pairs in reading order (left to right, then
    top to bottom), `columns` per row. Each image is uint8 RGB of shape
    (height, width, 3); each is shrunk so that its longest side is at most
    `max_tile` pixels (a smaller image is not enlarged), and centred in a cell as
    wide as the widest and as tall as the tallest so shrunk (images of one shape
    fill their cells). Its label (e.g. "iteration 20") is drawn centred under the
    cell in PIL's default font. The sheet has a white background and `MARGIN`
    pixels around and between cells. The format follows the file's extension.

    Raises ValueError for no frames, images that are not uint8 RGB, or a
    `columns` or `max_tile` below 1.
    """
    if not frames:
        raise ValueError("a contact sheet needs at least one frame")
    if columns < 1:
        raise ValueError(f"columns must be at least 1, not {columns}")
    if max_tile < 1:
        raise ValueError(f"max_tile must be at least 1, not {max_tile}")
    tiles = []
    for label, image in frames:
        height, width = _check_rgb(image, f"frame {label!r}").shape[:2]
        scale = min(1.0, max_tile / max(height, width))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        tiles.append((label, _resized(image, size)))

    font = ImageFont.load_default()
    tile_height = max(tile.height for _, tile in tiles)
    cell_width = max([tile.width for _, tile in tiles] + [_text_width(font, t) for t, _ in tiles])
    cell_height = tile_height + _LABEL_GAP + _text_height(font)
    columns = min(columns, len(tiles))
    rows = math.ceil(len(tiles) / columns)

    sheet = Image.new(
        "RGB",
        (MARGIN + columns * (cell_width + MARGIN), MARGIN + rows * (cell_height + MARGIN)),
        _WHITE,
    )
    draw = ImageDraw.Draw(sheet)
    for index, (label, tile) in enumerate(tiles):
        row, column = divmod(index, columns)
        left = MARGIN + column * (cell_width + MARGIN)
        top = MARGIN + row * (cell_height + MARGIN)
        sheet.paste(
            tile, (left + (cell_width - tile.width) // 2, top + (tile_height - tile.height) // 2)
        )
        _draw_label(draw, font, label, left, cell_width, top + tile_height + _LABEL_GAP)

    write_image(path, np.asarray(sheet))


def animation(
    path: str | os.PathLike,
    frames: list[np.ndarray],
    seconds_per_frame: float = 0.5,
    labels: list[str] | None = None,
) -> None:
    """Write an animated GIF of `frames` that loops forever.

    Each frame (uint8 RGB, shape (height, width, 3), all of the same size) is
    shown for `seconds_per_frame`, the last one four times as long so the result
    lingers. GIF stores delays in hundredths of a second, so durations are
    rounded to 10 ms. Each frame gets its own 256-colour palette. With `labels`
    (one per frame, e.g. "iteration 20"), each frame has its label under it on a
    white band.

    Pillow's GIF writer merges consecutive identical frames into one frame
    showing for their combined time, so such a GIF has fewer frames than given.

    Raises ValueError for no frames, frames of different sizes or that are not
    uint8 RGB, or a `seconds_per_frame` that is not positive.
    """
    if not frames:
        raise ValueError("an animation needs at least one frame")
    if not seconds_per_frame > 0 or not math.isfinite(seconds_per_frame):
        raise ValueError(f"seconds_per_frame must be positive, not {seconds_per_frame}")
    shapes = {_check_rgb(frame, f"frame {i}").shape for i, frame in enumerate(frames)}
    if len(shapes) > 1:
        raise ValueError(f"the frames of an animation differ in size: {sorted(shapes)}")

    if labels is not None and len(labels) != len(frames):
        raise ValueError(f"{len(labels)} labels for {len(frames)} frames")

    milliseconds = max(10, round(seconds_per_frame * 100) * 10)
    durations = [milliseconds] * (len(frames) - 1) + [4 * milliseconds]
    images = [Image.fromarray(frame, "RGB") for frame in frames]
    if labels is not None:
        images = [_with_label(image, label) for image, label in zip(images, labels, strict=True)]

    def write(file: BinaryIO) -> None:
        images[0].save(
            file,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=durations,
            loop=0,
        )

    _write_atomically(path, write)


def side_by_side(
    path: str | os.PathLike,
    content: np.ndarray,
    styles: list[np.ndarray],
    result: np.ndarray,
) -> None:
    """Write content | style(s) | result in one row, each labelled underneath.

    Every image (uint8 RGB, shape (height, width, 3)) is scaled to the result's
    height, keeping its aspect ratio. The labels are "content", "style" (or
    "style 1", "style 2"... for several styles) and "result". The picture has a
    white background with `MARGIN` pixels around and between the images. The
    format follows the file's extension.

    Raises ValueError for an image that is not uint8 RGB.
    """
    _check_rgb(content, "content image")
    for i, style in enumerate(styles, start=1):
        _check_rgb(style, f"style image {i}")
    _check_rgb(result, "result image")

    if len(styles) == 1:
        style_labels = ["style"]
    else:
        style_labels = [f"style {i}" for i in range(1, len(styles) + 1)]
    labelled = [("content", content), *zip(style_labels, styles, strict=True), ("result", result)]

    height = result.shape[0]
    pictures = []
    for label, image in labelled:
        h, w = image.shape[:2]
        pictures.append((label, _resized(image, (max(1, round(w * height / h)), height))))

    font = ImageFont.load_default()
    cell_widths = [max(picture.width, _text_width(font, label)) for label, picture in pictures]
    canvas = Image.new(
        "RGB",
        (
            MARGIN + sum(width + MARGIN for width in cell_widths),
            MARGIN + height + _LABEL_GAP + _text_height(font) + MARGIN,
        ),
        _WHITE,
    )
    draw = ImageDraw.Draw(canvas)
    left = MARGIN
    for (label, picture), cell_width in zip(pictures, cell_widths, strict=True):
        canvas.paste(picture, (left + (cell_width - picture.width) // 2, MARGIN))
        _draw_label(draw, font, label, left, cell_width, MARGIN + height + _LABEL_GAP)
        left += cell_width + MARGIN

    write_image(path, np.asarray(canvas))


def _write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Call `write` with a file that becomes `path` only when complete (nst.files.atomic_path)."""
    with atomic_path(path) as tmp, tmp.open("wb") as file:
        write(file)


def _check_rgb(image: np.ndarray, what: str) -> np.ndarray:
    """`image` itself if it is a uint8 RGB array of shape (height, width, 3) with pixels."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise ValueError(
            f"{what} must be uint8 RGB of shape (height, width, 3), "
            f"not {image.dtype} of shape {image.shape}"
        )
    return image


def _resized(image: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """uint8 RGB `image` as a PIL image of `size` (width, height), Lanczos-filtered."""
    return Image.fromarray(np.ascontiguousarray(resize(image, *size)), "RGB")


def _text_width(font: ImageFont.ImageFont | ImageFont.FreeTypeFont, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return math.ceil(right - left)


def _text_height(font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> int:
    """Height of a line of text in `font`, the same for every label so rows line up."""
    _, top, _, bottom = font.getbbox("Agjpqy|")
    return math.ceil(bottom) + max(0, -math.floor(top))


def _with_label(image: Image.Image, label: str) -> Image.Image:
    """`image` on a white canvas with room for `label` centred under it."""
    font = ImageFont.load_default()
    canvas = Image.new("RGB", (image.width, image.height + 2 * _LABEL_GAP + _text_height(font)),
                       _WHITE)  # fmt: skip
    canvas.paste(image, (0, 0))
    _draw_label(ImageDraw.Draw(canvas), font, label, 0, image.width, image.height + _LABEL_GAP)
    return canvas


def _draw_label(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    text: str,
    left: int,
    width: int,
    top: int,
) -> None:
    """Draw `text` in black, centred in the `width` pixels from `left`, starting at `top`."""
    text_left, _, _, _ = font.getbbox(text)
    x = left + (width - _text_width(font, text)) // 2 - text_left
    draw.text((x, top), text, fill=_BLACK, font=font)
