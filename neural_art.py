"""Neural style transfer (Gatys, Ecker and Bethge, 2015) as in the deeplearning.ai assignment.

    python neural_art.py images/cat.jpg images/stone.jpg

paints the content image in the style of the style image: starting from a
noisy copy of the content, Adam changes the pixels to lower
J = alpha * J_content + beta * J_style, measured with VGG-19's activations.
Every 20th iterate goes to output/<i>.png, the last to output/generated_image.jpg.
`python neural_art.py --help` lists the options beyond the assignment.

This module holds the assignment's names: the cost functions (defined in
nst/costs.py), `build_cost_graph`, `CostGraph` and `model_nn`, the training
loop; and `main`, the program: nst/cli parses the command line into a job
(nst/job.py), and `run_job` hands it to the runner of its kind. Importing this
module runs nothing, and imports TensorFlow only when one of the names that
need it is first used, so that `python neural_art.py --help` (or a typo)
answers at once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nst.assignment_config import CONFIG
from nst.job import BatchJob, ClipJob, ImageJob, Job, NotebookJob, SettingsJob, WeightsJob

if TYPE_CHECKING:
    from nst.optimize import CostGraph

STYLE_LAYERS = CONFIG.STYLE_LAYERS
COST_NAMES = ("compute_content_cost", "compute_layer_style_cost", "compute_style_cost",
              "gram_matrix", "total_cost", "total_variation_cost")  # fmt: skip
"""Defined in nst/costs.py."""
GRAPH_NAMES = ("CostGraph", "Iterate", "build_cost_graph", "optimize")
"""Defined in nst/optimize.py (Iterate, the optimizers' iterate, in nst/optimizers.py; nst.optimize
imports it)."""
__all__ = ["STYLE_LAYERS", "main", "model_nn", *COST_NAMES, *GRAPH_NAMES]


def __getattr__(name: str) -> Any:
    """The names of COST_NAMES and GRAPH_NAMES, imported (with TensorFlow) on first use."""
    if name in COST_NAMES:
        from nst import costs

        return getattr(costs, name)
    if name in GRAPH_NAMES:
        from nst import optimize

        return getattr(optimize, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    from nst.assignment_images import save_image
    from nst.optimize import optimize
    from nst.progress import StatusLine, cost_lines

    output_dir = Path(output_dir)
    status = StatusLine(num_iterations) if show_progress else None
    for it in optimize(sess, graph, input_image, num_iterations, save_every):
        if it.costs is not None:  # the costs before the status line
            if status is not None:
                status.clear()
            print(cost_lines(it.i, *it.costs), flush=True)
            save_image(output_dir / f"{it.i}.png", it.image)
        if status is not None:  # J: the latest known, this iterate's when evaluated
            status.update(it.i + 1, it.J_before if it.costs is None else it.costs[0])
    if status is not None:
        status.close()
    save_image(output_dir / "generated_image.jpg", it.image)
    return it.image


def run_job(job: Job) -> int:
    """Hand `job` to the runner of its kind; the exit status. Each runner is imported only
    when a job of its kind runs (TensorFlow and Ray take seconds to load). Bad input and
    files that cannot be written are raised (nst.errors.InputError, nst.files.WriteError)."""
    match job:
        case ImageJob():
            from nst.run.image_job import run_image_job as runner
        case ClipJob():
            from nst.run.clip_job import run_clip_job as runner
        case BatchJob():
            from nst.batch.engine import run_batch as runner
        case WeightsJob():
            from nst.weights.loading import run_weights_job as runner
        case NotebookJob():
            from nst.tf1.notebook_run import run_notebook_job as runner
        case SettingsJob():
            from nst.cli.main import show_settings as runner
    return runner(job)


def main(argv: list[str] | None = None) -> int:
    """The command line: parse it into a job and run that; returns the exit status. A bad
    option, bad input or a write failure ends it with one line on stderr and status 2."""
    from nst.cli.main import parse_args
    from nst.cpu_kernels import choose_cpu_kernels
    from nst.errors import InputError
    from nst.files import WriteError

    job = parse_args(argv)
    choose_cpu_kernels()  # before any runner loads TensorFlow
    try:
        return run_job(job)
    except (InputError, WriteError) as e:
        print(f"neural_art.py: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before a runner handles Ctrl-C, or after it
        print("\nneural_art.py: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError as e:  # standard output's reader went away (`| head`)
        # what is still buffered for it goes nowhere, not into a second error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"neural_art.py: standard output was closed; {str(e) or 'stopped'}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
