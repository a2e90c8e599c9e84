"""Where a run or a batch goes without --output-dir: a new folder in output/, named after
its images (a run) or "batch", numbered when that name is taken."""

from __future__ import annotations

from pathlib import Path


def run_name(content: Path, styles: list[Path]) -> str:
    """A run's name, from its images: <content>-<style>, or <content>-<style1>+<style2>."""
    return f"{content.stem}-{'+'.join(style.stem for style in styles)}"


def new_run_folder(base: Path, content: Path, styles: list[Path]) -> Path:
    """Where a run goes without --output-dir: base/<content>-<style>, or with -2, -3, ...
    when that already holds something, so that each run keeps its own folder."""
    return numbered_folder(base, run_name(content, styles))


def numbered_folder(base: Path, name: str) -> Path:
    """base/name, or base/name-2, -3, ..., the first that is missing or an empty folder."""
    folder, n = base / name, 2
    while folder.exists() and not (folder.is_dir() and not any(folder.iterdir())):
        folder, n = base / f"{name}-{n}", n + 1
    return folder
