"""The Python blob writer/reader (exporter/blob.py) against the C++ reader
(backend/delegate_blob.cpp), through the extension's parse_blob."""

from __future__ import annotations

import random
import struct

import pytest

from executorch_tensorrt.exporter import blob
from executorch_tensorrt.exporter.blob import DelegateBlob, EngineMetadata, Flavour, ShapeRange, TensorSpec
from executorch_tensorrt.runtime import _runtime


def _metadata(**overrides) -> EngineMetadata:
    fields = dict(
        flavour=Flavour.TENSORRT,
        builder_version="11.1.0.106",
        inputs=(
            TensorSpec("x", 6, (ShapeRange((1, 3), (4, 3), (8, 3)), ShapeRange((9, 3), (12, 3), (16, 3)))),
            TensorSpec("ids", 4, (ShapeRange.static(()), ShapeRange.static(()))),
        ),
        outputs=(TensorSpec("logits", 15, (ShapeRange((1, 5), (4, 5), (8, 5)), ShapeRange((9, 5), (12, 5), (16, 5)))),),
        device_index=1,
        version_compatible=True,
        num_profiles=2,
    )
    fields.update(overrides)
    return EngineMetadata(**fields)


def _as_cpp_dict(spec: TensorSpec) -> dict:
    return {
        "name": spec.name,
        "dtype": spec.dtype,
        "ranges": [{"min": list(r.min), "opt": list(r.opt), "max": list(r.max)} for r in spec.ranges],
    }


@pytest.mark.parametrize("flavour", list(Flavour))
def test_python_writer_cpp_reader_round_trip(flavour: Flavour) -> None:
    meta = _metadata(flavour=flavour)
    engine = bytes(range(256)) * 3
    parsed = _runtime.parse_blob(blob.encode(DelegateBlob(meta, engine)))
    assert parsed["flavour"] == flavour.label
    assert parsed["builder_version"] == meta.builder_version
    assert parsed["device_index"] == 1 and parsed["version_compatible"] is True
    assert parsed["num_profiles"] == 2
    assert parsed["inputs"] == [_as_cpp_dict(s) for s in meta.inputs]
    assert parsed["outputs"] == [_as_cpp_dict(s) for s in meta.outputs]
    assert parsed["engine"] == engine


def test_smallest_tensors_are_accepted_by_both_readers() -> None:
    # One-byte names and rank 0: the smallest tensor entries the format has.
    meta = _metadata(
        inputs=(TensorSpec("x", 6, (ShapeRange.static(()),)),),
        outputs=(TensorSpec("y", 6, (ShapeRange.static(()),)),),
        num_profiles=1,
    )
    data = blob.encode(DelegateBlob(meta, b"e"))
    assert blob.decode(data).metadata == meta
    parsed = _runtime.parse_blob(data)
    assert [t["name"] for t in parsed["inputs"] + parsed["outputs"]] == ["x", "y"]


def test_both_readers_refuse_a_newer_format_naming_the_version() -> None:
    data = bytearray(blob.encode(DelegateBlob(_metadata(), b"engine")))
    struct.pack_into("<H", data, 4, 3)
    with pytest.raises(ValueError, match="format version 3 is not supported"):
        _runtime.parse_blob(bytes(data))
    with pytest.raises(blob.BlobFormatError, match="format version 3"):
        blob.decode(bytes(data))


def test_both_readers_refuse_lengths_near_two_to_the_64() -> None:
    data = bytearray(blob.encode(DelegateBlob(_metadata(), b"engine")))
    struct.pack_into("<Q", data, 32, 2**64 - 1)
    with pytest.raises(ValueError, match="outside"):
        _runtime.parse_blob(bytes(data))
    with pytest.raises(blob.BlobFormatError):
        blob.decode(bytes(data))


def test_readers_agree_on_random_corruptions() -> None:
    original = blob.encode(DelegateBlob(_metadata(), b"\x01" * 64))
    rng = random.Random(7)
    disagreements = []
    for _ in range(3000):
        data = bytearray(original)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        try:
            blob.decode(bytes(data))
            python_ok = True
        except blob.BlobFormatError:
            python_ok = False
        try:
            _runtime.parse_blob(bytes(data))
            cpp_ok = True
        except ValueError:
            cpp_ok = False
        if python_ok != cpp_ok:
            disagreements.append(bytes(data).hex())
    assert not disagreements, f"{len(disagreements)} blobs judged differently, first: {disagreements[0]}"
