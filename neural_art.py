"""Neural style transfer (Gatys, Ecker and Bethge, 2015) as in the deeplearning.ai assignment.

    python neural_art.py images/cat.jpg images/stone.jpg

paints the content image in the style of the style image: starting from a
noisy copy of the content, Adam changes the pixels to lower
J = alpha * J_content + beta * J_style, measured with VGG-19's activations.
Every 20th iterate goes to output/<i>.png, the last to output/generated_image.jpg.
`python neural_art.py --help` lists the options beyond the assignment.

This module holds the assignment's names: the cost functions (defined in
nst/costs.py), `build_cost_graph`, `CostGraph` and `model_nn`, the training
loop. The command line itself is nst/app.py. Importing this module runs nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from nst.costs import (
    compute_content_cost,
    compute_layer_style_cost,
    compute_style_cost,
    gram_matrix,
    total_cost,
    total_variation_cost,
)
from nst.optimize import CostGraph, Iterate, build_cost_graph, optimize
from nst.progress import StatusLine, cost_lines
from nst_utils import CONFIG, save_image

__all__ = [
    "STYLE_LAYERS",
    "CostGraph",
    "Iterate",
    "build_cost_graph",
    "compute_content_cost",
    "compute_layer_style_cost",
    "compute_style_cost",
    "gram_matrix",
    "main",
    "model_nn",
    "optimize",
    "total_cost",
    "total_variation_cost",
]

STYLE_LAYERS = CONFIG.STYLE_LAYERS


def model_nn(
    sess,
    input_image: np.ndarray,
    num_iterations: int = CONFIG.NUM_ITERATIONS,
    *,
    graph: CostGraph,
    output_dir: str | os.PathLike = CONFIG.OUTPUT_DIR,
    save_every: int = CONFIG.SAVE_EVERY,
    show_progress: bool = False,
) -> np.ndarray:
    """The assignment's loop: run Adam, print the costs and save <i>.png every `save_every`
    iterations, save the last image as generated_image.jpg, and return it.

    With show_progress, a status line on stderr counts the iterations between prints.
    """
    output_dir = Path(output_dir)
    status = StatusLine(num_iterations) if show_progress else None
    for it in optimize(sess, graph, input_image, num_iterations, save_every):
        if status:
            status.update(it.i + 1, it.J_before)
        if it.costs is not None:
            if status:
                status.clear()
            print(cost_lines(it.i, *it.costs), flush=True)
            save_image(output_dir / f"{it.i}.png", it.image)
    if status:
        status.clear()
    save_image(output_dir / "generated_image.jpg", it.image)
    return it.image


def main(argv: list[str] | None = None) -> int:
    """The command line (nst/app.py); returns the exit status."""
    from nst.app import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
