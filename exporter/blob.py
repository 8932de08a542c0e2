"""The delegate blob (format version 4): one header, one signature, an engine table, sections.

The layout is specified in ``docs/blob_format.md``; the C++ reader is
``backend/blob/delegate_blob.cpp``. The two are tested against each other
(``tests/test_blob_cross.py``). A delegate holds one or more engines that
share one signature (builder, device, I/O names, dtypes, ranks) and differ in
their profiles' shape ranges. Optional tagged sections (``BlobSection``) carry
what a delegate needs beyond its engines (each kind documented in the format).
``encode_engines``/``decode_delegate`` write and read it; ``encode``/``decode``
are the one-engine case.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import struct
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

from ..dtypes import ITEMSIZES, DtypeAndShape, dtype_name
from ..option_table import KEY_DEVICE_INDEX, KEY_EXECUTION_MEMORY_BYTES, KEY_VERSION_COMPATIBLE

MAGIC = b"ETRT"
FORMAT_VERSION = 4
HEADER_SIZE = 16
ENGINE_ALIGNMENT = 64

# magic, format_version, header_size, metadata_size, reserved
_HEADER = struct.Struct("<4sHHII")
# offset, size, execution_memory_bytes, weight_bytes, reserved, num_profiles, reserved
_ENGINE_ENTRY = struct.Struct("<QQqqQII")
# kind, reserved, size
_SECTION = struct.Struct("<III")
assert _HEADER.size == HEADER_SIZE

MAX_NAME_BYTES = 1024
MAX_VERSION_BYTES = 64
MAX_PROFILES = 64
MAX_TENSORS = 1024
MAX_RANK = 16
MAX_ENGINES = 16
MAX_SECTIONS = 16
MAX_EXTERNAL_WEIGHTS = 1 << 20
MAX_KEY_BYTES = 2048
MAX_NAMED_KEY_BYTES = 256
# Named-data keys of engines kept in the program's named data: the SHA-256 of
# the bytes, so identical engines of several delegates are stored once.
NAMED_ENGINE_KEY_PREFIX = "etrt.engine."
UNKNOWN_EXECUTION_MEMORY = -1
UNKNOWN_WEIGHT_BYTES = -1
# Every tensor's largest shape must hold fewer bytes than this (both readers
# refuse more, so no size computed from a blob can overflow a signed 64-bit count).
MAX_TENSOR_BYTES = 2**63


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




class SectionKind(enum.IntEnum):
    """What a blob section holds (docs/blob_format.md, "Sections"); each kind at
    most once per delegate, and a reader refuses a kind it does not know."""

    STATE = 1  # mutable buffers the delegate owns
    NAMED_ENGINES = 2  # engine bytes kept in the program's named data
    EXTERNAL_WEIGHTS = 3  # engine weights kept in named data, refitted at init


@dataclass(frozen=True)
class BlobSection:
    kind: SectionKind
    payload: bytes = field(repr=False)


@dataclass(frozen=True)
class ExternalWeight(DtypeAndShape):
    """One weight an engine was built without (section ``external_weights``):
    the engine's name for it (TensorRT's refit name: the ONNX initializer),
    the program's named-data key it is stored under (in the ``.ptd``), and
    what the delegate checks the stored bytes against."""

    name: str
    key: str
    dtype: int  # ExecuTorch ScalarType code
    shape: Tuple[int, ...]


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
            if not 0 <= lo <= mid <= hi < 2**63:
                raise ValueError(f"shape range must satisfy 0 <= min <= opt <= max < 2**63 per dim: {self}")


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
        return dtype_name(self.dtype)


@dataclass(frozen=True)
class EngineMetadata:
    """One engine's view: the delegate's signature and this engine's ranges."""

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


@dataclass(frozen=True)
class EngineEntry:
    """One engine of a delegate with what the builder measured: its
    execution-context memory need and its weight bytes (-1: not known at
    export; TensorRT-RTX compiles for the device at load)."""

    blob: DelegateBlob
    execution_memory_bytes: int = UNKNOWN_EXECUTION_MEMORY
    weight_bytes: int = UNKNOWN_WEIGHT_BYTES
    # Read back from a blob whose engines live in named data (``named_engines``
    # section): the key and the size; ``blob.engine`` is then empty.
    named_key: str = ""
    named_size: int = 0

    @property
    def engine_bytes(self) -> int:
        """The engine's size, wherever its bytes are."""
        return self.named_size if self.named_key else len(self.blob.engine)


def engine_digest(sha256: bytes) -> int:
    """The engine's identity recorded in its table entry, from the SHA-256 of
    its bytes: the first 8 bytes, little-endian (never 0, which means "not
    recorded"); the delegate keys sharing on it without reading the engine."""
    return int.from_bytes(sha256[:8], "little") or 1


def named_engine_key(sha256: bytes) -> str:
    """The named-data key of an engine kept in the program's named data, from
    the SHA-256 of its bytes."""
    return NAMED_ENGINE_KEY_PREFIX + sha256.hex()


class BlobFormatError(ValueError):
    """The bytes are not a valid delegate blob."""


def max_bytes_problem(spec: TensorSpec) -> str:
    """'' when every profile's largest shape of ``spec`` holds fewer than
    MAX_TENSOR_BYTES bytes; else which profile and how many bytes."""
    element = ITEMSIZES.get(spec.dtype, 1)
    for profile, shape_range in enumerate(spec.ranges):
        total = element
        for dim in shape_range.max:
            total *= dim
        if total >= MAX_TENSOR_BYTES:
            return (
                f"tensor {spec.name!r} profile {profile}: its largest shape {list(shape_range.max)} holds "
                f"{total} bytes of {spec.dtype_name}, more than a 64-bit size can count (at most {MAX_TENSOR_BYTES - 1})"
            )
    return ""


def _tensor_signature(specs: Sequence[TensorSpec]) -> List[Tuple[str, str, int]]:
    return [(s.name, s.dtype_name, s.rank) for s in specs]


def engines_disagreement(metas: Sequence[EngineMetadata]) -> str:
    """'' when every engine has the first one's flavour, builder, device and
    I/O (count, order, names, dtypes, ranks); else the first difference."""
    first = metas[0]
    for index, meta in enumerate(metas[1:], start=1):
        for what, mine, theirs in (
            ("flavour", meta.flavour.label, first.flavour.label),
            (KEY_VERSION_COMPATIBLE, meta.version_compatible, first.version_compatible),
            (KEY_DEVICE_INDEX, meta.device_index, first.device_index),
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


def _encode_str(text: str, limit: int, what: str) -> bytes:
    data = text.encode("utf-8")
    if not 1 <= len(data) <= limit:
        raise ValueError(f"{what} must be 1..{limit} UTF-8 bytes, got {len(data)}: {text!r}")
    if b"\x00" in data:
        raise ValueError(f"{what} must not contain NUL: {text!r}")
    return struct.pack("<I", len(data)) + data


def _encode_signature(meta: EngineMetadata) -> bytes:
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
    out = bytearray(struct.pack("<BBHi", int(meta.flavour), int(meta.version_compatible), 0, meta.device_index))
    out += _encode_str(meta.builder_version, MAX_VERSION_BYTES, "builder_version")
    out += struct.pack("<II", len(meta.inputs), len(meta.outputs))
    for spec in (*meta.inputs, *meta.outputs):
        if spec.dtype not in ITEMSIZES:
            raise ValueError(f"tensor {spec.name!r} has unsupported dtype code {spec.dtype}")
        if spec.rank > MAX_RANK:
            raise ValueError(f"tensor {spec.name!r} has rank {spec.rank}; at most {MAX_RANK}")
        out += _encode_str(spec.name, MAX_NAME_BYTES, "tensor name")
        out += struct.pack("<BBH", spec.dtype, spec.rank, 0)
    return bytes(out)


def _encode_ranges(index: int, meta: EngineMetadata) -> bytes:
    if not 1 <= meta.num_profiles <= MAX_PROFILES:
        raise ValueError(f"engine {index}: num_profiles must be 1..{MAX_PROFILES}, got {meta.num_profiles}")
    out = bytearray()
    for profile in range(meta.num_profiles):
        for spec in (*meta.inputs, *meta.outputs):
            if len(spec.ranges) != meta.num_profiles:
                raise ValueError(
                    f"tensor {spec.name!r} has {len(spec.ranges)} shape ranges, "
                    f"expected one per profile ({meta.num_profiles})"
                )
            shape_range = spec.ranges[profile]
            if len(shape_range.min) != spec.rank:
                raise ValueError(f"tensor {spec.name!r}: all profiles must have rank {spec.rank}")
            for dims in (shape_range.min, shape_range.opt, shape_range.max):
                out += struct.pack(f"<{spec.rank}q", *dims)
    for spec in (*meta.inputs, *meta.outputs):
        problem = max_bytes_problem(spec)
        if problem:
            raise ValueError(f"engine {index}: {problem}")
    return bytes(out)


def _check_measure(index: int, what: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value < 2**63:
        raise ValueError(f"engine {index}: {what} must be an int in -1..2**63-1 (-1: unknown), got {value!r}")


def _encode_sections(sections: Sequence[BlobSection]) -> bytes:
    if len(sections) > MAX_SECTIONS:
        raise ValueError(f"a delegate holds at most {MAX_SECTIONS} sections, got {len(sections)}")
    kinds = [SectionKind(s.kind) for s in sections]
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"each section kind appears at most once, got {[k.name for k in kinds]}")
    parts = [struct.pack("<II", len(sections), 0)]
    for section in sections:
        parts += [_SECTION.pack(section.kind, 0, len(section.payload)), bytes(section.payload)]
    return b"".join(parts)


# dtype, rank, reserved
_WEIGHT_HEADER = struct.Struct("<BBH")


def _weight_problem(weight: ExternalWeight) -> str:
    """'' when ``weight`` can be recorded; else what is wrong with it."""
    if weight.dtype not in ITEMSIZES:
        return f"external weight {weight.name!r} has unknown dtype code {weight.dtype}"
    if len(weight.shape) > MAX_RANK:
        return f"external weight {weight.name!r} has rank {len(weight.shape)}; at most {MAX_RANK}"
    if any(not 0 <= d < 2**63 for d in weight.shape):
        return f"external weight {weight.name!r} has a dim outside 0..2**63-1: {list(weight.shape)}"
    if weight.nbytes >= MAX_TENSOR_BYTES:
        return f"external weight {weight.name!r} {list(weight.shape)} holds 2**63 bytes or more"
    return ""


def encode_external_weights(weights: Sequence[ExternalWeight]) -> bytes:
    """The payload of an ``external_weights`` section (docs/blob_format.md)."""
    if not 1 <= len(weights) <= MAX_EXTERNAL_WEIGHTS:
        raise ValueError(f"an external_weights section holds 1..{MAX_EXTERNAL_WEIGHTS} weights, got {len(weights)}")
    for what, values in (("names", [w.name for w in weights]), ("keys", [w.key for w in weights])):
        if len(set(values)) != len(values):
            raise ValueError(f"external weight {what} must be unique; repeated: {sorted({v for v in values if values.count(v) > 1})}")
    parts = [struct.pack("<II", len(weights), 0)]
    for weight in weights:
        problem = _weight_problem(weight)
        if problem:
            raise ValueError(problem)
        parts.append(_encode_str(weight.name, MAX_NAME_BYTES, "external weight name"))
        parts.append(_encode_str(weight.key, MAX_KEY_BYTES, "external weight key"))
        parts.append(_WEIGHT_HEADER.pack(weight.dtype, len(weight.shape), 0))
        parts.append(struct.pack(f"<{len(weight.shape)}qQ", *weight.shape, weight.nbytes))
    return b"".join(parts)


def decode_external_weights(payload: bytes) -> Tuple[ExternalWeight, ...]:
    """An ``external_weights`` section's weights, every field checked."""
    reader = _Reader(payload, "external_weights section")
    count, _reserved = reader.take("<II")
    # Each weight takes at least 22 bytes: refusing impossible counts first
    # keeps a tiny payload from claiming a million entries.
    if not 1 <= count <= MAX_EXTERNAL_WEIGHTS or count * 22 > len(payload) - 8:
        raise BlobFormatError(
            f"external_weights section: {count} weights in {len(payload)} bytes (1..{MAX_EXTERNAL_WEIGHTS})"
        )
    weights: List[ExternalWeight] = []
    names, keys = set(), set()
    for _ in range(count):
        name = reader.text(MAX_NAME_BYTES, "external weight name")
        key = reader.text(MAX_KEY_BYTES, "external weight key")
        dtype, rank, _pad = reader.take(_WEIGHT_HEADER.format)
        if rank > MAX_RANK:
            raise BlobFormatError(f"external weight {name!r} rank {rank} > {MAX_RANK}")
        dims = reader.take(f"<{rank}q")
        (nbytes,) = reader.take("<Q")
        weight = ExternalWeight(name, key, dtype, tuple(dims))
        problem = _weight_problem(weight)
        if problem:
            raise BlobFormatError(problem)
        if nbytes != weight.nbytes:
            raise BlobFormatError(
                f"external weight {name!r} records {nbytes} bytes; {weight.dtype_name} {list(dims)} holds {weight.nbytes}"
            )
        if name in names or key in keys:
            raise BlobFormatError(f"external weight {name!r} (key {key!r}) appears twice")
        names.add(name)
        keys.add(key)
        weights.append(weight)
    reader.done()
    return tuple(weights)


def external_weights_of(sections: Sequence[BlobSection]) -> Tuple[ExternalWeight, ...]:
    """The weights a delegate keeps in the program's named data (none without the section)."""
    for section in sections:
        if section.kind == SectionKind.EXTERNAL_WEIGHTS:
            return decode_external_weights(section.payload)
    return ()


def _named_engines_section(keys: Sequence[str]) -> BlobSection:
    parts = [struct.pack("<I", len(keys))]
    for key in keys:
        parts.append(_encode_str(key, MAX_NAMED_KEY_BYTES, "named engine key"))
    return BlobSection(SectionKind.NAMED_ENGINES, b"".join(parts))


def encode_engines(
    entries: Sequence[EngineEntry], sections: Sequence[BlobSection] = (), named_engines: bool = False
) -> bytes:
    """Serialize a delegate of one or more engines and its sections. With
    ``named_engines`` the engine bytes stay out of the blob: a ``named_engines``
    section names each engine's key in the program's named data
    (``named_engine_key``, read back by ``decode_delegate``), where the caller
    stores them."""
    entries = list(entries)
    if not 1 <= len(entries) <= MAX_ENGINES:
        raise ValueError(f"a delegate holds 1..{MAX_ENGINES} engines, got {len(entries)}")
    for index, entry in enumerate(entries):
        if not isinstance(entry, EngineEntry):
            raise TypeError(f"engine {index} must be an EngineEntry, got {type(entry).__name__}")
        _check_measure(index, KEY_EXECUTION_MEMORY_BYTES, entry.execution_memory_bytes)
        _check_measure(index, "weight_bytes", entry.weight_bytes)
        if not entry.blob.engine:
            raise ValueError(f"engine {index}: engine bytes are empty")
    problem = engines_disagreement([e.blob.metadata for e in entries])
    if problem:
        raise ValueError(f"the engines of one delegate must agree on all but their shape ranges: {problem}")
    signature = _encode_signature(entries[0].blob.metadata)
    ranges = [_encode_ranges(i, e.blob.metadata) for i, e in enumerate(entries)]
    # One pass over each engine's bytes gives both its digest and its key.
    hashes = [hashlib.sha256(e.blob.engine).digest() for e in entries]
    if named_engines:
        sections = [*sections, _named_engines_section([named_engine_key(h) for h in hashes])]
    section_bytes = _encode_sections(sections)
    metadata_size = len(signature) + 8 + sum(_ENGINE_ENTRY.size + len(r) for r in ranges) + len(section_bytes)
    offsets, offset = [], _align(HEADER_SIZE + metadata_size)
    for entry in entries:
        offsets.append(0 if named_engines else offset)
        offset = _align(offset + len(entry.blob.engine))
    # Pieces joined once: the engines (the bulk) are copied into the result only,
    # with no growing buffer nor final copy beside them.
    parts = [_HEADER.pack(MAGIC, FORMAT_VERSION, HEADER_SIZE, metadata_size, 0)]
    parts.append(signature + struct.pack("<II", len(entries), 0))
    for entry, start, engine_ranges, sha256 in zip(entries, offsets, ranges, hashes, strict=True):
        meta = entry.blob.metadata
        parts.append(
            _ENGINE_ENTRY.pack(
                start, len(entry.blob.engine), entry.execution_memory_bytes, entry.weight_bytes,
                engine_digest(sha256), meta.num_profiles, 0,
            )
        )
        parts.append(engine_ranges)
    parts.append(section_bytes)
    if named_engines:
        return b"".join(parts)
    size = sum(len(p) for p in parts)
    for entry, start in zip(entries, offsets, strict=True):
        parts += [b"\x00" * (start - size), entry.blob.engine]
        size = start + len(entry.blob.engine)
    return b"".join(parts)


def encode(blob: DelegateBlob) -> bytes:
    """Serialize a delegate of one engine (measures unknown)."""
    return encode_engines([EngineEntry(blob)])


class _Reader:
    def __init__(self, data: bytes, what: str = "") -> None:
        self._data = data
        self._pos = 0
        self._what = what  # '' for the metadata, whose offsets count from the blob's start

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self._pos + size > len(self._data):
            where = f"{self._what} truncated at byte {self._pos}" if self._what else (
                f"metadata truncated at byte {HEADER_SIZE + self._pos}"
            )
            raise BlobFormatError(f"{where}: needed {size} more bytes")
        values = struct.unpack_from(fmt, self._data, self._pos)
        self._pos += size
        return values

    def text(self, limit: int, what: str, allow_empty: bool = False) -> str:
        (length,) = self.take("<I")
        if length == 0 and allow_empty:
            return ""
        if not 1 <= length <= limit:
            raise BlobFormatError(f"{what} length {length} outside 1..{limit}")
        (raw,) = self.take(f"<{length}s")
        if b"\x00" in raw:
            raise BlobFormatError(f"{what} contains NUL")
        # Lenient like the C++ reader, which treats names as bytes.
        return raw.decode("utf-8", errors="replace")

    def done(self) -> None:
        if self._pos != len(self._data):
            raise BlobFormatError(f"{len(self._data) - self._pos} trailing bytes after {self._what or 'metadata'}")


def _read_header(data: bytes) -> int:
    """Checks the header; returns metadata_size."""
    if len(data) < 6:
        raise BlobFormatError(f"blob is {len(data)} bytes, shorter than the {HEADER_SIZE}-byte header")
    magic, version = struct.unpack_from("<4sH", data, 0)
    if magic != MAGIC:
        raise BlobFormatError(f"bad magic {magic!r}; not an executorch-tensorrt delegate blob")
    if version != FORMAT_VERSION:
        raise BlobFormatError(
            f"blob format version {version} is not supported (this reader knows {FORMAT_VERSION}); "
            "re-export the model with this version of executorch-tensorrt"
        )
    if len(data) < HEADER_SIZE:
        raise BlobFormatError(f"blob is {len(data)} bytes, shorter than the {HEADER_SIZE}-byte header")
    _magic, _version, header_size, metadata_size, _reserved = _HEADER.unpack_from(data, 0)
    if header_size != HEADER_SIZE:
        raise BlobFormatError(f"header size {header_size}, expected {HEADER_SIZE}")
    if HEADER_SIZE + metadata_size > len(data):
        raise BlobFormatError(f"metadata of {metadata_size} bytes runs past the {len(data)}-byte blob")
    return metadata_size


def _read_signature(reader: _Reader) -> Tuple[dict, List[Tuple[str, int, int]], int]:
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
    num_inputs, num_outputs = reader.take("<II")
    if num_inputs > MAX_TENSORS or not 1 <= num_outputs <= MAX_TENSORS:
        raise BlobFormatError(f"tensor counts out of range: {num_inputs} inputs, {num_outputs} outputs")
    tensors: List[Tuple[str, int, int]] = []
    for _ in range(num_inputs + num_outputs):
        name = reader.text(MAX_NAME_BYTES, "tensor name")
        dtype, rank, _pad = reader.take("<BBH")
        if dtype not in ITEMSIZES:
            raise BlobFormatError(f"tensor {name!r} has unknown dtype code {dtype}")
        if rank > MAX_RANK:
            raise BlobFormatError(f"tensor {name!r} rank {rank} > {MAX_RANK}")
        if any(t[0] == name for t in tensors):
            raise BlobFormatError(f"tensor name {name!r} appears twice")
        tensors.append((name, dtype, rank))
    identity = dict(
        flavour=flavour,
        builder_version=builder_version,
        device_index=device_index,
        version_compatible=bool(version_compatible),
    )
    return identity, tensors, num_inputs


def _read_engine(
    reader: _Reader, index: int, data: bytes, identity: dict, tensors: List[Tuple[str, int, int]], num_inputs: int
) -> Tuple[EngineEntry, Tuple[int, int]]:
    where = f"engine {index}"
    offset, size, need, weights, _digest, num_profiles, _pad = reader.take(_ENGINE_ENTRY.format)
    if offset % ENGINE_ALIGNMENT:
        raise BlobFormatError(f"{where} offset {offset} is not {ENGINE_ALIGNMENT}-byte aligned")
    if size == 0:
        raise BlobFormatError(f"{where} is empty")
    if offset == 0 and size >= 2**63:
        raise BlobFormatError(f"{where} in named data has size {size}, 2^63 bytes or more")
    # Offset 0 (inside the header, never an inline engine's): the bytes are in named data.
    if offset != 0 and offset + size > len(data):
        raise BlobFormatError(f"{where} [{offset}, +{size}) outside the {len(data)}-byte blob")
    for what, value in ((KEY_EXECUTION_MEMORY_BYTES, need), ("weight_bytes", weights)):
        if value < -1:
            raise BlobFormatError(f"{where} {what} {value} is negative (only -1, unknown, is allowed)")
    if not 1 <= num_profiles <= MAX_PROFILES:
        raise BlobFormatError(f"{where} num_profiles {num_profiles} outside 1..{MAX_PROFILES}")
    ranges: List[List[ShapeRange]] = [[] for _ in tensors]
    for _profile in range(num_profiles):
        for slot, (name, _dtype, rank) in enumerate(tensors):
            dims = [reader.take(f"<{rank}q") for _k in range(3)]
            try:
                ranges[slot].append(ShapeRange(*dims))
            except ValueError as err:
                raise BlobFormatError(f"{where} tensor {name!r}: {err}") from None
    specs = [TensorSpec(name, dtype, tuple(r)) for (name, dtype, _rank), r in zip(tensors, ranges, strict=True)]
    for spec in specs:
        problem = max_bytes_problem(spec)
        if problem:
            raise BlobFormatError(f"{where}: {problem}")
    meta = EngineMetadata(
        inputs=tuple(specs[:num_inputs]), outputs=tuple(specs[num_inputs:]), num_profiles=num_profiles, **identity
    )
    if offset == 0:
        return EngineEntry(DelegateBlob(meta, b""), need, weights, named_size=size), (0, 0)
    # A memoryview (inspect maps the file) stays a view: an engine of several
    # GiB is measured, never copied.
    engine = data[offset : offset + size] if isinstance(data, memoryview) else bytes(data[offset : offset + size])
    entry = EngineEntry(DelegateBlob(meta, engine), need, weights)
    return entry, (offset, offset + size)


def _named_engine_keys(section: BlobSection, num_engines: int) -> List[str]:
    """The ``named_engines`` payload: u32 count (= num_engines), then one str key per engine."""
    reader = _Reader(section.payload)
    (count,) = reader.take("<I")
    if count != num_engines:
        raise BlobFormatError(f"named_engines section names {count} engines; the delegate has {num_engines}")
    keys = [reader.text(MAX_NAMED_KEY_BYTES, "named engine key") for _ in range(count)]
    reader.done()
    return keys


def _with_named_engines(entries: List[EngineEntry], sections: Tuple[BlobSection, ...]) -> List[EngineEntry]:
    """Entries whose bytes are in named data get their keys; every entry or none is named."""
    section = next((s for s in sections if s.kind == SectionKind.NAMED_ENGINES), None)
    inline = [i for i, e in enumerate(entries) if e.named_size == 0]
    if section is None:
        if len(inline) != len(entries):
            raise BlobFormatError("an engine at offset 0 (in named data) needs a named_engines section")
        return entries
    if inline:
        raise BlobFormatError(f"with a named_engines section every engine is in named data (offset 0); engine {inline[0]} is not")
    keys = _named_engine_keys(section, len(entries))
    return [dataclasses.replace(e, named_key=k) for e, k in zip(entries, keys, strict=True)]


def _read_sections(reader: _Reader) -> Tuple[BlobSection, ...]:
    num_sections, _reserved = reader.take("<II")
    if num_sections > MAX_SECTIONS:
        raise BlobFormatError(f"num_sections {num_sections} > {MAX_SECTIONS}")
    sections: List[BlobSection] = []
    for _ in range(num_sections):
        code, _pad, size = reader.take(_SECTION.format)
        try:
            kind = SectionKind(code)
        except ValueError:
            raise BlobFormatError(
                f"unknown section kind {code}; the program needs a newer executorch-tensorrt"
            ) from None
        if any(s.kind == kind for s in sections):
            raise BlobFormatError(f"section {kind.name.lower()} appears twice")
        (payload,) = reader.take(f"<{size}s")
        sections.append(BlobSection(kind, payload))
    return tuple(sections)


def decode_engines(data: bytes) -> List[EngineEntry]:
    """Parse a delegate blob into its engines. Used by ``inspect`` and the tests."""
    return decode_delegate(data)[0]


def decode_delegate(data: bytes) -> Tuple[List[EngineEntry], Tuple[BlobSection, ...]]:
    """Parse a delegate blob into its engines and sections."""
    metadata_size = _read_header(data)
    metadata_end = HEADER_SIZE + metadata_size
    reader = _Reader(data[HEADER_SIZE:metadata_end])
    identity, tensors, num_inputs = _read_signature(reader)
    num_engines, _reserved = reader.take("<II")
    if not 1 <= num_engines <= MAX_ENGINES:
        raise BlobFormatError(f"num_engines {num_engines} outside 1..{MAX_ENGINES}")
    entries: List[EngineEntry] = []
    spans: List[Tuple[int, int]] = []
    for index in range(num_engines):
        entry, (start, end) = _read_engine(reader, index, data, identity, tensors, num_inputs)
        if entry.named_size:
            entries.append(entry)
            continue
        if start < metadata_end:
            raise BlobFormatError(f"engine {index} offset {start} lies inside the header or metadata (ends at {metadata_end})")
        for other, (other_start, other_end) in enumerate(spans):
            if start < other_end and other_start < end:
                raise BlobFormatError(f"engine {index} overlaps engine {other}")
        spans.append((start, end))
        entries.append(entry)
    sections = _read_sections(reader)
    reader.done()
    external_weights_of(sections)  # a section's payload is checked as the C++ reader checks it
    return _with_named_engines(entries, sections), sections


def decode(data: bytes) -> DelegateBlob:
    """Parse a delegate blob of exactly one engine."""
    entries = decode_engines(data)
    if len(entries) != 1:
        raise BlobFormatError(f"the delegate holds {len(entries)} engines; use decode_engines()")
    return entries[0].blob


def engine_count(data: bytes) -> int:
    """How many engines a delegate blob holds, without copying engine bytes;
    1 for anything unreadable, which decode_engines() reports properly."""
    try:
        metadata_size = _read_header(data)
        reader = _Reader(data[HEADER_SIZE : HEADER_SIZE + metadata_size])
        _read_signature(reader)
        (num_engines, _reserved) = reader.take("<II")
    except BlobFormatError:
        return 1
    return num_engines if num_engines > 0 else 1
