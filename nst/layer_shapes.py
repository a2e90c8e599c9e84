"""The sizes of a VGG network's conv layers for an input size: positions, memory and FLOP follow.

Each block after the first starts with a 2x2, stride-2, SAME pooling, which
halves the height and width, rounding up.
"""

from __future__ import annotations

from typing import NamedTuple

from nst.networks import VGG19, Network


class ConvShape(NamedTuple):
    """One conv layer: its name, its output's height and width, its input and output channels."""

    name: str
    height: int
    width: int
    channels_in: int
    channels_out: int


def deepest_layer(layers: list[str], network: Network = VGG19) -> str:
    """The layer of `layers` that comes last in `network` (the one a forward pass must reach)."""
    return max(layers, key=network.conv_names.index)


def conv_shapes(width: int, height: int, up_to: str, network: Network = VGG19) -> list[ConvShape]:
    """`network`'s conv layers from conv1_1 to `up_to` for an input of width x height pixels."""
    shapes = []
    h, w = height, width
    names = network.conv_names
    for i, (name, c_in, c_out) in enumerate(network.conv_layers[: names.index(up_to) + 1]):
        if i > 0 and name[4] != names[i - 1][4]:  # a new block: pooled first
            h, w = -(-h // 2), -(-w // 2)
        shapes.append(ConvShape(name, h, w, c_in, c_out))
    return shapes


def positions(layer: str, width: int, height: int) -> int:
    """n_H * n_W of `layer` for an input of width x height pixels (the same in every VGG:
    the block, in the name, tells how many poolings came before)."""
    shape = conv_shapes(width, height, layer)[-1]
    return shape.height * shape.width
