"""The delegate blob: versioned header + metadata + engine bytes.

The layout is specified in ``docs/blob_format.md``; the C++ reader is
``backend/delegate_blob.cpp``. The two are tested against each other.
Version 1 (``encode``/``decode``) holds one engine; version 2
(``encode_engines``/``decode_engines``), which the exporter writes, is a
container of version-1 blobs, one per engine of the delegate.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

MAGIC = b"ETRT"
FORMAT_VERSION = 1
HEADER_SIZE = 40
ENGINE_ALIGNMENT = 64

_HEADER = struct.Struct("<4sHHQQQQ")
assert _HEADER.size == HEADER_SIZE

MAX_NAME_BYTES = 1024
MAX_VERSION_BYTES = 64
MAX_PROFILES = 64
MAX_TENSORS = 1024
MAX_RANK = 16


class Flavour(enum.IntEnum):
    """Which TensorRT builder made the engine."""

    TENSORRT = 1
    TENSORRT_RTX = 2
    TEST = 240  # the test engine under tests/; never produced for users

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> "Flavour":
        for member in cls:
            if member.label == label:
                return member
        known = ", ".join(m.label for m in cls)
        raise ValueError(f"unknown TensorRT flavour {label!r}; expected one of: {known}")


# ExecuTorch ScalarType codes (runtime/core/portable_type/scalar_type.h).
SCALAR_TYPE_NAMES = {
    0: "uint8",
    1: "int8",
    2: "int16",
    3: "int32",
    4: "int64",
    5: "float16",
    6: "float32",
    7: "float64",
    11: "bool",
    15: "bfloat16",
}


@dataclass(frozen=True)
class ShapeRange:
    """One optimization profile's range for one tensor."""

    min: Tuple[int, ...]
    opt: Tuple[int, ...]
    max: Tuple[int, ...]

    @classmethod
    def static(cls, shape: Sequence[int]) -> "ShapeRange":
        dims = tuple(int(d) for d in shape)
        return cls(dims, dims, dims)

    def __post_init__(self) -> None:
        if not (len(self.min) == len(self.opt) == len(self.max)):
            raise ValueError(f"shape range ranks differ: {self}")
        for lo, mid, hi in zip(self.min, self.opt, self.max):
            if not 0 <= lo <= mid <= hi:
                raise ValueError(f"shape range must satisfy 0 <= min <= opt <= max per dim: {self}")


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: int  # ExecuTorch ScalarType code
    ranges: Tuple[ShapeRange, ...]  # one per optimization profile

    @property
    def rank(self) -> int:
        return len(self.ranges[0].min)

    @property
    def dtype_name(self) -> str:
        return SCALAR_TYPE_NAMES.get(self.dtype, f"scalar_type_{self.dtype}")


@dataclass(frozen=True)
class EngineMetadata:
    flavour: Flavour
    builder_version: str
    inputs: Tuple[TensorSpec, ...]
    outputs: Tuple[TensorSpec, ...]
    device_index: int = 0
    version_compatible: bool = False
    num_profiles: int = 1


@dataclass(frozen=True)
class DelegateBlob:
    metadata: EngineMetadata
    engine: bytes = field(repr=False)


class BlobFormatError(ValueError):
    """The bytes are not a valid delegate blob."""


def _encode_str(text: str, limit: int, what: str) -> bytes:
    data = text.encode("utf-8")
    if not 1 <= len(data) <= limit:
        raise ValueError(f"{what} must be 1..{limit} UTF-8 bytes, got {len(data)}: {text!r}")
    if b"\x00" in data:
        raise ValueError(f"{what} must not contain NUL: {text!r}")
    return struct.pack("<I", len(data)) + data


def _encode_metadata(meta: EngineMetadata) -> bytes:
    if not 1 <= meta.num_profiles <= MAX_PROFILES:
        raise ValueError(f"num_profiles must be 1..{MAX_PROFILES}, got {meta.num_profiles}")
    if not meta.outputs:
        raise ValueError("an engine needs at least one output")
    if len(meta.inputs) > MAX_TENSORS or len(meta.outputs) > MAX_TENSORS:
        raise ValueError(f"at most {MAX_TENSORS} inputs and {MAX_TENSORS} outputs")
    if not 0 <= meta.device_index < 2**31:
        raise ValueError(f"device_index must be in 0..{2**31 - 1}, got {meta.device_index}")
    names = [t.name for t in (*meta.inputs, *meta.outputs)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"tensor names must be unique; repeated: {duplicates}")
    out = bytearray()
    out += struct.pack("<BBHi", int(meta.flavour), int(meta.version_compatible), 0, meta.device_index)
    out += _encode_str(meta.builder_version, MAX_VERSION_BYTES, "builder_version")
    out += struct.pack("<III", meta.num_profiles, len(meta.inputs), len(meta.outputs))
    for spec in (*meta.inputs, *meta.outputs):
        if len(spec.ranges) != meta.num_profiles:
            raise ValueError(
                f"tensor {spec.name!r} has {len(spec.ranges)} shape ranges, expected one per profile ({meta.num_profiles})"
            )
        if spec.rank > MAX_RANK:
            raise ValueError(f"tensor {spec.name!r} has rank {spec.rank}; at most {MAX_RANK}")
        if spec.dtype not in SCALAR_TYPE_NAMES:
            raise ValueError(f"tensor {spec.name!r} has unsupported dtype code {spec.dtype}")
        out += _encode_str(spec.name, MAX_NAME_BYTES, "tensor name")
        out += struct.pack("<BBH", spec.dtype, spec.rank, 0)
        for shape_range in spec.ranges:
            if len(shape_range.min) != spec.rank:
                raise ValueError(f"tensor {spec.name!r}: all profiles must have rank {spec.rank}")
            for dims in (shape_range.min, shape_range.opt, shape_range.max):
                out += struct.pack(f"<{spec.rank}q", *dims)
    return bytes(out)


def encode(blob: DelegateBlob) -> bytes:
    """Serialize ``blob`` as format version 1."""
    if not blob.engine:
        raise ValueError("engine bytes are empty")
    metadata = _encode_metadata(blob.metadata)
    metadata_offset = HEADER_SIZE
    engine_offset = -(-(metadata_offset + len(metadata)) // ENGINE_ALIGNMENT) * ENGINE_ALIGNMENT
    header = _HEADER.pack(
        MAGIC, FORMAT_VERSION, HEADER_SIZE, metadata_offset, len(metadata), engine_offset, len(blob.engine)
    )
    padding = b"\x00" * (engine_offset - metadata_offset - len(metadata))
    return header + metadata + padding + bytes(blob.engine)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self._pos + size > len(self._data):
            raise BlobFormatError(f"metadata truncated at byte {self._pos}: needed {size} more bytes")
        values = struct.unpack_from(fmt, self._data, self._pos)
        self._pos += size
        return values

    def text(self, limit: int, what: str) -> str:
        (length,) = self.take("<I")
        if not 1 <= length <= limit:
            raise BlobFormatError(f"{what} length {length} outside 1..{limit}")
        (raw,) = self.take(f"<{length}s")
        if b"\x00" in raw:
            raise BlobFormatError(f"{what} contains NUL")
        # Lenient like the C++ reader, which treats names as bytes.
        return raw.decode("utf-8", errors="replace")

    def done(self) -> None:
        if self._pos != len(self._data):
            raise BlobFormatError(f"{len(self._data) - self._pos} trailing bytes after metadata")


def decode(data: bytes) -> DelegateBlob:
    """Parse a blob; used by ``inspect``. The delegate has its own C++ reader."""
    if len(data) < HEADER_SIZE:
        raise BlobFormatError(f"blob is {len(data)} bytes, shorter than the {HEADER_SIZE}-byte header")
    magic, version, header_size, meta_off, meta_size, eng_off, eng_size = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise BlobFormatError(f"bad magic {magic!r}; not an executorch-tensorrt delegate blob")
    if version != FORMAT_VERSION:
        raise BlobFormatError(f"blob format version {version} is not supported (this reader knows {FORMAT_VERSION})")
    if header_size != HEADER_SIZE:
        raise BlobFormatError(f"header size {header_size}, expected {HEADER_SIZE}")
    for what, off, size in (("metadata", meta_off, meta_size), ("engine", eng_off, eng_size)):
        if off < HEADER_SIZE or off + size > len(data):
            raise BlobFormatError(f"{what} [{off}, +{size}) outside the {len(data)}-byte blob")
    if eng_size == 0:
        raise BlobFormatError("engine is empty")
    if eng_off % ENGINE_ALIGNMENT:
        raise BlobFormatError(f"engine offset {eng_off} is not {ENGINE_ALIGNMENT}-byte aligned")
    if meta_off < eng_off + eng_size and eng_off < meta_off + meta_size:
        raise BlobFormatError("metadata and engine overlap")
    reader = _Reader(data[meta_off : meta_off + meta_size])
    flavour_code, version_compatible, _reserved, device_index = reader.take("<BBHi")
    try:
        flavour = Flavour(flavour_code)
    except ValueError:
        raise BlobFormatError(f"unknown flavour code {flavour_code}") from None
    if version_compatible not in (0, 1):
        raise BlobFormatError(f"version_compatible must be 0 or 1, got {version_compatible}")
    if device_index < 0:
        raise BlobFormatError(f"negative device index {device_index}")
    builder_version = reader.text(MAX_VERSION_BYTES, "builder_version")
    num_profiles, num_inputs, num_outputs = reader.take("<III")
    if not 1 <= num_profiles <= MAX_PROFILES:
        raise BlobFormatError(f"num_profiles {num_profiles} outside 1..{MAX_PROFILES}")
    if num_inputs > MAX_TENSORS or not 1 <= num_outputs <= MAX_TENSORS:
        raise BlobFormatError(f"tensor counts out of range: {num_inputs} inputs, {num_outputs} outputs")
    specs: List[TensorSpec] = []
    for _ in range(num_inputs + num_outputs):
        name = reader.text(MAX_NAME_BYTES, "tensor name")
        dtype, rank, _pad = reader.take("<BBH")
        if dtype not in SCALAR_TYPE_NAMES:
            raise BlobFormatError(f"tensor {name!r} has unknown dtype code {dtype}")
        if rank > MAX_RANK:
            raise BlobFormatError(f"tensor {name!r} rank {rank} > {MAX_RANK}")
        ranges = []
        for _p in range(num_profiles):
            dims = [reader.take(f"<{rank}q") for _k in range(3)]
            try:
                ranges.append(ShapeRange(*dims))
            except ValueError as err:
                raise BlobFormatError(f"tensor {name!r}: {err}") from None
        if any(s.name == name for s in specs):
            raise BlobFormatError(f"tensor name {name!r} appears twice")
        specs.append(TensorSpec(name, dtype, tuple(ranges)))
    reader.done()
    meta = EngineMetadata(
        flavour=flavour,
        builder_version=builder_version,
        inputs=tuple(specs[:num_inputs]),
        outputs=tuple(specs[num_inputs:]),
        device_index=device_index,
        version_compatible=bool(version_compatible),
        num_profiles=num_profiles,
    )
    return DelegateBlob(meta, bytes(data[eng_off : eng_off + eng_size]))


# Format version 2: a container of version-1 blobs, one per engine.
ENGINES_FORMAT_VERSION = 2
CONTAINER_HEADER_SIZE = 16
ENGINE_ENTRY_SIZE = 32
MAX_ENGINES = 16
UNKNOWN_EXECUTION_MEMORY = -1

_CONTAINER_HEADER = struct.Struct("<4sHHII")
_ENGINE_ENTRY = struct.Struct("<QQqQ")
assert _CONTAINER_HEADER.size == CONTAINER_HEADER_SIZE and _ENGINE_ENTRY.size == ENGINE_ENTRY_SIZE


@dataclass(frozen=True)
class EngineEntry:
    """One engine of a delegate and its execution-context memory need in bytes
    (-1: not known at export; TensorRT-RTX compiles for the device at load)."""

    blob: DelegateBlob
    execution_memory_bytes: int = UNKNOWN_EXECUTION_MEMORY


def _tensor_signature(specs: Sequence[TensorSpec]) -> List[Tuple[str, str, int]]:
    return [(s.name, s.dtype_name, s.rank) for s in specs]


def engines_disagreement(metas: Sequence[EngineMetadata]) -> str:
    """'' when every engine has the first one's flavour, builder, device and
    I/O (count, order, names, dtypes, ranks); else the first difference."""
    first = metas[0]
    for index, meta in enumerate(metas[1:], start=1):
        for what, mine, theirs in (
            ("flavour", meta.flavour.label, first.flavour.label),
            ("version_compatible", meta.version_compatible, first.version_compatible),
            ("device_index", meta.device_index, first.device_index),
            ("builder_version", meta.builder_version, first.builder_version),
            ("inputs (name, dtype, rank)", _tensor_signature(meta.inputs), _tensor_signature(first.inputs)),
            ("outputs (name, dtype, rank)", _tensor_signature(meta.outputs), _tensor_signature(first.outputs)),
        ):
            if mine != theirs:
                return f"engine {index} differs from engine 0 in {what}: {mine!r} vs {theirs!r}"
    return ""


def max_input_volume(meta: EngineMetadata) -> int:
    """The largest, over the engine's profiles, sum over inputs of the product
    of the ``max`` dims: how the delegate compares engines' sizes."""
    volumes = []
    for profile in range(meta.num_profiles):
        total = 0
        for spec in meta.inputs:
            product = 1
            for dim in spec.ranges[profile].max:
                product *= dim
            total += product
        volumes.append(total)
    return max(volumes, default=0)


def _align(offset: int) -> int:
    return -(-offset // ENGINE_ALIGNMENT) * ENGINE_ALIGNMENT


def encode_engines(entries: Sequence[EngineEntry]) -> bytes:
    """Serialize a delegate of one or more engines as format version 2."""
    entries = list(entries)
    if not 1 <= len(entries) <= MAX_ENGINES:
        raise ValueError(f"a delegate holds 1..{MAX_ENGINES} engines, got {len(entries)}")
    for index, entry in enumerate(entries):
        if not isinstance(entry, EngineEntry):
            raise TypeError(f"engine {index} must be an EngineEntry, got {type(entry).__name__}")
        need = entry.execution_memory_bytes
        if isinstance(need, bool) or not isinstance(need, int) or not -1 <= need < 2**63:
            raise ValueError(
                f"engine {index}: execution_memory_bytes must be an int in -1..2**63-1 (-1: unknown), got {need!r}"
            )
    problem = engines_disagreement([e.blob.metadata for e in entries])
    if problem:
        raise ValueError(f"the engines of one delegate must agree on all but their shape ranges: {problem}")
    parts = [encode(e.blob) for e in entries]
    table_end = CONTAINER_HEADER_SIZE + ENGINE_ENTRY_SIZE * len(entries)
    out = bytearray(_CONTAINER_HEADER.pack(MAGIC, ENGINES_FORMAT_VERSION, CONTAINER_HEADER_SIZE, len(entries), 0))
    offsets = []
    offset = _align(table_end)
    for part in parts:
        offsets.append(offset)
        offset = _align(offset + len(part))
    for entry, part, start in zip(entries, parts, offsets, strict=True):
        out += _ENGINE_ENTRY.pack(start, len(part), entry.execution_memory_bytes, 0)
    for part, start in zip(parts, offsets, strict=True):
        out += b"\x00" * (start - len(out))
        out += part
    return bytes(out)


def engine_count(data: bytes) -> int:
    """How many engines a delegate blob holds, from its header alone (1 for
    version 1), without copying engine bytes; 1 for anything unreadable,
    which decode_engines() reports properly."""
    if len(data) < CONTAINER_HEADER_SIZE or data[:4] != MAGIC:
        return 1
    _magic, version, _header_size, num_engines, _reserved = _CONTAINER_HEADER.unpack_from(data, 0)
    return num_engines if version == ENGINES_FORMAT_VERSION and num_engines > 0 else 1


def decode_engines(data: bytes) -> List[EngineEntry]:
    """Parse a delegate blob of either version: version 1 is one engine of
    unknown execution memory. Used by ``inspect`` and the tests."""
    if len(data) < CONTAINER_HEADER_SIZE:
        raise BlobFormatError(f"blob is {len(data)} bytes, shorter than the {CONTAINER_HEADER_SIZE}-byte header")
    magic, version, header_size, num_engines, _reserved = _CONTAINER_HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise BlobFormatError(f"bad magic {magic!r}; not an executorch-tensorrt delegate blob")
    if version == FORMAT_VERSION:
        return [EngineEntry(decode(data))]
    if version != ENGINES_FORMAT_VERSION:
        raise BlobFormatError(
            f"blob format version {version} is not supported "
            f"(this reader knows {FORMAT_VERSION} and {ENGINES_FORMAT_VERSION})"
        )
    if header_size != CONTAINER_HEADER_SIZE:
        raise BlobFormatError(f"header size {header_size}, expected {CONTAINER_HEADER_SIZE}")
    if not 1 <= num_engines <= MAX_ENGINES:
        raise BlobFormatError(f"num_engines {num_engines} outside 1..{MAX_ENGINES}")
    table_end = CONTAINER_HEADER_SIZE + ENGINE_ENTRY_SIZE * num_engines
    if table_end > len(data):
        raise BlobFormatError(f"engine table of {num_engines} entries runs past the {len(data)}-byte blob")
    entries: List[EngineEntry] = []
    spans: List[Tuple[int, int]] = []
    for index in range(num_engines):
        entry_at = CONTAINER_HEADER_SIZE + ENGINE_ENTRY_SIZE * index
        offset, size, need, _reserved = _ENGINE_ENTRY.unpack_from(data, entry_at)
        where = f"engine {index}"
        if offset % ENGINE_ALIGNMENT:
            raise BlobFormatError(f"{where} offset {offset} is not {ENGINE_ALIGNMENT}-byte aligned")
        if offset < table_end:
            raise BlobFormatError(
                f"{where} offset {offset} lies inside the header or engine table (ends at {table_end})"
            )
        if size == 0:
            raise BlobFormatError(f"{where} is empty")
        if offset + size > len(data):
            raise BlobFormatError(f"{where} [{offset}, +{size}) outside the {len(data)}-byte blob")
        if need < UNKNOWN_EXECUTION_MEMORY:
            raise BlobFormatError(f"{where} execution_memory_bytes {need} is negative (only -1, unknown, is allowed)")
        for other, (start, end) in enumerate(spans):
            if offset < end and start < offset + size:
                raise BlobFormatError(f"{where} overlaps engine {other}")
        spans.append((offset, offset + size))
        part = bytes(data[offset : offset + size])
        try:
            entries.append(EngineEntry(decode(part), need))
        except BlobFormatError as err:
            raise BlobFormatError(f"{where}: {err}") from None
    problem = engines_disagreement([e.blob.metadata for e in entries])
    if problem:
        raise BlobFormatError(problem)
    return entries
