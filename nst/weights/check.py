"""What --check-weights reports about a weights file: format, checksum, structure."""

from __future__ import annotations

from pathlib import Path

from nst.networks import VGG19, Network, network_of
from nst.weights.formats import WeightsError, file_format
from nst.weights.guard import read_weights
from nst.weights.mat_structure import check_mat_structure
from nst.weights.sources import digests, published_match


def describe_weights(path: Path, network: Network = VGG19) -> tuple[list[str], bool]:
    """Report lines about the weights file at `path`, and whether it is usable as `network`'s
    weights. The network the file holds is told by its layers, and named either way."""
    if not path.is_file():
        return [f"{path}: no such file"], False
    md5, sha256 = digests(path)
    published = published_match(md5, sha256)
    if published:
        checksum = f"matches the published {published.description} ({published.url})"
    else:
        checksum = "matches no published file (converted, damaged or incomplete?)"
    try:
        held = network_of(read_weights(path, network, either=True))
    except WeightsError as e:
        structure, usable = f"not usable: {e}", False
    else:
        structure = f"{held.title}: all {len(held.conv_layers)} conv layers, right shapes, "
        structure += "finite values"
        usable = held == network
        if not usable:
            structure += f"; not {network.title}: use it with --network {held.name}"
    lines = [
        f"file:      {path} ({path.stat().st_size:,} bytes)",
        f"format:    {_format_description(path)}",
        f"MD5:       {md5}",
        f"SHA-256:   {sha256}",
        f"checksum:  {checksum}",
        f"structure: {structure}",
    ]
    return lines, usable


def _format_description(path: Path) -> str:
    kind = file_format(path)
    if kind == "h5":
        return "HDF5 (Keras .h5)"
    if kind is None:
        return "neither MATLAB .mat nor HDF5"
    try:
        variables = set(check_mat_structure(path))  # not scipy's whosmat: it trusts the file
    except ValueError as e:
        return f"MATLAB .mat, damaged ({e})"
    if "meta" in variables:
        return "MatConvNet .mat, current layout"
    if "normalization" in variables:
        return "MatConvNet .mat, older beta16 layout"
    return "MATLAB .mat, not a known MatConvNet layout"
