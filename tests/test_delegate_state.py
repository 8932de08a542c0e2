"""State in place (README): a mutable buffer read and written only inside one
TensorRT partition is owned by its delegate, updated on the device (in place
through an aliased output, or a device-to-device copy), kept across calls and
methods, reset and read back through documented calls. Through ExecuTorch's
real runtime with the test engine; host copies counted by its simulated device."""

from __future__ import annotations

import ctypes
import dataclasses
import struct
from pathlib import Path
from typing import Dict, Iterator

import pytest
import torch

from test_engine_builder import TestEngineBuilder

import executorch_tensorrt

from executorch_tensorrt.exporter import register_engine_builder, unregister_engine_builder
from executorch_tensorrt.exporter.blob import (
    BlobFormatError,
    DelegateBlob,
    EngineEntry,
    EngineMetadata,
    Flavour,
    ShapeRange,
    TensorSpec,
    decode_delegate,
    encode_engines,
)
from executorch_tensorrt.exporter.state_section import (
    InitialValue,
    StateSpec,
    decode_state_section,
    delegate_states,
    encode_state_section,
)
from executorch_tensorrt.runtime import DelegateError, _runtime, load

SHAPE = (4, 8)


class Accumulator(torch.nn.Module):
    """forward(x): cache += x; returns cache * 2. ``start`` is the buffer's initial value."""

    def __init__(self, start: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("cache", torch.full(SHAPE, start))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.cache.add_(x)
        return self.cache * 2.0


class Decay(torch.nn.Module):
    """A second method over the same buffer: cache *= 0.5; returns cache + x."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("cache", torch.ones(SHAPE))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.cache.mul_(0.5)
        return self.cache + x


@pytest.fixture(params=[True, False], ids=["aliased", "device_copy"])
def alias_state(request: pytest.FixtureRequest) -> Iterator[bool]:
    register_engine_builder("test", TestEngineBuilder(alias_state=request.param))
    try:
        yield request.param
    finally:
        unregister_engine_builder("test")


def _int64(engine: ctypes.CDLL, name: str) -> int:
    function = getattr(engine, name)
    function.restype = ctypes.c_int64
    return int(function())


def _delegate_counters(program) -> Dict[str, int]:  # type: ignore[no-untyped-def]
    (report,) = program.delegate_states
    return {**report["counters"], "state_bytes": report["state_bytes"]}


def _export(path: Path, model: torch.nn.Module, **options) -> Path:  # type: ignore[no-untyped-def]
    executorch_tensorrt.save(model, path, inputs=(torch.zeros(SHAPE),), engine_builder="test", **options)
    return path


def test_the_export_summary_and_inspect_name_the_owned_buffer(alias_state: bool, tmp_path: Path) -> None:
    saved = executorch_tensorrt.save(
        Accumulator(), tmp_path / "m.pte", inputs=(torch.zeros(SHAPE),), engine_builder="test"
    )
    (record,) = saved.summary.engines
    assert [s.name for s in record.states] == ["cache"]
    assert "owns state cache float32 [4, 8]" in saved.summary.format()
    (delegate,) = executorch_tensorrt.exporter.inspect_program(tmp_path / "m.pte").tensorrt_delegates
    assert delegate.states == ["cache float32 [4, 8] (in state_in_0, out state_out_0)"]
    # ExecuTorch passes the delegate only x: the buffer is not an argument.
    assert [t.name for t in delegate.engine.inputs] == ["x"]


def test_calls_update_the_state_on_the_device_without_host_copies(
    alias_state: bool, test_engine: ctypes.CDLL, tmp_path: Path
) -> None:
    program = load(_export(tmp_path / "m.pte", Accumulator()))
    eager = Accumulator()
    x = torch.arange(32, dtype=torch.float32).reshape(SHAPE) / 8
    program.forward(x)
    eager(x)
    for step in range(4):
        h2d, d2h = _int64(test_engine, "etrt_test_device_h2d_copies"), _int64(test_engine, "etrt_test_device_d2h_copies")
        d2d = _int64(test_engine, "etrt_test_device_d2d_copies")
        (out,) = program.forward(x + step)
        torch.testing.assert_close(out, eager(x + step))
        # Only x goes in and the output comes back (one pinned copy each
        # way): the state never crosses.
        assert _int64(test_engine, "etrt_test_device_h2d_copies") - h2d == 1
        assert _int64(test_engine, "etrt_test_device_d2h_copies") - d2h == 1
        assert _int64(test_engine, "etrt_test_device_d2d_copies") - d2d == (0 if alias_state else 1)
    counters = _delegate_counters(program)
    assert counters["state_host_copies"] == 1  # the initial fill only
    assert counters["state_device_updates"] == 5
    assert counters["state_bytes"] == x.nbytes
    assert program.get_option("state_host_copies", "state_device_updates") == {
        "state_host_copies": "1", "state_device_updates": "5"
    }
    torch.testing.assert_close(program.read_state("cache"), eager.cache)


def test_reset_starts_again_from_the_initial_value(alias_state: bool, test_engine: ctypes.CDLL, tmp_path: Path) -> None:
    program = load(_export(tmp_path / "m.pte", Accumulator(start=3.0)))
    x = torch.ones(SHAPE)
    assert program.state_buffers == ["cache"]
    torch.testing.assert_close(program.read_state("cache"), torch.full(SHAPE, 3.0))  # before any call
    program.forward(x)
    program.forward(x)
    torch.testing.assert_close(program.read_state("cache"), torch.full(SHAPE, 5.0))
    program.reset_state("cache")
    torch.testing.assert_close(program.read_state("cache"), torch.full(SHAPE, 3.0))
    (out,) = program.forward(x)
    torch.testing.assert_close(out, torch.full(SHAPE, 8.0))
    program.reset_state()
    (out,) = program.forward(x)
    torch.testing.assert_close(out, torch.full(SHAPE, 8.0))
    assert _delegate_counters(program)["state_host_copies"] == 3  # fill, then one per reset


def test_unknown_state_names_are_refused_naming_the_known_ones(
    alias_state: bool, test_engine: ctypes.CDLL, tmp_path: Path
) -> None:
    program = load(_export(tmp_path / "m.pte", Accumulator()))
    with pytest.raises(DelegateError, match="no state buffer 'kv'; known buffers: cache"):
        program.read_state("kv")
    with pytest.raises(DelegateError, match="state buffer 'kv'; known buffers: cache"):
        program.reset_state("kv")


def test_two_loads_of_a_program_have_separate_state(alias_state: bool, test_engine: ctypes.CDLL, tmp_path: Path) -> None:
    path = _export(tmp_path / "m.pte", Accumulator(start=0.0))
    first, second = load(path), load(path)
    first.forward(torch.ones(SHAPE))
    first.forward(torch.ones(SHAPE))
    second.forward(torch.ones(SHAPE))
    torch.testing.assert_close(first.read_state("cache"), torch.full(SHAPE, 2.0))
    torch.testing.assert_close(second.read_state("cache"), torch.full(SHAPE, 1.0))


def test_methods_of_one_program_share_the_state(alias_state: bool, test_engine: ctypes.CDLL, tmp_path: Path) -> None:
    """Two methods lowered by ExecuTorch's multi-method API through our partitioner."""
    from executorch.exir import to_edge_transform_and_lower

    from executorch_tensorrt.exporter import TensorRTCompileSpec, TensorRTPartitioner

    x = torch.ones(SHAPE)
    programs = {
        "grow": torch.export.export(Accumulator(), (x,)),
        "decay": torch.export.export(Decay(), (x,)),
    }
    partitioner = TensorRTPartitioner(TensorRTCompileSpec(engine_builder="test"))
    lowered = to_edge_transform_and_lower(programs, partitioner=[partitioner]).to_executorch()
    path = tmp_path / "two_methods.pte"
    path.write_bytes(lowered.buffer)
    program = load(path)
    (grown,) = program.run("grow", [x])  # cache 1 + 1 = 2
    torch.testing.assert_close(grown, torch.full(SHAPE, 4.0))
    (decayed,) = program.run("decay", [x])  # the same cache: 2 * 0.5 = 1
    torch.testing.assert_close(decayed, torch.full(SHAPE, 2.0))
    (grown,) = program.run("grow", [x])  # 1 + 1 = 2
    torch.testing.assert_close(grown, torch.full(SHAPE, 4.0))
    torch.testing.assert_close(program.read_state("cache"), torch.full(SHAPE, 2.0))


def test_a_buffer_read_on_the_cpu_stays_executorchs(test_engine: ctypes.CDLL, tmp_path: Path) -> None:
    class ReadOutside(Accumulator):
        # Starts at zeros: what ExecuTorch's own planned mutable buffers start from.
        def __init__(self) -> None:
            super().__init__(start=0.0)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.cache.add_(x)
            return torch.sigmoid(self.cache)  # the test engine has no sigmoid: a CPU reader

    register_engine_builder("test", TestEngineBuilder())
    try:
        saved = executorch_tensorrt.save(
            ReadOutside(), tmp_path / "m.pte", inputs=(torch.zeros(SHAPE),), engine_builder="test"
        )
    finally:
        unregister_engine_builder("test")
    assert [record.states for record in saved.summary.engines] == [()]
    program, eager = load(tmp_path / "m.pte"), ReadOutside()
    for _ in range(2):
        torch.testing.assert_close(program.forward(torch.ones(SHAPE))[0], eager(torch.ones(SHAPE)))
    assert program.state_buffers == []


# --- The state section: both readers ----------------------------------------

_META = EngineMetadata(
    flavour=Flavour.TEST,
    builder_version="1.0.0",
    inputs=(TensorSpec("x", 6, (ShapeRange.static(SHAPE),)),),
    outputs=(TensorSpec("y", 6, (ShapeRange.static(SHAPE),)),),
)
_STATE = StateSpec("layers.0.k_cache", "state_in_0", "state_out_0", 6, (1, 2, 16, 4))


def _with_state(payload: bytes) -> bytes:
    from executorch_tensorrt.exporter.blob import BlobSection, SectionKind

    return encode_engines([EngineEntry(DelegateBlob(_META, b"etrt-test-engine 1\n"))], [BlobSection(SectionKind.STATE, payload)])


def test_the_state_section_round_trips_through_both_readers() -> None:
    named = StateSpec("cache", "state_in_1", "state_out_1", 6, (4, 8), InitialValue.NAMED_DATA, "etrt.state.cache")
    weight = StateSpec("fc.weight", "state_in_2", "", 5, (8, 8), InitialValue.NAMED_DATA, "etrt.weight.00.fc.weight")
    sections = [encode_state_section([_STATE, named, weight])]
    data = encode_engines([EngineEntry(DelegateBlob(_META, b"etrt-test-engine 1\n"))], sections)
    assert delegate_states(decode_delegate(data)[1]) == (_STATE, named, weight)
    assert weight.constant and not named.constant
    assert 1 in _runtime.parse_blob(data)["sections"]


def _read_only_zeros() -> bytes:
    """A read-only entry (empty output) whose value is zeros: the encoder refuses to write it."""
    name, tensor = b"w", b"state_in_0"
    entry = struct.pack("<I", len(name)) + name + struct.pack("<I", len(tensor)) + tensor + struct.pack("<I", 0)
    return struct.pack("<II", 1, 0) + entry + struct.pack("<BBBBq", 6, 1, 0, 0, 2)


def _unknown_initial_kind() -> bytes:
    payload = encode_state_section([_STATE]).payload
    return payload.replace(struct.pack("<BBBB", 6, 4, 0, 0), struct.pack("<BBBB", 6, 4, 9, 0))


@pytest.mark.parametrize(
    "payload",
    [
        struct.pack("<II", 0, 0),
        encode_state_section([_STATE]).payload[:-3],
        encode_state_section([_STATE]).payload + b"\0",
        encode_state_section([StateSpec("s", "x", "state_out_0", 6, (2,))]).payload,
        _unknown_initial_kind(),
        _read_only_zeros(),
        struct.pack("<II", 40000, 0) + encode_state_section([_STATE]).payload[8:],
    ],
    ids=[
        "no_buffers", "truncated", "trailing", "collides_with_an_argument", "unknown_initial_kind",
        "read_only_without_named_data", "count_beyond_the_payload",
    ],
)
def test_a_bad_state_section_is_refused_by_both_readers(payload: bytes) -> None:
    data = _with_state(payload)
    entries, sections = decode_delegate(data)
    with pytest.raises(BlobFormatError):
        delegate_states(sections, entries[0].blob.metadata)
    with pytest.raises(ValueError, match="state section"):
        _runtime.parse_blob(data)


def test_decode_state_section_refuses_a_repeated_buffer() -> None:
    payload = encode_state_section([_STATE]).payload
    twice = struct.pack("<II", 2, 0) + payload[8:] + payload[8:]
    with pytest.raises(BlobFormatError, match="appears twice"):
        decode_state_section(twice)


# --- A decoder from a config, prefill and decode methods --------------------

def _decoder_program(tmp_path: Path, alias: bool):  # type: ignore[no-untyped-def]
    """The decoder saved with prefill and decode methods over one dynamic
    sequence Dim: the two methods' partitions are one graph, so one engine."""
    from tiny_decoder import DecoderConfig, TinyDecoder, step_inputs

    config = DecoderConfig()
    torch.manual_seed(0)
    model = TinyDecoder(config).eval()
    prompt = torch.tensor([3, 1, 4, 1])
    # torch.export specializes a size of 1, so the decode example has 2 tokens.
    methods = {"prefill": step_inputs(config, prompt, 0), "decode": step_inputs(config, prompt[:2], len(prompt))}
    sequence = torch.export.Dim("sequence", min=1, max=config.max_seq)
    path = tmp_path / "decoder.pte"
    register_engine_builder("test", TestEngineBuilder(alias_state=alias))
    try:
        report = executorch_tensorrt.save(
            model, path, methods=methods, dynamic_shapes=({0: sequence},) * 3, engine_builder="test", validate=True
        ).summary.validation
    finally:
        unregister_engine_builder("test")
    # Each method checked from the caches' initial values (the .pte on a fresh load per method).
    assert report is not None and report.passed and not report.skipped, report.format_lines()
    assert {c.check.split()[0].rstrip(":") for c in report.comparisons} == {"prefill", "decode"}
    return config, model, prompt, path


@pytest.mark.parametrize("alias", [True, False], ids=["aliased", "device_copy"])
def test_a_decoder_with_its_kv_cache_inside_the_delegate_matches_eager(
    alias: bool, test_engine: ctypes.CDLL, tmp_path: Path
) -> None:
    from tiny_decoder import step_inputs

    config, model, prompt, path = _decoder_program(tmp_path, alias)
    (prefill, decode) = [d for d in executorch_tensorrt.exporter.inspect_program(path).tensorrt_delegates]
    caches = [f"layers.{i}.{kind}_cache" for i in range(config.layers) for kind in ("k", "v")]
    assert sorted(s.split()[0] for s in prefill.states) == sorted(caches) == sorted(s.split()[0] for s in decode.states)
    program = load(path)
    assert program.state_buffers == sorted(caches)
    with torch.no_grad():
        expected = model(*step_inputs(config, prompt, 0))
        (logits,) = program.run("prefill", list(step_inputs(config, prompt, 0)))
        torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
        token = int(expected[-1].argmax())
        copies = _int64(test_engine, "etrt_test_device_h2d_copies")
        per_step = []
        for step in range(3):
            args = step_inputs(config, torch.tensor([token]), len(prompt) + step)
            expected = model(*args)
            (logits,) = program.run("decode", list(args))
            torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
            token = int(expected[-1].argmax())
            per_step.append(_int64(test_engine, "etrt_test_device_h2d_copies") - copies - sum(per_step))
    # Per decode step the inputs' one staged copy (the delegate's first call
    # also zeroes its new staging buffer): the caches never cross.
    assert per_step[1:] == [1, 1], per_step
    reports = {r["counters"]["executes"]: r for r in program.delegate_states}
    prefill_report, decode_report = reports[1], reports[3]
    # One engine (and one copy of its weights on the device) serves both methods.
    assert sorted(r["engines_shared"] for r in program.delegate_states) == [0, 1]
    assert prefill_report["counters"]["state_host_copies"] == 4  # each cache filled once, at the first call
    assert decode_report["counters"]["state_host_copies"] == 0
    assert decode_report["counters"]["state_device_updates"] == 3 * len(caches)
    for name in caches:
        layer, kind = name.split(".")[1], name.split(".")[2]
        torch.testing.assert_close(program.read_state(name), getattr(model.layers[int(layer)], kind), rtol=1e-5, atol=1e-5)
    program.reset_state()
    torch.testing.assert_close(program.read_state(caches[0]), torch.zeros(config.max_seq, config.dim))


class _WrongStateShape(TestEngineBuilder):
    """Declares the state input one row short, as an engine built for another buffer would."""

    def build(self, request):  # type: ignore[no-untyped-def]
        built = super().build(request)
        text = built.engine.decode().replace("input state_in_0 [4,8]", "input state_in_0 [3,8]")
        return dataclasses.replace(built, engine=text.encode())


def test_an_engine_whose_state_tensor_disagrees_with_the_buffer_is_refused(
    test_engine: ctypes.CDLL, tmp_path: Path
) -> None:
    register_engine_builder("test", _WrongStateShape())
    try:
        path = _export(tmp_path / "m.pte", Accumulator())
    finally:
        unregister_engine_builder("test")
    with pytest.raises(DelegateError, match=r'tensor "state_in_0" dim 0 is 3 in the engine'):
        load(path).forward(torch.ones(SHAPE))


# --- validate and the TensorRT builders ---------------------------------------

def test_validate_checks_the_state_update_and_changes_no_buffer(test_engine: ctypes.CDLL, tmp_path: Path) -> None:
    """validate=True runs the model, its partitions and their ONNX from the
    buffers' values without writing them: ExportedProgram.module() shares the
    user's buffers, and the .pte's initial value is the buffer's."""
    model = Accumulator(start=1.0)
    register_engine_builder("test", TestEngineBuilder())
    try:
        summary = executorch_tensorrt.save(
            model, tmp_path / "m.pte", inputs=(torch.ones(SHAPE),), engine_builder="test", validate=True
        ).summary
    finally:
        unregister_engine_builder("test")
    torch.testing.assert_close(model.cache, torch.ones(SHAPE))
    report = summary.validation
    assert report is not None and report.passed, report.format_lines()
    outputs = [c.output for c in report.comparisons if c.check == "forward delegate 0: ONNX Runtime vs PyTorch"]
    assert len(outputs) == 2 and outputs[-1] == "state_out_0"  # the cache's new value is compared too
    (first,) = load(tmp_path / "m.pte").forward(torch.ones(SHAPE))
    torch.testing.assert_close(first, torch.full(SHAPE, 4.0))  # (1 + 1) * 2: the cache started at 1


def test_tensorrt_rtx_builds_engines_that_own_the_decoders_caches(tmp_path: Path) -> None:
    """TensorRT-RTX's builder (on this CPU) takes each cache as an engine
    input and its new value as an output; validate compares the engine's
    ONNX, caches included, with PyTorch. The engine cannot run here (no GPU)."""
    pytest.importorskip("tensorrt_rtx")
    from tiny_decoder import DecoderConfig, TinyDecoder, step_inputs

    config = DecoderConfig()
    torch.manual_seed(0)
    model = TinyDecoder(config).eval()
    inputs = step_inputs(config, torch.tensor([3, 1, 4, 1]), 0)
    summary = executorch_tensorrt.save(
        model, tmp_path / "decoder.pte", inputs=inputs, engine_builder="tensorrt_rtx", validate=True
    ).summary
    caches = sorted(f"layers.{i}.{kind}_cache" for i in range(config.layers) for kind in ("k", "v"))
    (delegate,) = executorch_tensorrt.exporter.inspect_program(tmp_path / "decoder.pte").tensorrt_delegates
    assert sorted(s.split()[0] for s in delegate.states) == caches
    report = summary.validation
    assert report is not None and report.passed, report.format_lines()
    compared = {c.output for c in report.comparisons if c.check == "forward delegate 0: ONNX Runtime vs PyTorch"}
    assert {f"state_out_{k}" for k in range(len(caches))} <= compared
    assert all(float(getattr(layer, kind).abs().sum()) == 0 for layer in model.layers for kind in ("k_cache", "v_cache"))
