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
