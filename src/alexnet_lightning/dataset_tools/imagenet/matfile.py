"""A small reader for MATLAB level-5 .mat files: just enough for the ILSVRC2012 devkit's meta.mat.

It reads numeric, char, struct and cell arrays (compressed or not), so the devkit layout works
without scipy. Not supported: MATLAB 7.3 (HDF5) files, sparse arrays, objects, complex parts.
Values come back as: str (char row), list[str] (char matrix rows), a number or list of numbers
(column-major), list[dict] (struct array), list (cell array).
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import Any

MI_MATRIX, MI_COMPRESSED = 14, 15
MI_UTF8, MI_UTF16, MI_UTF32 = 16, 17, 18
# Data element type -> struct format character.
_NUMBER_FORMATS = {1: "b", 2: "B", 3: "h", 4: "H", 5: "i", 6: "I", 7: "f", 9: "d", 12: "q", 13: "Q"}
MX_CELL, MX_STRUCT, MX_CHAR = 1, 2, 4
_MX_NUMERIC = range(6, 16)  # double, single, int8 ... uint64


class MatFileError(ValueError):
    """The bytes are not a MATLAB level-5 file this reader understands."""


def load_mat(path: str | Path) -> dict[str, Any]:
    """Read the named variables of a level-5 .mat file."""
    data = Path(path).read_bytes()
    if len(data) < 128:
        raise MatFileError("too short for a MATLAB level-5 file")
    if data[:10] == b"MATLAB 7.3":
        raise MatFileError("MATLAB 7.3 (HDF5) files are not supported")
    endian = {b"IM": "<", b"MI": ">"}.get(data[126:128])
    if endian is None:
        raise MatFileError("no MATLAB level-5 header (endian mark missing)")
    variables: dict[str, Any] = {}
    pos = 128
    while pos + 8 <= len(data):
        kind, body, pos = _element(data, pos, endian)
        if kind == MI_COMPRESSED:
            try:
                inner = zlib.decompress(body)
            except zlib.error as err:
                raise MatFileError(f"corrupt compressed variable: {err}") from err
            kind, body, _ = _element(inner, 0, endian)
        if kind == MI_MATRIX and body:
            name, value = _matrix(body, endian)
            variables[name] = value
    return variables


def _element(buf: bytes, pos: int, endian: str) -> tuple[int, bytes, int]:
    """One data element at `pos`: (type, payload, position of the next element)."""
    if pos + 8 > len(buf):
        raise MatFileError("truncated data element")
    (first,) = struct.unpack_from(endian + "I", buf, pos)
    if first >> 16:
        # Small element: type and byte count share the first word, payload fits in 4 bytes.
        size = first >> 16
        return first & 0xFFFF, buf[pos + 4 : pos + 4 + size], pos + 8
    (size,) = struct.unpack_from(endian + "I", buf, pos + 4)
    end = pos + 8 + size
    if end > len(buf):
        raise MatFileError("truncated data element")
    # Elements are padded to 8 bytes, except compressed ones.
    return first, buf[pos + 8 : end], end if first == MI_COMPRESSED else end + (-size % 8)


def _numbers(kind: int, payload: bytes, endian: str) -> list[int | float]:
    fmt = _NUMBER_FORMATS.get(kind)
    if fmt is None:
        raise MatFileError(f"unsupported numeric data type {kind}")
    count = len(payload) // struct.calcsize(fmt)
    return list(struct.unpack_from(f"{endian}{count}{fmt}", payload))


def _text(kind: int, payload: bytes, endian: str) -> str:
    if kind == MI_UTF8:
        return payload.decode("utf-8")
    if kind == MI_UTF16:
        return payload.decode("utf-16-le" if endian == "<" else "utf-16-be")
    if kind == MI_UTF32:
        return payload.decode("utf-32-le" if endian == "<" else "utf-32-be")
    return "".join(chr(code) for code in _numbers(kind, payload, endian))


def _matrix(body: bytes, endian: str) -> tuple[str, Any]:
    """Decode the payload of an miMATRIX element into (name, value)."""
    _, flags, pos = _element(body, 0, endian)
    mx_class = struct.unpack_from(endian + "I", flags)[0] & 0xFF
    kind, dims_bytes, pos = _element(body, pos, endian)
    dims = [int(d) for d in _numbers(kind, dims_bytes, endian)]
    kind, name_bytes, pos = _element(body, pos, endian)
    name = name_bytes.decode("latin-1")
    count = math.prod(dims)

    if mx_class in _MX_NUMERIC:
        kind, payload, _ = _element(body, pos, endian)
        values = _numbers(kind, payload, endian)
        return name, values[0] if len(values) == 1 else values
    if mx_class == MX_CHAR:
        text = _text(*_element(body, pos, endian)[:2], endian) if count else ""
        rows = dims[0] if dims else 1
        if rows <= 1 or len(dims) != 2:
            return name, text
        # Column-major storage: row r is every rows-th character starting at r.
        return name, [text[r::rows] for r in range(rows)]
    if mx_class == MX_STRUCT:
        _, length_bytes, pos = _element(body, pos, endian)
        (name_length,) = struct.unpack_from(endian + "i", length_bytes)
        _, names_bytes, pos = _element(body, pos, endian)
        fields = [
            names_bytes[i : i + name_length].split(b"\0", 1)[0].decode("latin-1")
            for i in range(0, len(names_bytes), name_length)
        ]
        items = []
        for _ in range(count):
            item = {}
            for field in fields:
                pos, item[field] = _sub_matrix(body, pos, endian)
            items.append(item)
        return name, items
    if mx_class == MX_CELL:
        cells = []
        for _ in range(count):
            pos, value = _sub_matrix(body, pos, endian)
            cells.append(value)
        return name, cells
    return name, None  # sparse, object, function handle: not needed here


def _sub_matrix(body: bytes, pos: int, endian: str) -> tuple[int, Any]:
    kind, payload, pos = _element(body, pos, endian)
    if kind != MI_MATRIX:
        raise MatFileError(f"expected a nested array, found data type {kind}")
    # An empty field or cell ([] in MATLAB) is stored as an miMATRIX with no payload.
    return pos, _matrix(payload, endian)[1] if payload else None
