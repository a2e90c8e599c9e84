"""A walk over a MATLAB v5 .mat file's structure, before scipy.io.loadmat reads it.

scipy's reader trusts the file: a data element of an unknown type can crash the
process (a segmentation fault, which no `except` catches), and dimensions that
claim far more elements than the file holds make it allocate gigabytes before
failing. `check_mat_structure` reads only the tags (and the dimensions of each
array) and raises ValueError at the first element that is not well formed, so
such a file is refused with a message instead.

The layout (MATLAB's "MAT-File Format", level 5): a 128-byte header whose last
two bytes say the byte order ("IM" little-endian), then data elements. Each
element has a tag, (type: uint32, size in bytes: uint32), followed by its data,
padded to a multiple of 8 bytes; a "small" element packs size and type into the
first 4 bytes and its data into the next 4. A miCOMPRESSED element holds one
zlib-compressed element. A miMATRIX element holds sub-elements: the array flags
(whose low byte is the class), the dimensions, the name, then the class's data
(for cells and structs, more miMATRIX elements).
"""

from __future__ import annotations

import math
import mmap
import os
import struct
import zlib
from pathlib import Path

HEADER_BYTES = 128
LEVEL_5, MATLAB_73 = 1, 2  # the major version in the header (the high byte of bytes 124-125)
MI_INT8, MI_INT32, MI_UINT32 = 1, 5, 6
MI_MATRIX, MI_COMPRESSED = 14, 15
KNOWN_TYPES = {1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 14, 15, 16, 17, 18}
"""miINT8 .. miUTF32 (8, 10 and 11 are reserved)."""
MX_SPARSE = 5
MAX_DEPTH = 64


def check_mat_structure(path: str | os.PathLike) -> None:
    """Raise ValueError naming the first malformed element of the level-5 .mat file at `path`
    (a file of another version is left to scipy)."""
    with Path(path).open("rb") as file:
        if os.fstat(file.fileno()).st_size < HEADER_BYTES:
            raise ValueError("the file is shorter than a .mat header")
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            order = {b"IM": "<", b"MI": ">"}.get(data[126:128])
            if order is None:
                raise ValueError("the header's byte-order mark is neither 'IM' nor 'MI'")
            major = struct.unpack_from(order + "H", data, 124)[0] >> 8  # as scipy reads it
            if major == MATLAB_73:
                return  # HDF5 inside: scipy refuses it with its own error
            if major != LEVEL_5:
                raise ValueError(f"the header's version {major} is neither 1 (level 5) nor 2")
            _walk(data, HEADER_BYTES, len(data), order, depth=0)


def _walk(data, start: int, end: int, order: str, depth: int) -> None:
    """Check the elements in data[start:end] (bytes or a memory map) one after another."""
    if depth > MAX_DEPTH:
        raise ValueError(f"elements are nested more than {MAX_DEPTH} deep")
    offset = start
    while offset < end:
        offset = _element(data, offset, end, order, depth)


def _element(data, offset: int, end: int, order: str, depth: int) -> int:
    """Check the element at `offset`; returns the offset after it (and its padding)."""
    if end - offset < 8:
        raise ValueError(f"a data element's tag at byte {offset} is cut off")
    first, second = struct.unpack_from(order + "II", data, offset)
    if first >> 16:  # small element: size in the upper 16 bits, data in the next 4 bytes
        kind, size = first & 0xFFFF, first >> 16
        if kind not in KNOWN_TYPES or size > 4:
            raise ValueError(f"the small data element at byte {offset} is malformed")
        return offset + 8
    kind, size = first, second
    if kind not in KNOWN_TYPES:
        raise ValueError(f"the data element at byte {offset} has the unknown type {kind}")
    body = offset + 8
    if size > end - body:
        raise ValueError(
            f"the data element at byte {offset} claims {size:,} bytes, more than remain"
        )
    if kind == MI_COMPRESSED:
        try:
            inflated = zlib.decompress(data[body : body + size])
        except zlib.error as e:
            raise ValueError(f"the compressed element at byte {offset} is damaged ({e})") from None
        _walk(inflated, 0, len(inflated), order, depth + 1)
        return body + size  # compressed elements are not padded
    if kind == MI_MATRIX:
        _matrix(data, body, body + size, order, depth)
    return min(body + size + (-size % 8), end)  # the last element may lack its padding


def _matrix(data, start: int, end: int, order: str, depth: int) -> None:
    """Check a miMATRIX element's sub-elements, and that its dimensions fit its size."""
    if start == end:
        return  # an empty matrix
    if end - start < 16:
        raise ValueError(f"the array at byte {start - 8} is too short for its array flags")
    flags_type, flags_size = struct.unpack_from(order + "II", data, start)
    if flags_type != MI_UINT32 or flags_size != 8:
        raise ValueError(f"the array at byte {start - 8} lacks its array flags")
    array_class = struct.unpack_from(order + "I", data, start + 8)[0] & 0xFF
    dims_at = start + 16
    if end - dims_at < 8:
        raise ValueError(f"the array at byte {start - 8} lacks its dimensions")
    dims_type, dims_size = struct.unpack_from(order + "II", data, dims_at)
    if dims_type != MI_INT32 or dims_size % 4 or dims_size > end - dims_at - 8:
        raise ValueError(f"the dimensions of the array at byte {start - 8} are malformed")
    dims = struct.unpack_from(f"{order}{dims_size // 4}i", data, dims_at + 8)
    if any(d < 0 for d in dims):
        raise ValueError(f"the array at byte {start - 8} has a negative dimension {dims}")
    if array_class != MX_SPARSE and math.prod(dims) > end - start:
        raise ValueError(
            f"the array at byte {start - 8} claims {math.prod(dims):,} elements "
            f"in {end - start:,} bytes"
        )
    _walk(data, start, end, order, depth + 1)
