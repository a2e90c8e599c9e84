"""The sizes of VGG-19's conv layers for an input size: positions, memory and FLOP follow.

Each block after the first starts with a 2x2, stride-2, SAME pooling, which
halves the height and width, rounding up.
"""

from __future__ import annotations

from typing import NamedTuple

from nst.weights.formats import CONV_LAYERS, CONV_NAMES


class ConvShape(NamedTuple):
    """One conv layer: its name, its output's height and width, its input and output channels."""

    name: str
    height: int
    width: int
    channels_in: int
    channels_out: int


def deepest_layer(layers: list[str]) -> str:
    """The layer of `layers` that comes last in VGG-19 (the one a forward pass must reach)."""
    return max(layers, key=CONV_NAMES.index)


def conv_shapes(width: int, height: int, up_to: str) -> list[ConvShape]:
    """The conv layers from conv1_1 to `up_to` for an input of width x height pixels."""
    shapes = []
    h, w = height, width
    for i, (name, c_in, c_out) in enumerate(CONV_LAYERS[: CONV_NAMES.index(up_to) + 1]):
        if i > 0 and name[4] != CONV_NAMES[i - 1][4]:  # a new block: pooled first
            h, w = -(-h // 2), -(-w // 2)
        shapes.append(ConvShape(name, h, w, c_in, c_out))
    return shapes


def positions(layer: str, width: int, height: int) -> int:
    """n_H * n_W of `layer` for an input of width x height pixels."""
    shape = conv_shapes(width, height, layer)[-1]
    return shape.height * shape.width
