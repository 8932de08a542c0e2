"""Programs past 4 GiB on disk that cost a few KiB to make: a small
one-engine program whose delegate segment is enlarged by a sparse hole.

Its engine must end in a line ``end``, after which the engine runtime reads
nothing: the CPU test engine (tests/engine/PROGRAM_FORMAT.md; built by
``EndedEngineBuilder`` in tests/engine/test_engine_builder.py) and the
TensorRT runtime double (tests/gpu/trt_double/PLAN_FORMAT.md;
``DoubleEngineBuilder(end_line=True)``), so the hole is never read. Every size
that covers the engine (the blob's engine entry, the segment table, the
extended header's segment data size, the file) is rewritten consistently, so
ExecuTorch, the whole-program check and the delegate see a real large file.

Nothing here depends on a builder or on ExecuTorch's Python: the GPU checks
(tests/gpu/gpu_checks.py) run it on the GPU machine, which has only torch,
the package and the flatbuffers package tests/gpu/bundle.sh copies.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Tuple

from flatbuffers.table import Table

from executorch_tensorrt.exporter import blob
from executorch_tensorrt.exporter.pte_file import SEGMENT, read_pte

FOUR_GIB = 2**32
# Program.segments and DataSegment.size (executorch/schema/program.fbs slots).
_PROGRAM_SEGMENTS_SLOT, _SEGMENT_SIZE_SLOT = 4, 1
_EXTENDED_HEADER_AT = 8


def _field_position(table: Table, slot: int) -> int:
    offset = table.Offset(4 + 2 * slot)
    if not offset:
        raise ValueError(f"field {slot} is absent (it holds the default); cannot rewrite it in place")
    return table.Pos + offset


def set_engine_size(data: bytearray, engine_bytes: int) -> Tuple[int, int, int]:
    """Rewrites, in the one-delegate program ``data``, the blob's engine size
    to ``engine_bytes`` (only that field). Returns the delegate's segment
    index, the segment's start in the file and the engine's offset in it."""
    pte = read_pte(bytes(data))
    (plan,) = pte.plans
    (delegate,) = plan.delegates
    if delegate.location != SEGMENT or pte.segment_base_offset is None:
        raise ValueError("the delegate's blob is not in a segment")
    index = delegate.index
    segment_offset, segment_size = pte.segments[index]
    if any(offset > segment_offset for offset, _ in pte.segments):
        raise ValueError("the delegate's segment is not the file's last")
    start = pte.segment_base_offset + segment_offset
    payload = bytes(data[start : start + segment_size])
    (entry,) = blob.decode_engines(payload)
    engine_offset = payload.index(entry.blob.engine, blob.HEADER_SIZE)
    if engine_offset + len(entry.blob.engine) != segment_size or engine_bytes < len(entry.blob.engine):
        raise ValueError("the engine must end the segment and may only grow")
    # The engine entry starts with (offset, size), both uint64.
    at = payload.index(struct.pack("<QQ", engine_offset, len(entry.blob.engine)), blob.HEADER_SIZE)
    struct.pack_into("<QQ", data, start + at, engine_offset, engine_bytes)
    return index, start, engine_offset


def enlarge_engine(source: Path, destination: Path, engine_bytes: int) -> Path:
    """Copies the one-delegate program ``source`` to ``destination`` with its
    engine grown to ``engine_bytes`` (a sparse hole after the program text).

    The delegate's segment must be the file's last: it then grows into the
    hole without moving anything else."""
    data = bytearray(source.read_bytes())
    small_size = len(data)
    index, start, engine_offset = set_engine_size(data, engine_bytes)
    new_segment_size = engine_offset + engine_bytes
    root = Table(data, int.from_bytes(data[:4], "little"))
    segments = root.Vector(root.Offset(4 + 2 * _PROGRAM_SEGMENTS_SLOT))
    segment = Table(data, root.Indirect(segments + 4 * index))
    struct.pack_into("<Q", data, _field_position(segment, _SEGMENT_SIZE_SLOT), new_segment_size)
    header_length = int.from_bytes(data[_EXTENDED_HEADER_AT + 4 : _EXTENDED_HEADER_AT + 8], "little")
    if header_length >= 32:  # the header records the segment data size too
        base = int.from_bytes(data[_EXTENDED_HEADER_AT + 16 : _EXTENDED_HEADER_AT + 24], "little")
        struct.pack_into("<Q", data, _EXTENDED_HEADER_AT + 24, start + new_segment_size - base)
    with open(destination, "wb") as out:
        out.write(data[: min(small_size, start + new_segment_size)])
    os.truncate(destination, start + new_segment_size)  # the hole: no data written
    return destination


def is_sparse(path: Path) -> bool:
    """True when the file holds far fewer blocks than its size (a hole)."""
    info = path.stat()
    return info.st_blocks * 512 < info.st_size // 16
