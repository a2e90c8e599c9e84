"""The kinds of rule a field of Settings follows, and SettingError, which names a broken one.

A rule is a function of a value that returns None when the value is good, else the
reason it is refused: one clause such as "must be at least 1, not -5", the same
whichever way the value came (the Python API, the command line, a batch's row, a
run folder's manifest). nst.settings gives each field its rule. Only the standard
library is imported here, so that values are checked before TensorFlow loads.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from nst.networks import ALL_CONV_NAMES

Rule = Callable[[object], str | None]
"""A value's reason to be refused, or None when it is good."""


class SettingError(ValueError):
    """A value of the field `field` that Settings refuses, for `reason` (one clause).
    `related` are the other fields the reason concerns when a combination of values is
    refused. The message is "field: reason"."""

    def __init__(self, field: str, reason: str, related: tuple[str, ...] = ()):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.related = field, reason, related


def is_whole(value: object) -> bool:
    """Whether `value` is a whole number (an int or a NumPy integer, not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """Whether `value` is a real number (a whole number or a float, not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def whole(low: int, high: int, above: str = "") -> Rule:
    """Whole numbers from `low` to `high`. `above` ends the reason of a number above `high`
    ("N <above>"); without it, the reason gives both bounds."""

    def rule(value: object) -> str | None:
        if not is_whole(value):
            return f"must be a whole number, not {value!r}"
        if above and value > high:
            return f"{value} {above}"
        if above and value < low:
            return f"must be at least {low}, not {value}"
        if not low <= value <= high:
            return f"must be between {low} and {high}, not {value}"
        return None

    return rule


def number(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Rule:
    """Finite numbers from `low` to `high`, each bound excluded when its `*_open` is set."""
    above = ">" if low_open else ">="
    below = "<" if high_open else "<="

    def rule(value: object) -> str | None:
        if not is_number(value):
            return f"must be a number, not {value!r}"
        finite = is_whole(value) or math.isfinite(value)
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if not finite or too_low or too_high:
            return f"must be a number {above} {low:g} and {below} {high:g}, not {value}"
        return None

    return rule


def alternatives(choices: Collection) -> str:
    """'a', 'a or b', 'a, b or c'."""
    names = [str(choice) for choice in choices]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def one_of(choices: Collection) -> Rule:
    """One of `choices` (texts, or whole numbers)."""
    kind = is_whole if all(is_whole(c) for c in choices) else (lambda v: isinstance(v, str))

    def rule(value: object) -> str | None:
        if not kind(value) or value not in choices:
            return f"must be {alternatives(choices)}, not {value!r}"
        return None

    return rule


def optional(rule: Rule) -> Rule:
    """None, or a value that `rule` accepts."""
    return lambda value: None if value is None else rule(value)


def flag(value: object) -> str | None:
    """True or False."""
    return None if isinstance(value, bool) else f"must be True or False, not {value!r}"


def path(value: object) -> str | None:
    """A pathlib.Path (Settings makes one of a str)."""
    return None if isinstance(value, Path) else f"must be a path, not {value!r}"


def paths(value: object) -> str | None:
    """A tuple of pathlib.Path (Settings makes one of a list of str)."""
    if isinstance(value, tuple) and all(isinstance(p, Path) for p in value):
        return None
    return f"must be a list of paths, not {value!r}"


def shares(bounds: Rule) -> Rule:
    """A tuple of numbers that `bounds` accepts, at least one of them positive: the style
    images' weights."""

    def rule(value: object) -> str | None:
        if not isinstance(value, tuple) or not all(is_number(w) for w in value):
            return f"must be a tuple of numbers, not {value!r}"
        for k, weight in enumerate(value, 1):
            if reason := bounds(weight):
                return f"weight {k} {reason}"
        if not any(w > 0 for w in value):
            return "at least one style image needs a positive weight"
        return None

    return rule


def layer(value: object) -> str | None:
    """A conv layer name of a VGG network, in the assignment's spelling (conv4_2)."""
    if isinstance(value, str) and value in ALL_CONV_NAMES:
        return None
    return (
        f"unknown layer {value!r}; VGG-19's conv layers are conv1_1, conv1_2, conv2_1, "
        "conv2_2, conv3_1 .. conv3_4, conv4_1 .. conv4_4, conv5_1 .. conv5_4 (on the "
        "command line, Keras' block1_conv1 .. block5_conv4 too; VGG-16 lacks conv3_4, "
        "conv4_4 and conv5_4)"
    )


def weighted_layers(bounds: Rule) -> Rule:
    """A list of (layer, weight) pairs: known layers, each once, weights that `bounds`
    accepts, at least one of them positive."""

    def rule(value: object) -> str | None:
        if not _pairs(value):
            return f"must be a list of (layer, weight) pairs, not {value!r}"
        if not value:
            return "no layers given"
        names = [name for name, _ in value]
        for name, weight in value:
            if reason := layer(name):
                return reason
            if names.count(name) > 1:
                return f"layer {name} is listed more than once"
            if reason := bounds(weight):
                return f"the weight of {name} {reason}"
        if not any(w > 0 for _, w in value):
            return "at least one layer needs a positive weight"
        return None

    return rule


def _pairs(value: object) -> bool:
    """Whether `value` is a list or tuple of (text, number) pairs."""
    return isinstance(value, list | tuple) and all(
        isinstance(pair, Sequence) and len(pair) == 2 and is_number(pair[1]) for pair in value
    )
