"""A walk over a MATLAB v5 .mat file's structure, before scipy.io.loadmat reads it.

scipy's reader trusts the file: a data element of an unknown type, or an array
marked complex without its imaginary part, can crash the process (a
segmentation fault, which no `except` catches), and dimensions that claim far
more elements than the file holds make it allocate gigabytes before failing.
`check_mat_structure` reads only the tags and each array's flags, dimensions
and sub-element layout, and raises ValueError at the first element that is not
well formed, so such a file is refused with a message instead. (The program
still reads unpublished files in a child process, nst.weights.guard: this walk
makes the message precise, the child makes a crash harmless.)

The layout (MATLAB's "MAT-File Format", level 5): a 128-byte header whose last
two bytes say the byte order ("IM" little-endian), then data elements. Each
element has a tag, (type: uint32, size in bytes: uint32), followed by its data,
padded to a multiple of 8 bytes; a "small" element packs size and type into the
first 4 bytes and its data into the next 4. A miCOMPRESSED element holds one
zlib-compressed element. A miMATRIX element holds sub-elements: the array flags
(whose low byte is the class), the dimensions, the name, then the class's data
(for cells and structs, more miMATRIX elements): for a numeric class, the real
part and, when the complex flag is set, the imaginary part, each with one
value per element; for a char array, its characters; for a cell, one miMATRIX
per element; for a struct (and an object, after its class name), the length
of a field name, the field names, then one miMATRIX per element and field;
for a sparse array, its row indices, column starts and values.
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
MI_NUMBER_BYTES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8}
"""Bytes per value of the numeric data types miINT8 .. miUINT64."""
MI_TEXT = {1, 2, 3, 4, 16, 17, 18}
"""The data types a char array may store its characters in (integers, UTF-8/16/32)."""
KNOWN_TYPES = {*MI_NUMBER_BYTES, *MI_TEXT, MI_MATRIX, MI_COMPRESSED}
"""miINT8 .. miUTF32 (8, 10 and 11 are reserved)."""
MX_CELL, MX_STRUCT, MX_OBJECT, MX_CHAR, MX_SPARSE = 1, 2, 3, 4, 5
MX_NUMERIC = range(6, 16)
"""mxDOUBLE_CLASS .. mxUINT64_CLASS."""
COMPLEX_FLAG = 0x0800
MAX_DEPTH = 64


def check_mat_structure(path: str | os.PathLike) -> list[str]:
    """The names of the variables in the level-5 .mat file at `path`; raises ValueError naming
    the first malformed element ([] for a MATLAB 7.3 file, which is left to scipy)."""
    with Path(path).open("rb") as file:
        if os.fstat(file.fileno()).st_size < HEADER_BYTES:
            raise ValueError("the file is shorter than a .mat header")
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            order = {b"IM": "<", b"MI": ">"}.get(data[126:128])
            if order is None:
                raise ValueError("the header's byte-order mark is neither 'IM' nor 'MI'")
            major = struct.unpack_from(order + "H", data, 124)[0] >> 8  # as scipy reads it
            if major == MATLAB_73:
                return []  # HDF5 inside: scipy refuses it with its own error
            if major != LEVEL_5:
                raise ValueError(f"the header's version {major} is neither 1 (level 5) nor 2")
            return _variables(data, HEADER_BYTES, len(data), order)


def _variables(data, start: int, end: int, order: str) -> list[str]:
    """Check the top-level elements in data[start:end]; the names of the arrays they hold."""
    names = []
    for kind, body, size in _elements(data, start, end, order):
        if kind == MI_COMPRESSED:
            try:
                inflated = zlib.decompress(data[body : body + size])
            except zlib.error as e:
                raise ValueError(
                    f"the compressed element at byte {body - 8} is damaged ({e})"
                ) from None
            names += _variables(inflated, 0, len(inflated), order)
        elif kind == MI_MATRIX:
            names.append(_matrix(data, body, body + size, order, depth=0))
        else:
            raise ValueError(f"the element at byte {body - 8} is of type {kind}, not an array")
    return names


def _elements(data, start: int, end: int, order: str):
    """(type, offset of its data, size in bytes) of each element in data[start:end] in turn,
    after checking its tag."""
    offset = start
    while offset < end:
        if end - offset < 8:
            raise ValueError(f"a data element's tag at byte {offset} is cut off")
        first, second = struct.unpack_from(order + "II", data, offset)
        if first >> 16:  # small element: size in the upper 16 bits, data in the next 4 bytes
            kind, size = first & 0xFFFF, first >> 16
            if kind not in KNOWN_TYPES or size > 4:
                raise ValueError(f"the small data element at byte {offset} is malformed")
            yield kind, offset + 4, size
            offset += 8
            continue
        kind, size, body = first, second, offset + 8
        if kind not in KNOWN_TYPES:
            raise ValueError(f"the data element at byte {offset} has the unknown type {kind}")
        if size > end - body:
            raise ValueError(
                f"the data element at byte {offset} claims {size:,} bytes, more than remain"
            )
        yield kind, body, size
        # compressed elements are not padded; the last element may lack its padding
        offset = body + size if kind == MI_COMPRESSED else min(body + size + (-size % 8), end)


def _matrix(data, start: int, end: int, order: str, depth: int) -> str:
    """Check the miMATRIX element whose data is data[start:end]; returns its name."""
    if start == end:
        return ""  # an empty matrix
    if depth > MAX_DEPTH:
        raise ValueError(f"arrays are nested more than {MAX_DEPTH} deep")
    at = f"the array at byte {start - 8}"
    parts = _elements(data, start, end, order)
    flags_type, flags_at, flags_size = _next(parts, at, "its array flags")
    if flags_type != MI_UINT32 or flags_size != 8:
        raise ValueError(f"{at} lacks its array flags")
    flags = struct.unpack_from(order + "I", data, flags_at)[0]
    array_class = flags & 0xFF
    dims_type, dims_at, dims_size = _next(parts, at, "its dimensions")
    if dims_type != MI_INT32 or dims_size % 4 or not dims_size:
        raise ValueError(f"the dimensions of {at} are malformed")
    dims = struct.unpack_from(f"{order}{dims_size // 4}i", data, dims_at)
    if any(d < 0 for d in dims):
        raise ValueError(f"{at} has a negative dimension {dims}")
    count = math.prod(dims)
    if array_class != MX_SPARSE and count > end - start:
        raise ValueError(f"{at} claims {count:,} elements in {end - start:,} bytes")
    name_type, name_at, name_size = _next(parts, at, "its name")
    if name_type != MI_INT8:
        raise ValueError(f"the name of {at} is not text")
    name = bytes(data[name_at : name_at + name_size]).decode("latin-1")
    if array_class in MX_NUMERIC:
        _values(parts, at, "real part", count)
        if flags & COMPLEX_FLAG:
            _values(parts, at, "imaginary part", count)
    elif array_class == MX_CHAR:  # one element, even for no characters, as scipy reads it
        kind, _, _ = _next(parts, at, "its characters")
        if kind not in MI_TEXT:
            raise ValueError(f"the characters of {at} are of type {kind}, not text")
    elif array_class == MX_CELL:
        _arrays(data, parts, at, count, order, depth)
    elif array_class in (MX_STRUCT, MX_OBJECT):
        if array_class == MX_OBJECT:
            _text(parts, at, "its class name")
        length_type, length_at, length_size = _next(parts, at, "its field name length")
        if length_type != MI_INT32 or length_size != 4:
            raise ValueError(f"the field name length of {at} is malformed")
        length = struct.unpack_from(order + "i", data, length_at)[0]
        names_size = _text(parts, at, "its field names")
        if length <= 0 or names_size % length:
            raise ValueError(f"the field names of {at} do not fit their length {length}")
        _arrays(data, parts, at, count * (names_size // length), order, depth)
    elif array_class == MX_SPARSE:
        for what in ("row indices", "column starts"):
            if _next(parts, at, f"its {what}")[0] != MI_INT32:
                raise ValueError(f"the {what} of {at} are not int32")
        _values(parts, at, "values", None)
        if flags & COMPLEX_FLAG:
            _values(parts, at, "imaginary values", None)
    else:
        raise ValueError(f"{at} has the array class {array_class}, which no weights file uses")
    extra = next(parts, None)
    if extra is not None:
        raise ValueError(f"{at} has a data element too many at byte {extra[1] - 8}")
    return name


def _next(parts, at: str, what: str) -> tuple[int, int, int]:
    """The next sub-element of an array, which must be there."""
    part = next(parts, None)
    if part is None:
        raise ValueError(f"{at} lacks {what}")
    return part


def _values(parts, at: str, what: str, count: int | None) -> None:
    """Check the next sub-element: numbers, `count` of them (when given)."""
    kind, _, size = _next(parts, at, f"its {what}")
    width = MI_NUMBER_BYTES.get(kind)
    if width is None:
        raise ValueError(f"the {what} of {at} is of type {kind}, not numbers")
    if count is not None and size != count * width:
        raise ValueError(f"the {what} of {at} holds {size // width:,} values, not {count:,}")


def _text(parts, at: str, what: str) -> int:
    """Check the next sub-element: bytes of text (miINT8); returns their number."""
    kind, _, size = _next(parts, at, what)
    if kind != MI_INT8:
        raise ValueError(f"{what} of {at} is not text")
    return size


def _arrays(data, parts, at: str, count: int, order: str, depth: int) -> None:
    """Check the next `count` sub-elements: arrays (miMATRIX), each walked in turn."""
    for _ in range(count):
        kind, body, size = _next(parts, at, f"its {count:,} elements")
        if kind != MI_MATRIX:
            raise ValueError(f"an element of {at} is of type {kind}, not an array")
        _matrix(data, body, body + size, order, depth + 1)
