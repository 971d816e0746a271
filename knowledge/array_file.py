"""A file of named numpy arrays, memory-mapped read-only when opened.

Layout: 8 bytes header length (little-endian), a JSON header {"build_id", "arrays": {name: {dtype, shape,
offset}}}, then each array at a 64-byte-aligned offset. Opening maps the file; pages are read on first use, so
a million-clause index opens in milliseconds and a question touches only the postings of its own terms.
No pickle is involved: the header is JSON and the arrays are raw numbers.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ALIGN = 64


def write_arrays(path: Path, build_id: str, arrays: Mapping[str, NDArray[Any]]) -> None:
    header: dict[str, Any] = {"build_id": build_id, "arrays": {}}
    offset = 0
    for name, array in arrays.items():
        header["arrays"][name] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset}
        offset += -(-array.nbytes // ALIGN) * ALIGN
    encoded = json.dumps(header).encode("utf-8")
    start = -(-(8 + len(encoded)) // ALIGN) * ALIGN
    with path.open("wb") as out:
        out.write(struct.pack("<Q", len(encoded)))
        out.write(encoded)
        out.write(b"\0" * (start - 8 - len(encoded)))
        for name, array in arrays.items():
            position = start + header["arrays"][name]["offset"]
            out.seek(position)
            out.write(np.ascontiguousarray(array).tobytes())
        out.truncate(start + offset)


def read_arrays(path: Path) -> tuple[str, dict[str, NDArray[Any]]]:
    """(build id, arrays) with each array a read-only memory map into the file."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise ValueError(f"{path}: too short to be an index ({size} bytes)")
        (length,) = struct.unpack("<Q", prefix)
        if length > size - 8:
            raise ValueError(f"{path}: header length {length} exceeds the file")
        try:
            header = json.loads(handle.read(length).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: unreadable header ({exc})") from exc
    start = -(-(8 + length) // ALIGN) * ALIGN
    for name, spec in header["arrays"].items():
        end = start + spec["offset"] + np.dtype(spec["dtype"]).itemsize * int(np.prod(spec["shape"]))
        if end > size:
            raise ValueError(f"{path}: array {name} ends past the end of the file (truncated)")
    arrays: dict[str, NDArray[Any]] = {}
    for name, spec in header["arrays"].items():
        shape = tuple(spec["shape"])
        if int(np.prod(shape)) == 0:
            arrays[name] = np.zeros(shape, dtype=np.dtype(spec["dtype"]))
            continue
        mapped = np.memmap(
            path, dtype=np.dtype(spec["dtype"]), mode="r", offset=start + spec["offset"], shape=shape
        )
        # A plain ndarray view of the same pages: indexing an np.memmap wraps every slice and scalar in a new
        # memmap object, which costs microseconds per posting list on the query path.
        arrays[name] = np.asarray(mapped)
    return str(header["build_id"]), arrays
