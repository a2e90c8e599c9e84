"""A stand-in terminal for the progress bars: a text stream that says it is a terminal, and
what a terminal would show of the text written to it."""

from __future__ import annotations

import io


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def screen(written: str) -> list[str]:
    """The lines a terminal shows after `written` (trailing blanks dropped): a carriage
    return goes back to the start of the line, and the text after it overwrites."""
    lines = []
    for text in written.split("\n"):
        line = ""
        for part in text.split("\r"):
            line = part + line[len(part) :]
        lines.append(line.rstrip())
    return lines
