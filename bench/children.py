"""Each benchmark measures in fresh subprocesses of itself (`--child ...`), so that every
peak-memory figure and thread pool belongs to one measurement: `run_script` runs one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_script(script: str, *args: str, what: str = "", env: dict | None = None) -> dict:
    """The JSON object that `script` (a path) printed last, run with `args` in a fresh Python
    process from the repository root, with `env` added to the environment. When it fails,
    exits naming the script and `what` failed (by default its arguments), with the end of its
    error output."""
    script = Path(script).resolve()
    command = [sys.executable, str(script), *args]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        name = script.relative_to(ROOT)
        sys.exit(f"{name}: {what or ' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
