"""Delegate blob writer/reader (exporter/blob.py, docs/blob_format.md).

The C++ reader (backend/delegate_blob.cpp) is cross-tested separately.
"""

from __future__ import annotations

import struct

import pytest
from executorch_tensorrt.exporter import blob
from executorch_tensorrt.exporter.blob import (
    ENGINE_ALIGNMENT,
    HEADER_SIZE,
    BlobFormatError,
    DelegateBlob,
    EngineMetadata,
    Flavour,
    ShapeRange,
    TensorSpec,
)


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


def _header(data: bytes) -> list:
    return list(struct.unpack_from("<4sHHQQQQ", data, 0))


def _with_header(data: bytes, **fields) -> bytes:
    names = ["magic", "version", "header_size", "meta_off", "meta_size", "eng_off", "eng_size"]
    values = _header(data)
    for key, value in fields.items():
        values[names.index(key)] = value
    return struct.pack("<4sHHQQQQ", *values) + data[HEADER_SIZE:]


# --- round trips -------------------------------------------------------------


@pytest.mark.parametrize(
    "original",
    [
        _blob(),
        _blob(flavour=Flavour.TENSORRT, version_compatible=False, device_index=0),
        _blob(flavour=Flavour.TEST, inputs=(), engine=b"etrt-test-engine 1\n"),
        # rank 0, zero-size dims, bool/int8/uint8/bfloat16 codes
        _blob(inputs=(_spec("s", ()), _spec("z", (0, 5), 11)), outputs=(_spec("o", (1,), 1), _spec("p", (3,), 15))),
        # two profiles with real ranges
        _blob(
            num_profiles=2,
            inputs=(TensorSpec("x", 6, (ShapeRange((1, 3), (4, 3), (8, 3)), ShapeRange((8, 3), (16, 3), (32, 3)))),),
            outputs=(TensorSpec("y", 6, (ShapeRange((1,), (4,), (8,)), ShapeRange((8,), (16,), (32,)))),),
        ),
    ],
)
def test_round_trip(original: DelegateBlob) -> None:
    data = blob.encode(original)
    assert data[:4] == b"ETRT"
    assert blob.decode(data) == original


def test_layout_matches_spec() -> None:
    data = blob.encode(_blob())
    magic, version, header_size, meta_off, meta_size, eng_off, eng_size = _header(data)
    assert (magic, version, header_size) == (b"ETRT", 1, 40)
    assert meta_off == HEADER_SIZE
    assert eng_off % ENGINE_ALIGNMENT == 0 and eng_off >= meta_off + meta_size
    assert eng_off + eng_size == len(data)
    flavour, version_compatible, reserved, device_index = struct.unpack_from("<BBHi", data, meta_off)
    assert (flavour, version_compatible, reserved, device_index) == (2, 1, 0, 1)


def test_unicode_names_round_trip() -> None:
    original = _blob(inputs=(_spec("entrée"),))
    assert blob.decode(blob.encode(original)) == original


# --- decode rejections -------------------------------------------------------


def test_rejects_bad_magic() -> None:
    data = _with_header(blob.encode(_blob()), magic=b"XTRT")
    with pytest.raises(BlobFormatError, match="bad magic"):
        blob.decode(data)


@pytest.mark.parametrize("version", [0, 2, 65535])
def test_rejects_other_versions(version: int) -> None:
    data = _with_header(blob.encode(_blob()), version=version)
    with pytest.raises(BlobFormatError, match=f"version {version} is not supported"):
        blob.decode(data)


def test_rejects_other_header_size() -> None:
    with pytest.raises(BlobFormatError, match="header size"):
        blob.decode(_with_header(blob.encode(_blob()), header_size=48))


def test_rejects_truncation_at_every_length() -> None:
    data = blob.encode(_blob(engine=b"vtrt" + b"\x01" * 60))
    for length in range(len(data)):
        with pytest.raises(BlobFormatError):
            blob.decode(data[:length])


def test_rejects_metadata_engine_overlap() -> None:
    data = blob.encode(_blob())
    _, _, _, meta_off, meta_size, eng_off, eng_size = _header(data)
    # The engine stays aligned and in bounds; the metadata claims to run into it.
    overlapping = _with_header(data, meta_size=eng_off - meta_off + 1)
    with pytest.raises(BlobFormatError, match="overlap"):
        blob.decode(overlapping)
    # ... or the metadata is placed inside the engine.
    with pytest.raises(BlobFormatError, match="overlap"):
        blob.decode(_with_header(data, meta_off=eng_off + 8, meta_size=8))


@pytest.mark.parametrize(
    "fields",
    [
        {"eng_off": 1 << 20},
        {"eng_size": 1 << 20},
        {"meta_off": 1 << 20},
        {"meta_size": 1 << 20},
        {"eng_off": 2**64 - 64},  # would wrap around in unchecked u64 arithmetic
        {"meta_off": 8},  # inside the header
    ],
)
def test_rejects_offsets_beyond_the_blob(fields: dict) -> None:
    with pytest.raises(BlobFormatError):
        blob.decode(_with_header(blob.encode(_blob()), **fields))


def test_rejects_empty_engine() -> None:
    with pytest.raises(BlobFormatError, match="engine is empty"):
        blob.decode(_with_header(blob.encode(_blob()), eng_size=0))


def test_rejects_trailing_metadata_bytes() -> None:
    data = blob.encode(_blob())
    _, _, _, meta_off, meta_size, eng_off, _ = _header(data)
    assert eng_off > meta_off + meta_size, "needs padding between metadata and engine for this test"
    with pytest.raises(BlobFormatError, match="trailing bytes"):
        blob.decode(_with_header(data, meta_size=meta_size + 1))


def test_rejects_unknown_flavour() -> None:
    data = bytearray(blob.encode(_blob()))
    data[HEADER_SIZE] = 7
    with pytest.raises(BlobFormatError, match="unknown flavour code 7"):
        blob.decode(bytes(data))


def _tensor_offset(data: bytes, tensor_index: int) -> int:
    """Offset of tensor `tensor_index`'s name-length field in the metadata."""
    pos = HEADER_SIZE + 8
    (version_len,) = struct.unpack_from("<I", data, pos)
    pos += 4 + version_len
    num_profiles, num_inputs, num_outputs = struct.unpack_from("<III", data, pos)
    pos += 12
    for _ in range(tensor_index):
        (name_len,) = struct.unpack_from("<I", data, pos)
        pos += 4 + name_len
        _dtype, rank, _ = struct.unpack_from("<BBH", data, pos)
        pos += 4 + num_profiles * 3 * rank * 8
    return pos


def test_rejects_bad_ranges() -> None:
    data = bytearray(blob.encode(_blob()))
    pos = _tensor_offset(bytes(data), 0)
    (name_len,) = struct.unpack_from("<I", data, pos)
    dims = pos + 4 + name_len + 4  # min dims of tensor 0 (rank 2)
    struct.pack_into("<q", data, dims, 5)  # min 5 > opt 2
    with pytest.raises(BlobFormatError, match="min <= opt <= max"):
        blob.decode(bytes(data))
    struct.pack_into("<q", data, dims, -1)  # negative
    with pytest.raises(BlobFormatError, match="0 <= min"):
        blob.decode(bytes(data))


def test_rejects_rank_above_limit() -> None:
    data = bytearray(blob.encode(_blob()))
    pos = _tensor_offset(bytes(data), 0)
    (name_len,) = struct.unpack_from("<I", data, pos)
    data[pos + 4 + name_len + 1] = 17
    with pytest.raises(BlobFormatError, match="rank 17"):
        blob.decode(bytes(data))


def test_rejects_empty_and_oversized_strings() -> None:
    data = bytearray(blob.encode(_blob()))
    struct.pack_into("<I", data, HEADER_SIZE + 8, 0)  # builder_version length
    with pytest.raises(BlobFormatError, match="builder_version length 0"):
        blob.decode(bytes(data))
    struct.pack_into("<I", data, HEADER_SIZE + 8, 65)
    with pytest.raises(BlobFormatError, match="builder_version length 65"):
        blob.decode(bytes(data))


def test_rejects_counts_out_of_range() -> None:
    data = bytearray(blob.encode(_blob()))
    (version_len,) = struct.unpack_from("<I", data, HEADER_SIZE + 8)
    counts = HEADER_SIZE + 12 + version_len
    struct.pack_into("<I", data, counts + 8, 0)  # num_outputs = 0
    with pytest.raises(BlobFormatError, match="tensor counts"):
        blob.decode(bytes(data))
    struct.pack_into("<I", data, counts, 0)  # num_profiles = 0
    with pytest.raises(BlobFormatError, match="num_profiles 0"):
        blob.decode(bytes(data))


def test_decode_rejects_duplicate_names() -> None:
    data = bytearray(blob.encode(_blob(inputs=(_spec("input_0"), _spec("input_1")))))
    pos = _tensor_offset(bytes(data), 1)
    data[pos + 4 : pos + 4 + 7] = b"input_0"
    with pytest.raises(BlobFormatError, match="'input_0' appears twice"):
        blob.decode(bytes(data))


def test_decode_rejects_misaligned_engine() -> None:
    data = blob.encode(_blob())
    _, _, _, _, _, eng_off, _ = _header(data)
    shifted = _with_header(data[:eng_off] + b"\x00" + data[eng_off:], eng_off=eng_off + 1)
    with pytest.raises(BlobFormatError, match="not 64-byte aligned"):
        blob.decode(shifted)


def test_decode_rejects_version_compatible_other_than_0_or_1() -> None:
    data = bytearray(blob.encode(_blob()))
    data[HEADER_SIZE + 1] = 2
    with pytest.raises(BlobFormatError, match="version_compatible must be 0 or 1"):
        blob.decode(bytes(data))


def test_decode_rejects_negative_device_index() -> None:
    data = bytearray(blob.encode(_blob()))
    struct.pack_into("<i", data, HEADER_SIZE + 4, -1)
    with pytest.raises(BlobFormatError, match="negative device index"):
        blob.decode(bytes(data))


def test_decode_rejects_unknown_dtype_code() -> None:
    data = bytearray(blob.encode(_blob()))
    pos = _tensor_offset(bytes(data), 0)
    (name_len,) = struct.unpack_from("<I", data, pos)
    data[pos + 4 + name_len] = 99
    with pytest.raises(BlobFormatError, match="unknown dtype code 99"):
        blob.decode(bytes(data))


# --- encode rejections -------------------------------------------------------


def test_encode_rejects_duplicate_names() -> None:
    with pytest.raises(ValueError, match="unique.*input_0"):
        blob.encode(_blob(outputs=(_spec("input_0"),)))


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"outputs": ()}, "at least one output"),
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
    ],
)
def test_encode_rejections(overrides: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        blob.encode(_blob(**overrides))


@pytest.mark.parametrize(
    "args",
    [((1, 2), (1,), (1,)), ((2,), (1,), (3,)), ((-1,), (0,), (0,)), ((1,), (2,), (1,))],
)
def test_shape_range_validation(args: tuple) -> None:
    with pytest.raises(ValueError):
        ShapeRange(*args)


def test_flavour_labels() -> None:
    assert [f.label for f in Flavour] == ["tensorrt", "tensorrt_rtx", "test"]
    assert Flavour.from_label("tensorrt_rtx") is Flavour.TENSORRT_RTX
    with pytest.raises(ValueError, match="unknown TensorRT flavour"):
        Flavour.from_label("trt")


# --- version 2: several engines in one delegate ------------------------------


def _ranged(low: int, high: int, **overrides) -> DelegateBlob:
    """A blob whose input and output take batches low..high."""
    x = TensorSpec("input_0", 6, (ShapeRange((low, 3), (high, 3), (high, 3)),))
    y = TensorSpec("output_0", 6, (ShapeRange((low, 3), (high, 3), (high, 3)),))
    fields = dict(inputs=(x,), outputs=(y,), engine=b"vtrt" + bytes([low]) * 70)
    fields.update(overrides)
    return _blob(**fields)


def _container(parts, hints=None, num_engines=None, offsets=None, sizes=None, version=2, header_size=16) -> bytes:
    """A version-2 blob laid out by hand, so each field can be wrong."""
    count = len(parts) if num_engines is None else num_engines
    table_end = 16 + 32 * len(parts)
    starts, position = [], -(-table_end // 64) * 64
    for part in parts:
        starts.append(position)
        position = -(-(position + len(part)) // 64) * 64
    sizes = sizes or [len(p) for p in parts]
    hints = hints or [-1] * len(parts)
    out = bytearray(struct.pack("<4sHHII", b"ETRT", version, header_size, count, 0))
    # The table may lie (offsets, sizes); the parts always lie where a writer puts them.
    for start, size, hint in zip(offsets or starts, sizes, hints):
        out += struct.pack("<QQqQ", start, size, hint, 0)
    for part, start in zip(parts, starts):
        out += b"\x00" * max(0, start - len(out))
        out[start : start + len(part)] = part
    return bytes(out)


def test_engines_round_trip() -> None:
    entries = [
        blob.EngineEntry(_ranged(1, 8), 8192),
        blob.EngineEntry(_ranged(9, 32), -1),
        blob.EngineEntry(_ranged(33, 128), 131072),
    ]
    assert blob.decode_engines(blob.encode_engines(entries)) == entries


def test_engines_layout_matches_spec() -> None:
    entries = [blob.EngineEntry(_ranged(1, 8), 100), blob.EngineEntry(_ranged(9, 32), 200)]
    data = blob.encode_engines(entries)
    assert struct.unpack_from("<4sHHII", data, 0) == (b"ETRT", 2, 16, 2, 0)
    for index, entry in enumerate(entries):
        offset, size, hint, reserved = struct.unpack_from("<QQqQ", data, 16 + 32 * index)
        assert offset % ENGINE_ALIGNMENT == 0 and offset >= 16 + 32 * 2
        assert (hint, reserved) == (entry.execution_memory_bytes, 0)
        # Each entry is a complete version-1 blob, its engine aligned within the delegate blob.
        assert data[offset : offset + size] == blob.encode(entry.blob)
        assert (offset + _header(data[offset:])[5]) % ENGINE_ALIGNMENT == 0


def test_decode_engines_reads_version_1_as_one_engine_of_unknown_need() -> None:
    original = _blob()
    assert blob.decode_engines(blob.encode(original)) == [blob.EngineEntry(original, -1)]


def test_version_1_decoder_refuses_version_2() -> None:
    with pytest.raises(BlobFormatError, match="format version 2 is not supported"):
        blob.decode(blob.encode_engines([blob.EngineEntry(_blob())]))


def test_decode_engines_accepts_what_the_hand_layout_writes() -> None:
    parts = [blob.encode(_ranged(1, 8)), blob.encode(_ranged(9, 32))]
    decoded = blob.decode_engines(_container(parts, hints=[5, -1]))
    assert [e.execution_memory_bytes for e in decoded] == [5, -1]
    assert [e.blob for e in decoded] == [_ranged(1, 8), _ranged(9, 32)]


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
    entries = [blob.EngineEntry(_ranged(1, 8)), blob.EngineEntry(_ranged(9, 32, **change))]
    with pytest.raises(ValueError, match=f"engine 1 differs from engine 0 in {match}"):
        blob.encode_engines(entries)
    # A hand-made blob with the same disagreement is refused by the reader.
    parts = [blob.encode(e.blob) for e in entries]
    with pytest.raises(BlobFormatError, match=f"engine 1 differs from engine 0 in {match}"):
        blob.decode_engines(_container(parts))


def test_encode_engines_reports_the_first_disagreement() -> None:
    entries = [blob.EngineEntry(_ranged(1, 8)), blob.EngineEntry(_ranged(9, 32, flavour=Flavour.TEST, device_index=0))]
    with pytest.raises(ValueError, match="in flavour: 'test' vs 'tensorrt_rtx'"):
        blob.encode_engines(entries)


@pytest.mark.parametrize(
    "entries, match",
    [
        ([], "1..16 engines, got 0"),
        ([blob.EngineEntry(_blob())] * 17, "1..16 engines, got 17"),
        ([blob.EngineEntry(_blob(), -2)], "execution_memory_bytes"),
        ([blob.EngineEntry(_blob(), True)], "execution_memory_bytes"),
        ([blob.EngineEntry(_blob(), 1.5)], "execution_memory_bytes"),  # type: ignore[arg-type]
        ([blob.EngineEntry(_blob(), 2**63)], "execution_memory_bytes"),
        ([blob.EngineEntry(_blob(engine=b""))], "engine bytes are empty"),
    ],
)
def test_encode_engines_rejections(entries: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        blob.encode_engines(entries)


def test_encode_engines_refuses_a_bare_blob() -> None:
    with pytest.raises(TypeError, match="engine 0 must be an EngineEntry, got DelegateBlob"):
        blob.encode_engines([_blob()])  # type: ignore[list-item]


_TWO = [blob.encode(_ranged(1, 8)), blob.encode(_ranged(9, 32))]


@pytest.mark.parametrize(
    "data, match",
    [
        (b"ETRT\x02\x00", "shorter than the 16-byte header"),
        (b"XTRT" + _container(_TWO)[4:], "bad magic"),
        (_container(_TWO, version=3), "format version 3 is not supported .*knows 1 and 2"),
        (_container(_TWO, header_size=24), "header size 24, expected 16"),
        (_container(_TWO, num_engines=0), "num_engines 0 outside 1..16"),
        (_container(_TWO, num_engines=17), "num_engines 17 outside 1..16"),
        (_container(_TWO)[:40], "engine table of 2 entries runs past the 40-byte blob"),
        (_container(_TWO, offsets=[128, 96 + 64 * 5]), "engine 1 offset .* not 64-byte aligned"),
        (_container(_TWO, offsets=[0, 640]), "engine 0 offset 0 lies inside the header or engine table"),
        (_container(_TWO, sizes=[0, len(_TWO[1])]), "engine 0 is empty"),
        (_container(_TWO, sizes=[len(_TWO[0]), 10**6]), r"engine 1 \[.*\) outside the"),
        (_container(_TWO, sizes=[len(_TWO[0]), 2**64 - 1]), r"engine 1 \[.*\) outside the"),
        (_container(_TWO, offsets=[2**64 - 64, 640]), r"engine 0 \[.*\) outside the"),
        (_container(_TWO, hints=[-2, -1]), "engine 0 execution_memory_bytes -2 is negative"),
        (_container([_TWO[0], _TWO[0]], offsets=[128, 128]), "engine 1 overlaps engine 0"),
        (_container([_TWO[0], b"XTRT" + _TWO[1][4:]]), "engine 1: bad magic"),
        (_container([_container([_TWO[0]])]), "engine 0: blob format version 2 is not supported"),
    ],
)
def test_decode_engines_rejections(data: bytes, match: str) -> None:
    with pytest.raises(BlobFormatError, match=match):
        blob.decode_engines(data)
