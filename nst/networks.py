"""The two networks a run may use, VGG-19 (the assignment's) and VGG-16: their conv layers,
and the files their weights are published as.

Both have five blocks of 3x3 conv layers with 64, 128, 256, 512 and 512 output
channels, each block ending in a 2x2 pooling. VGG-19's blocks hold 2, 2, 4, 4
and 4 conv layers, VGG-16's 2, 2, 3, 3 and 3: VGG-16 is VGG-19 without conv3_4,
conv4_4 and conv5_4, and its other layers have the same names and shapes.
Only the standard library is imported here, so the command line can check layer names
before TensorFlow loads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

BLOCK_CHANNELS = (64, 128, 256, 512, 512)
"""Output channels of the conv layers of each block."""
MATCONVNET_MODELS = "https://www.vlfeat.org/matconvnet/models/"


def _conv_layers(depths: tuple[int, ...]) -> tuple[tuple[str, int, int], ...]:
    """(name, input channels, output channels) of each conv layer, for blocks of these depths."""
    layers, n_in = [], 3
    for block, (depth, n_out) in enumerate(zip(depths, BLOCK_CHANNELS, strict=True), start=1):
        for k in range(1, depth + 1):
            layers.append((f"conv{block}_{k}", n_in, n_out))
            n_in = n_out
    return tuple(layers)


@dataclass(frozen=True)
class Network:
    """One VGG network. `name` is --network's value, `title` the name in messages;
    `conv_layers` are (name, input channels, output channels) in order; `mat_file` and
    `keras_file` are the names of MatConvNet's and Keras' (notop) weights files, and
    `mat_url` the official URL of MatConvNet's; `mat_size` its size in words, if known."""

    name: str
    title: str
    conv_layers: tuple[tuple[str, int, int], ...]
    mat_file: str
    keras_file: str
    mat_size: str | None = None

    @property
    def conv_names(self) -> tuple[str, ...]:
        """The conv layers' names, in order."""
        return tuple(name for name, _, _ in self.conv_layers)

    @property
    def mat_url(self) -> str:
        """Where MatConvNet publishes `mat_file`."""
        return MATCONVNET_MODELS + self.mat_file

    def lacking(self, layers: Iterable[str]) -> list[str]:
        """The names among `layers` that are not conv layers of this network, in their order."""
        return [name for name in layers if name not in self.conv_names]


def _vgg(depth: int, blocks: tuple[int, ...], mat_size: str | None = None) -> Network:
    """VGG-`depth` (its conv layers in `blocks`, plus three fully connected layers), with
    the names its publishers give its files."""
    return Network(
        f"vgg{depth}",
        f"VGG-{depth}",
        _conv_layers(blocks),
        f"imagenet-vgg-verydeep-{depth}.mat",
        f"vgg{depth}_weights_tf_dim_ordering_tf_kernels_notop.h5",
        mat_size,
    )


VGG19 = _vgg(19, (2, 2, 4, 4, 4), mat_size="510 MiB")
VGG16 = _vgg(16, (2, 2, 3, 3, 3))
NETWORKS: dict[str, Network] = {network.name: network for network in (VGG19, VGG16)}
"""The networks by --network's value; the first is the default."""
ALL_CONV_NAMES = tuple(dict.fromkeys(n for net in NETWORKS.values() for n in net.conv_names))
"""Every conv layer name of any network (VGG-19's, which include VGG-16's), in order."""


def network_holding(present: set[str], wanted: Network) -> Network:
    """The network a weights file holding the conv layers `present` is meant to be: the one
    whose layers they are exactly; else `wanted` when it has them all (the file lacks some
    of its layers); else the smallest network that has them all; else `wanted`."""
    exact = [net for net in NETWORKS.values() if set(net.conv_names) == present]
    if exact:
        return exact[0]
    if not wanted.lacking(present):
        return wanted
    holders = [net for net in NETWORKS.values() if not net.lacking(present)]
    return min(holders, key=lambda net: len(net.conv_layers), default=wanted)


def network_of(kernels: Mapping[str, object]) -> Network:
    """The network whose conv layers are exactly the keys of `kernels`; ValueError if none."""
    for network in NETWORKS.values():
        if set(network.conv_names) == set(kernels):
            return network
    raise ValueError(f"the layers {sorted(kernels)} are no VGG network's conv layers")
