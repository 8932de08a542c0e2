"""Delegate blob writer and readers (exporter/blob.py, backend/blob/delegate_blob.cpp,
docs/blob_format.md version 4).

Every malformed blob below is refused by both readers (the C++ one through the
extension's parse_blob), each naming the problem; valid blobs read the same.
"""

from __future__ import annotations

import mmap
import random
import hashlib
import struct
from dataclasses import dataclass
from typing import List, Tuple

import pytest
from executorch_tensorrt.exporter import blob
from executorch_tensorrt.exporter.blob import (
    ENGINE_ALIGNMENT,
    HEADER_SIZE,
    BlobFormatError,
    DelegateBlob,
    EngineEntry,
    EngineMetadata,
    Flavour,
    ShapeRange,
    TensorSpec,
)
from executorch_tensorrt.exporter.state_section import StateSpec, encode_state_section
from executorch_tensorrt.runtime import _runtime


def _spec(name: str, shape=(2, 3), dtype: int = 6) -> TensorSpec:
    return TensorSpec(name, dtype, (ShapeRange.static(shape),))


def _blob(**overrides) -> DelegateBlob:
    fields = dict(
        flavour=Flavour.TENSORRT_RTX,
        builder_version="1.7.1.116",
        inputs=(_spec("input_0"), _spec("input_1", (4,), 4)),
        outputs=(_spec("output_0", (2, 3), 5),),
        device_index=1,
        version_compatible=True,
        num_profiles=1,
    )
    engine = overrides.pop("engine", b"vtrt" + bytes(range(200)))
    fields.update(overrides)
    return DelegateBlob(EngineMetadata(**fields), engine)


def _ranged(low: int, high: int, **overrides) -> DelegateBlob:
    """A blob whose input and output take batches low..high."""
    x = TensorSpec("input_0", 6, (ShapeRange((low, 3), (high, 3), (high, 3)),))
    y = TensorSpec("output_0", 6, (ShapeRange((low, 3), (high, 3), (high, 3)),))
    fields = dict(inputs=(x,), outputs=(y,), engine=b"vtrt" + bytes([low]) * 70)
    fields.update(overrides)
    return _blob(**fields)


THREE = [EngineEntry(_ranged(1, 8), 8192, 4096), EngineEntry(_ranged(9, 32), -1, 4096), EngineEntry(_ranged(33, 128), 131072)]


@dataclass(frozen=True)
class Layout:
    """Where the fields of an encoded blob lie (docs/blob_format.md)."""

    version_len_at: int
    counts_at: int
    tensor_at: List[int]  # each tensor's name-length field
    num_engines_at: int
    entry_at: List[int]  # each engine table entry
    ranges_at: List[int]  # each entry's first shape range


def _layout(data: bytes) -> Layout:
    pos = HEADER_SIZE + 8
    version_len_at = pos
    pos += 4 + struct.unpack_from("<I", data, pos)[0]
    counts_at = pos
    num_inputs, num_outputs = struct.unpack_from("<II", data, pos)
    pos += 8
    tensor_at, ranks = [], []
    for _ in range(num_inputs + num_outputs):
        tensor_at.append(pos)
        pos += 4 + struct.unpack_from("<I", data, pos)[0]
        ranks.append(data[pos + 1])
        pos += 4
    num_engines_at = pos
    (num_engines,) = struct.unpack_from("<I", data, pos)
    pos += 8
    entry_at, ranges_at = [], []
    for _ in range(num_engines):
        entry_at.append(pos)
        num_profiles = struct.unpack_from("<I", data, pos + 40)[0]
        ranges_at.append(pos + 48)
        pos += 48 + num_profiles * sum(3 * 8 * rank for rank in ranks)
    return Layout(version_len_at, counts_at, tensor_at, num_engines_at, entry_at, ranges_at)


def _poke(data: bytes, fmt: str, at: int, *values) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, at, *values)
    return bytes(out)


def _cpp_entries(data: bytes) -> list:
    parsed = _runtime.parse_blob(data)
    return [(e["engine"], e["execution_memory_bytes"], e["weight_bytes"], e["num_profiles"]) for e in parsed["engines"]]


def _as_cpp_dict(spec: TensorSpec) -> dict:
    return {
        "name": spec.name,
        "dtype": spec.dtype,
        "ranges": [{"min": list(r.min), "opt": list(r.opt), "max": list(r.max)} for r in spec.ranges],
    }


# --- valid blobs: round trips, layout, both readers ---------------------------


@pytest.mark.parametrize(
    "original",
    [
        _blob(),
        _blob(flavour=Flavour.TENSORRT, version_compatible=False, device_index=0),
        _blob(flavour=Flavour.TEST, inputs=(), engine=b"etrt-test-engine 1\n"),
        # rank 0, zero-size dims, bool/int8/bfloat16 codes, one-byte names
        _blob(inputs=(_spec("s", ()), _spec("z", (0, 5), 11)), outputs=(_spec("o", (1,), 1), _spec("p", (3,), 15))),
        _blob(
            num_profiles=2,
            inputs=(TensorSpec("x", 6, (ShapeRange((1, 3), (4, 3), (8, 3)), ShapeRange((8, 3), (16, 3), (32, 3)))),),
            outputs=(TensorSpec("y", 6, (ShapeRange((1,), (4,), (8,)), ShapeRange((8,), (16,), (32,)))),),
        ),
        _blob(inputs=(_spec("entrée"),)),
    ],
)
def test_one_engine_round_trips_through_both_readers(original: DelegateBlob) -> None:
    data = blob.encode(original)
    assert blob.decode(data) == original
    parsed = _runtime.parse_blob(data)
    meta = original.metadata
    assert (parsed["flavour"], parsed["builder_version"], parsed["device_index"]) == (
        meta.flavour.label, meta.builder_version, meta.device_index,
    )
    assert parsed["version_compatible"] is meta.version_compatible and parsed["num_profiles"] == meta.num_profiles
    assert parsed["inputs"] == [_as_cpp_dict(s) for s in meta.inputs]
    assert parsed["outputs"] == [_as_cpp_dict(s) for s in meta.outputs]
    assert parsed["engine"] == original.engine


def test_engines_round_trip_through_both_readers() -> None:
    data = blob.encode_engines(THREE)
    assert blob.decode_engines(data) == THREE
    assert blob.engine_count(data) == 3
    assert _cpp_entries(data) == [(e.blob.engine, e.execution_memory_bytes, e.weight_bytes, 1) for e in THREE]
    ranges = [e["inputs"][0]["ranges"][0]["max"] for e in _runtime.parse_blob(data)["engines"]]
    assert ranges == [[8, 3], [32, 3], [128, 3]]


def test_layout_matches_the_spec() -> None:
    data = blob.encode_engines(THREE)
    magic, version, header_size, metadata_size, reserved = struct.unpack_from("<4sHHII", data, 0)
    assert (magic, version, header_size, reserved) == (b"ETRT", 4, 16, 0)
    assert struct.unpack_from("<BBHi", data, HEADER_SIZE) == (2, 1, 0, 1)  # flavour, version_compatible, -, device
    layout = _layout(data)
    assert struct.unpack_from("<II", data, layout.counts_at) == (1, 1)
    assert struct.unpack_from("<II", data, layout.num_engines_at) == (3, 0)
    end = HEADER_SIZE + metadata_size
    for entry, at in zip(THREE, layout.entry_at, strict=True):
        offset, size, need, weights, digest, profiles, pad = struct.unpack_from("<QQqqQII", data, at)
        assert offset % ENGINE_ALIGNMENT == 0 and offset >= end
        assert data[offset : offset + size] == entry.blob.engine
        assert (need, weights, profiles, pad) == (entry.execution_memory_bytes, entry.weight_bytes, 1, 0)
        assert digest == int.from_bytes(hashlib.sha256(entry.blob.engine).digest()[:8], "little")
    # The signature is stored once: each name appears once in the metadata.
    assert data[:end].count(b"input_0") == 1


# A state payload both readers parse (exporter/state_section.py; tests/test_delegate_state.py covers it).
WEIGHTS = (blob.ExternalWeight("fc.weight", "etrt/0123/fc.weight", 6, (4, 3)), blob.ExternalWeight("b", "etrt/0123/b", 5, ()))
SECTIONS = (
    encode_state_section([StateSpec("cache", "state_in_0", "state_out_0", 6, (2, 3))]),
    blob.BlobSection(blob.SectionKind.EXTERNAL_WEIGHTS, blob.encode_external_weights(WEIGHTS)),
)


def test_sections_round_trip_through_both_readers() -> None:
    data = blob.encode_engines(THREE, SECTIONS)
    entries, sections = blob.decode_delegate(data)
    assert (entries, sections) == (THREE, SECTIONS)
    assert _runtime.parse_blob(data)["sections"] == {int(s.kind): s.payload for s in SECTIONS}
    assert _runtime.parse_blob(blob.encode_engines(THREE))["sections"] == {}


def _with_sections(*sections: Tuple[int, bytes]) -> bytes:
    """_ONE with its empty section list replaced by `sections` (kind, payload)."""
    meta_end = HEADER_SIZE + struct.unpack_from("<I", _ONE, 8)[0]
    listed = struct.pack("<II", len(sections), 0) + b"".join(struct.pack("<III", k, 0, len(p)) + p for k, p in sections)
    engines = _ONE[_align(meta_end) :]
    head = _poke(_ONE[: meta_end - 8], "<I", 8, meta_end - 8 - HEADER_SIZE + len(listed)) + listed
    entry = _layout(_ONE).entry_at[0]
    head = _poke(head, "<Q", entry, _align(len(head)))
    return head + bytes(_align(len(head)) - len(head)) + engines


def _align(n: int) -> int:
    return -(-n // ENGINE_ALIGNMENT) * ENGINE_ALIGNMENT


@pytest.mark.parametrize(
    "sections, python_match, cpp_match",
    [
        ([(99, b"x")], "unknown section kind 99", "section kind 99 is unknown"),
        ([(0, b"")], "unknown section kind 0", "section kind 0 is unknown"),
        ([(1, b"a"), (1, b"b")], "section state appears twice", "section kind 1 appears twice"),
        ([(1, b"")] * 17, "num_sections 17", "17 sections"),
    ],
)
def test_bad_sections_are_refused_by_both_readers(sections: list, python_match: str, cpp_match: str) -> None:
    good = _with_sections((1, b"ok"))
    assert blob.decode_delegate(good)[1] == (blob.BlobSection(blob.SectionKind.STATE, b"ok"),)
    data = _with_sections(*sections)
    with pytest.raises(BlobFormatError, match=python_match):
        blob.decode_engines(data)
    with pytest.raises(ValueError, match=cpp_match):
        _runtime.parse_blob(data)


def test_encode_refuses_repeated_or_too_many_sections() -> None:
    with pytest.raises(ValueError, match="at most once"):
        blob.encode_engines(THREE, SECTIONS + SECTIONS[:1])
    with pytest.raises(ValueError, match="at most 16 sections"):
        blob.encode_engines(THREE, [SECTIONS[0]] * 17)


def test_engines_may_sit_in_any_order_and_leave_gaps() -> None:
    data = bytearray(blob.encode_engines(THREE[:2]))
    layout = _layout(bytes(data))
    first, second = (struct.unpack_from("<QQ", data, at) for at in layout.entry_at)
    moved = len(data) + 64 - len(data) % 64
    data += bytes(moved - len(data)) + data[first[0] : first[0] + first[1]]
    struct.pack_into("<Q", data, layout.entry_at[0], moved)
    assert [e.blob for e in blob.decode_engines(bytes(data))] == [e.blob for e in THREE[:2]]
    assert [e[0] for e in _cpp_entries(bytes(data))] == [e.blob.engine for e in THREE[:2]]


# --- malformed blobs: refused by both readers ---------------------------------

_ONE = blob.encode(_blob())
_L1 = _layout(_ONE)
_MANY = blob.encode_engines(THREE)
_LM = _layout(_MANY)
_NAME0 = _L1.tensor_at[0] + 4  # tensor 0's name bytes ("input_0")
_DTYPE0 = _NAME0 + 7


def _entry(index: int, fmt: str, field_at: int, value: int, data: bytes = _MANY, layout: Layout = _LM) -> bytes:
    return _poke(data, fmt, layout.entry_at[index] + field_at, value)


MALFORMED = [
    # (id, bytes, Python message, C++ message)
    ("short", b"ETRT\x03", "shorter than the 16-byte header", "shorter than the 16-byte header"),
    ("magic", b"XTRT" + _ONE[4:], "bad magic", "does not start with 'ETRT'"),
    ("version_1", _poke(_ONE, "<H", 4, 1), "re-export the model with this version", "re-export the model with this version"),
    ("version_2", _poke(_ONE, "<H", 4, 2), "re-export the model with this version", "re-export the model with this version"),
    ("version_3", _poke(_ONE, "<H", 4, 3), "re-export the model with this version", "re-export the model with this version"),
    ("version_5", _poke(_ONE, "<H", 4, 5), "format version 5 is not supported", "format version 5 is not supported"),
    ("header_size", _poke(_ONE, "<H", 6, 24), "header size 24, expected 16", "header size 24, expected 16"),
    ("metadata_past_end", _poke(_ONE, "<I", 8, 2**32 - 1), "runs past the", "run past the"),
    ("trailing_metadata", _poke(_ONE, "<I", 8, struct.unpack_from("<I", _ONE, 8)[0] + 4), "trailing bytes", "trailing bytes"),
    ("flavour", _poke(_ONE, "<B", 16, 7), "unknown flavour code 7", "unknown TensorRT flavour code 7"),
    ("version_compatible", _poke(_ONE, "<B", 17, 2), "version_compatible must be 0 or 1", "version_compatible must be 0 or 1"),
    ("device", _poke(_ONE, "<i", 20, -1), "negative device index", "negative device index"),
    ("builder_version_0", _poke(_ONE, "<I", _L1.version_len_at, 0), "builder_version length 0", "builder version length 0"),
    ("builder_version_65", _poke(_ONE, "<I", _L1.version_len_at, 65), "builder_version length 65", "builder version length 65"),
    ("no_outputs", _poke(_ONE, "<I", _L1.counts_at + 4, 0), "tensor counts", "0 outputs"),
    ("inputs_2^32-1", _poke(_ONE, "<I", _L1.counts_at, 2**32 - 1), "tensor counts", "inputs"),
    ("dtype", _poke(_ONE, "<B", _DTYPE0, 99), "unknown dtype code 99", "unknown dtype code 99"),
    ("rank", _poke(_ONE, "<B", _DTYPE0 + 1, 17), "rank 17", "rank 17"),
    ("duplicate", _poke(_ONE, "7s", _L1.tensor_at[1] + 4, b"input_0"), "'input_0' appears twice", "appears twice"),
    ("min_gt_opt", _poke(_ONE, "<q", _L1.ranges_at[0], 5), "min <= opt <= max", "need 0 <= min <= opt <= max"),
    ("negative_min", _poke(_ONE, "<q", _L1.ranges_at[0], -1), "0 <= min", "need 0 <= min"),
    ("num_engines_0", _poke(_MANY, "<I", _LM.num_engines_at, 0), "num_engines 0 outside 1..16", "0 engines, expected 1..16"),
    ("num_engines_17", _poke(_MANY, "<I", _LM.num_engines_at, 17), "num_engines 17", "17 engines"),
    ("misaligned", _entry(1, "<Q", 0, struct.unpack_from("<Q", _MANY, _LM.entry_at[1])[0] + 8), "not 64-byte aligned", "not 64-byte aligned"),
    # Offset 0 means "in named data", refused without a named_engines section.
    ("offset_in_header", _entry(0, "<Q", 0, 0), "needs a named_engines section", "no named_engines section"),
    ("offset_in_metadata", _entry(0, "<Q", 0, 64), "inside the header or metadata", "lies outside"),
    ("offset_2^64-64", _entry(0, "<Q", 0, 2**64 - 64), "outside the", "lies outside"),
    ("size_0", _entry(0, "<Q", 8, 0), "engine 0 is empty", "lies outside"),
    ("size_2^64-1", _entry(2, "<Q", 8, 2**64 - 1), "outside the", "lies outside"),
    ("size_2^63", _entry(2, "<Q", 8, 2**63), "outside the", "lies outside"),
    ("overlap", _entry(1, "<Q", 0, struct.unpack_from("<Q", _MANY, _LM.entry_at[0])[0]), "engine 1 overlaps engine 0", "engines 0 and 1 overlap"),
    ("memory_-2", _entry(0, "<q", 16, -2), "execution_memory_bytes -2", "execution_memory_bytes -2"),
    ("weights_-2", _entry(1, "<q", 24, -2), "weight_bytes -2", "weight_bytes -2"),
    ("profiles_0", _entry(0, "<I", 40, 0), "num_profiles 0", "0 optimization profiles"),
    ("profiles_65", _entry(0, "<I", 40, 65), "num_profiles 65", "65 optimization profiles"),
    # Issue 15: declared dims near 2^31, 2^32 and 2^63 whose byte size overflows 64 bits.
    ("max_2^63-1", _poke(_ONE, "<qq", _L1.ranges_at[0] + 16 * 2, 2**63 - 1, 3), "more than a 64-bit size can count", "which no size can count"),
    ("max_2^32x2^32", _poke(_ONE, "<qq", _L1.ranges_at[0] + 16 * 2, 2**32, 2**32), "more than a 64-bit size can count", "which no size can count"),
    ("max_2^31x2^31x", _poke(_ONE, "<qq", _L1.ranges_at[0] + 16 * 2, 2**31, 2**31), "more than a 64-bit size can count", "which no size can count"),
]


@pytest.mark.parametrize("data, python_match, cpp_match", [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_both_readers_refuse(data: bytes, python_match: str, cpp_match: str) -> None:
    with pytest.raises(BlobFormatError, match=python_match):
        blob.decode_engines(data)
    with pytest.raises(ValueError, match=cpp_match):
        _runtime.parse_blob(data)


def test_every_truncation_is_refused_by_both_readers() -> None:
    for data in (_ONE, _MANY):
        for length in range(len(data)):
            with pytest.raises(BlobFormatError):
                blob.decode_engines(data[:length])
            with pytest.raises(ValueError):
                _runtime.parse_blob(data[:length])


@pytest.mark.parametrize("original", [_ONE, _MANY], ids=["one_engine", "three_engines"])
def test_readers_agree_on_random_corruptions(original: bytes) -> None:
    rng = random.Random(7)
    disagreements = []
    for _ in range(3000):
        data = bytearray(original)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        try:
            blob.decode_engines(bytes(data))
            python_ok = True
        except BlobFormatError:
            python_ok = False
        try:
            _runtime.parse_blob(bytes(data))
            cpp_ok = True
        except ValueError:
            cpp_ok = False
        if python_ok != cpp_ok:
            disagreements.append(bytes(data).hex())
    assert not disagreements, f"{len(disagreements)} blobs judged differently, first: {disagreements[0]}"


def test_decode_of_several_engines_points_to_decode_engines() -> None:
    with pytest.raises(BlobFormatError, match="holds 3 engines; use decode_engines"):
        blob.decode(_MANY)


def test_engine_count_reads_the_table_and_says_one_for_unreadable_bytes() -> None:
    assert blob.engine_count(_MANY) == 3
    assert blob.engine_count(b"junk") == 1
    assert blob.engine_count(_poke(_MANY, "<H", 4, 2)) == 1


# --- what the writer refuses --------------------------------------------------


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"outputs": ()}, "at least one output"),
        ({"outputs": (_spec("input_0"),)}, "unique.*input_0"),
        ({"engine": b""}, "engine bytes are empty"),
        ({"device_index": -1}, "device_index"),
        ({"num_profiles": 0}, "num_profiles"),
        ({"num_profiles": 2}, "one per profile"),
        ({"builder_version": ""}, "builder_version"),
        ({"builder_version": "x" * 65}, "builder_version"),
        ({"inputs": (_spec("a\x00b"),)}, "NUL"),
        ({"inputs": (_spec(""),)}, "tensor name"),
        ({"inputs": (_spec("x", (1,) * 17),)}, "rank 17"),
        ({"inputs": (_spec("x", (1,), 99),)}, "dtype code 99"),
        ({"inputs": (_spec("big", (2**31, 2**31, 2)),)}, r"tensor 'big' profile 0: .* \[2147483648, 2147483648, 2\] holds"),
        ({"inputs": (_spec("big", (2**32, 2**32), 1),)}, "more than a 64-bit size can count"),
    ],
)
def test_encode_rejections(overrides: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        blob.encode(_blob(**overrides))


def test_largest_countable_tensor_is_written_and_read() -> None:
    # float32 [2^30, 2^31 - 1]: 2^63 - 2^32 bytes, just under the limit.
    data = blob.encode(_blob(inputs=(_spec("big", (2**30, 2**31 - 1)),)))
    assert blob.decode(data).metadata.inputs[0].ranges[0].max == (2**30, 2**31 - 1)
    assert _runtime.parse_blob(data)["inputs"][0]["ranges"][0]["max"] == [2**30, 2**31 - 1]


@pytest.mark.parametrize(
    "args",
    [((1, 2), (1,), (1,)), ((2,), (1,), (3,)), ((-1,), (0,), (0,)), ((1,), (2,), (1,)), ((0,), (0,), (2**63,))],
)
def test_shape_range_validation(args: tuple) -> None:
    with pytest.raises(ValueError):
        ShapeRange(*args)


def test_flavour_labels() -> None:
    assert [f.label for f in Flavour] == ["tensorrt", "tensorrt_rtx", "test"]
    assert Flavour.from_label("tensorrt_rtx") is Flavour.TENSORRT_RTX
    with pytest.raises(ValueError, match="unknown TensorRT flavour"):
        Flavour.from_label("trt")


@pytest.mark.parametrize(
    "change, match",
    [
        ({"flavour": Flavour.TENSORRT}, "flavour"),
        ({"version_compatible": False}, "version_compatible"),
        ({"device_index": 0}, "device_index"),
        ({"builder_version": "1.7.1.117"}, "builder_version"),
        ({"inputs": (TensorSpec("other", 6, (ShapeRange.static((9, 3)),)),)}, "inputs"),
        ({"inputs": (TensorSpec("input_0", 5, (ShapeRange.static((9, 3)),)),)}, "inputs"),
        ({"inputs": (TensorSpec("input_0", 6, (ShapeRange.static((9, 3, 1)),)),)}, "inputs"),
        ({"inputs": ()}, "inputs"),
        ({"outputs": (_spec("output_0", (9, 3)), _spec("output_1", (9, 3)))}, "outputs"),
    ],
)
def test_encode_engines_refuses_engines_that_disagree(change: dict, match: str) -> None:
    entries = [EngineEntry(_ranged(1, 8)), EngineEntry(_ranged(9, 32, **change))]
    with pytest.raises(ValueError, match=f"engine 1 differs from engine 0 in {match}"):
        blob.encode_engines(entries)


@pytest.mark.parametrize(
    "entries, match",
    [
        ([], "1..16 engines, got 0"),
        ([EngineEntry(_blob())] * 17, "1..16 engines, got 17"),
        ([EngineEntry(_blob(), -2)], "execution_memory_bytes"),
        ([EngineEntry(_blob(), True)], "execution_memory_bytes"),
        ([EngineEntry(_blob(), 1.5)], "execution_memory_bytes"),  # type: ignore[arg-type]
        ([EngineEntry(_blob(), 2**63)], "execution_memory_bytes"),
        ([EngineEntry(_blob(), -1, -2)], "weight_bytes"),
        ([EngineEntry(_blob(), -1, 2**63)], "weight_bytes"),
        ([EngineEntry(_blob(engine=b""))], "engine bytes are empty"),
    ],
)
def test_encode_engines_rejections(entries: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        blob.encode_engines(entries)


def test_encode_engines_refuses_a_bare_blob() -> None:
    with pytest.raises(TypeError, match="engine 0 must be an EngineEntry, got DelegateBlob"):
        blob.encode_engines([_blob()])  # type: ignore[list-item]


@pytest.mark.parametrize("engine_size", [2**31 - 1, 2**31 + 1, 2**32 - 1, 2**32 + 1])
def test_engines_past_2_and_4_gib_keep_their_full_size(engine_size: int) -> None:
    """In a real buffer of that size (an anonymous mapping, of which only the
    header page is written): the size survives whole, the engine stays a view
    of the buffer (never copied), and one byte short is refused."""
    offset, _small = struct.unpack_from("<QQ", _ONE, _L1.entry_at[0])
    mapped = mmap.mmap(-1, offset + engine_size)
    mapped[: len(_ONE)] = _ONE
    struct.pack_into("<Q", mapped, _L1.entry_at[0] + 8, engine_size)
    view = memoryview(mapped)
    (entry,) = blob.decode_engines(view)
    assert len(entry.blob.engine) == engine_size
    assert isinstance(entry.blob.engine, memoryview) and entry.blob.engine.obj is mapped
    with pytest.raises(BlobFormatError, match=rf"\[{offset}, \+{engine_size}\) outside the {offset + engine_size - 1}-byte blob"):
        blob.decode_engines(view[:-1])


def test_named_engines_leave_the_bytes_out_and_name_each_key() -> None:
    data = blob.encode_engines(THREE, named_engines=True)
    assert all(entry.blob.engine not in data for entry in THREE)
    entries, sections = blob.decode_delegate(data)
    assert [s.kind for s in sections] == [blob.SectionKind.NAMED_ENGINES]
    assert [e.named_key for e in entries] == [blob.named_engine_key(hashlib.sha256(t.blob.engine).digest()) for t in THREE]
    assert [e.engine_bytes for e in entries] == [len(t.blob.engine) for t in THREE]

