"""Running neural_art.py's main() in the test process, and reading what it prints."""

import re

import neural_art

COST_BLOCK = re.compile(
    r"^Iteration (\d+) :\ntotal cost = (\S+)\ncontent cost = (\S+)\nstyle cost = (\S+)$",
    re.MULTILINE,
)
"""The assignment's four lines printed at every save point."""


def run_cli(*argv) -> int:
    """main(argv)'s exit status, whether it returns it or argparse exits with it."""
    try:
        return neural_art.main([str(a) for a in argv])
    except SystemExit as e:
        return e.code
