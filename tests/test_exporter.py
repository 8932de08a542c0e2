"""The exporter end to end: partitioner, backend, builders, save/export, inspect, CLI.

Real TensorRT-RTX builds run on the CPU; a missing ``tensorrt_rtx`` fails these
tests on purpose (no skipping).
"""

from __future__ import annotations

import io
import json
import logging
import os
import struct
import sys
import types
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import tensorrt_rtx
import torch
from executorch.exir import to_edge_transform_and_lower
from executorch.exir._serialize._flatbuffer_program import _flatbuffer_to_program
from executorch.exir._serialize._program import _get_extended_header, deserialize_pte_binary
from executorch.exir.backend.backend_details import BackendDetails, PreprocessResult
from executorch.exir.backend.canonical_partitioners.all_node_partitioner import AllNodePartitioner
from executorch.exir.schema import DataLocation
from executorch_tensorrt.cli import main
from executorch_tensorrt.exporter import (
    ExecutorchTensorRTBackend,
    TensorRTCompileSpec,
    TensorRTPartitioner,
    blob,
    export,
    format_report,
    inspect_program,
    register_engine_builder,
    save,
    unregister_engine_builder,
)
from executorch_tensorrt.exporter.builders import BuiltEngine, EngineBuildRequest
from executorch_tensorrt.exporter.builders import tensorrt as trt_builder_module
from executorch_tensorrt.exporter.builders.tensorrt import TensorRTEngineBuilder
from executorch_tensorrt.exporter.pte_file import read_pte
from executorch_tensorrt.exporter.io_specs import derive_io, example_inputs
from test_engine_builder import TestEngineBuilder, parse_program, run_program

REPO = Path(__file__).resolve().parents[1]
MLP_FILE = REPO / "examples" / "mlp.py"


# --- helpers -------------------------------------------------------------------


def _mlp() -> Tuple[torch.nn.Module, Tuple[torch.Tensor, ...]]:
    namespace: Dict[str, Any] = {}
    exec(compile(MLP_FILE.read_text(), str(MLP_FILE), "exec"), namespace)
    return namespace["model"], namespace["example_inputs"]


def _payloads(pte: bytes) -> List[bytes]:
    program = read_pte(pte)
    return [
        program.delegate_payload(pte, p, d)
        for p, plan in enumerate(program.plans)
        for d, delegate in enumerate(plan.delegates)
        if delegate.id == "ExecutorchTensorRTBackend"
    ]


def _single_engine(payload: bytes) -> blob.DelegateBlob:
    """The one engine of a delegate blob, in the format version this package writes."""
    assert struct.unpack_from("<H", payload, 4) == (blob.FORMAT_VERSION,)
    (entry,) = blob.decode_engines(payload)
    return entry.blob


def _request(module: torch.nn.Module, inputs: Tuple[torch.Tensor, ...], **spec: Any) -> EngineBuildRequest:
    """What preprocess would hand a builder, without the ExecuTorch lowering."""
    exported = torch.export.export(module.eval(), inputs, strict=False)
    io_ = derive_io(exported)
    return EngineBuildRequest(
        exported.module(), example_inputs(io_), io_.inputs, io_.outputs, TensorRTCompileSpec(**spec)
    )


class Elementwise(torch.nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor):
        return torch.relu(x + y), x * 2.0 - y.clone() + 1.5, -x, torch.add(x, y, alpha=3)


class ConvNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, image: torch.Tensor, ids: torch.Tensor):
        features = torch.relu(self.bn(self.conv(image))).mean(dim=(2, 3))
        return torch.softmax(self.fc(features), dim=-1), ids + 1


class _RecordingBuilder:
    """Wraps a builder and keeps the requests it saw."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.requests: List[EngineBuildRequest] = []

    def build(self, request: EngineBuildRequest) -> BuiltEngine:
        self.requests.append(request)
        return self.inner.build(request)


class _FailingBuilder:
    name = "failing"

    def build(self, request: EngineBuildRequest) -> BuiltEngine:
        raise RuntimeError("engine builder 'failing' refused on purpose")


@pytest.fixture
def failing_builder():
    register_engine_builder("failing", _FailingBuilder())
    yield
    unregister_engine_builder("failing")


@pytest.fixture(scope="module")
def mlp_pte() -> bytes:
    model, inputs = _mlp()
    return export(model, inputs=inputs, engine_builder="tensorrt_rtx").buffer


# --- TensorRT-RTX, for real ---------------------------------------------------


def test_backend_id_is_the_class_name() -> None:
    assert ExecutorchTensorRTBackend.__name__ == "ExecutorchTensorRTBackend"
    from executorch.exir import to_edge

    partitioner = TensorRTPartitioner(TensorRTCompileSpec(engine_builder="tensorrt_rtx", device_index=2))
    edge = to_edge(torch.export.export(torch.nn.ReLU(), (torch.randn(2),), strict=False))
    (spec,) = partitioner.partition(edge.exported_program()).partition_tags.values()
    assert spec.backend_id == "ExecutorchTensorRTBackend"
    assert {s.key: s.value for s in spec.compile_specs}["device_index"] == b"2"
    with pytest.raises(TypeError, match="TensorRTCompileSpec"):
        TensorRTPartitioner({"device_index": 2})  # type: ignore[arg-type]


def test_rtx_mlp_blob(mlp_pte: bytes) -> None:
    (payload,) = _payloads(mlp_pte)
    decoded = _single_engine(payload)
    assert decoded.engine[:4] == b"vtrt"
    meta = decoded.metadata
    assert meta.flavour is blob.Flavour.TENSORRT_RTX
    assert meta.builder_version == tensorrt_rtx.__version__
    assert (meta.device_index, meta.version_compatible, meta.num_profiles) == (0, False, 1)
    assert [(s.name, s.dtype, s.ranges) for s in meta.inputs] == [("input_0", 6, (blob.ShapeRange.static((1, 16)),))]
    assert [(s.name, s.dtype, s.ranges) for s in meta.outputs] == [("output_0", 6, (blob.ShapeRange.static((1, 10)),))]


def test_rtx_mlp_inspect(mlp_pte: bytes) -> None:
    report = inspect_program(mlp_pte)
    (method,) = report.methods
    assert method.name == "forward"
    assert method.non_delegated_operators == 0  # the whole MLP is in the engine
    (delegate,) = report.tensorrt_delegates
    engine = delegate.engine
    assert engine is not None and delegate.error is None
    assert (engine.flavour, engine.builder_version) == ("tensorrt_rtx", tensorrt_rtx.__version__)
    # The engine's input_0 is named after forward()'s argument (recorded at export).
    assert [(t.name, t.engine_name, t.dtype, t.shapes) for t in engine.inputs] == [
        ("x", "input_0", "float32", ["[1, 16]"])
    ]
    assert [(t.name, t.dtype, t.shapes) for t in engine.outputs] == [("output_0", "float32", ["[1, 10]"])]
    assert delegate.compile_specs == {
        "engine_builder": "tensorrt_rtx",
        "device_index": "0",
        "version_compatible": "0",
        "init_policy": "eager",  # one engine: initialized at load
        "batch_engines": "max_batch",
        "input_names": '["x"]',
    }
    # TensorRT-RTX compiles for the device at load: no need is known at export.
    assert [e.execution_memory_bytes for e in delegate.engines] == [-1]
    # Weights went into the engine, not into the .pte beside it.
    assert engine.engine_bytes > 0.9 * (report.size_bytes - 4096)

    text = format_report(report, title="mlp.pte")
    for expected in ("mlp.pte", "ExecutorchTensorRTBackend", "tensorrt_rtx", "input_0", "output_0", "[1, 16]"):
        assert expected in text
    assert "execution memory known at load (TensorRT-RTX compiles for the device)" in text
    assert "bytes if private" not in text  # no need is known, so no pool size either
    as_json = json.loads(json.dumps(report.to_dict()))
    assert as_json["methods"][0]["delegates"][0]["engine"]["flavour"] == "tensorrt_rtx"


def test_pte_reader_agrees_with_executorchs_deserializer(mlp_pte: bytes) -> None:
    """inspect's own flatbuffer reader (no torch) against ExecuTorch's: the
    delegate it reads from the file's segment is the bytes ExecuTorch inlines."""
    header = _get_extended_header(mlp_pte)
    assert header is not None
    raw = _flatbuffer_to_program(mlp_pte[: header.program_size])  # segments not yet inlined
    restored = deserialize_pte_binary(mlp_pte).program
    assert raw.execution_plan[0].delegates[0].processed.location == DataLocation.SEGMENT
    ours = read_pte(mlp_pte)
    (plan,) = ours.plans
    (reference,) = restored.execution_plan
    assert plan.name == reference.name
    assert [d.id for d in plan.delegates] == [d.id for d in reference.delegates]
    assert plan.delegates[0].location == DataLocation.SEGMENT
    assert [(s.key, s.value) for s in plan.delegates[0].compile_specs] == [
        (s.key, bytes(s.value)) for s in reference.delegates[0].compile_specs
    ]
    assert plan.operators == tuple((op.name, op.overload) for op in reference.operators)
    inline = restored.backend_delegate_data[reference.delegates[0].processed.index].data
    assert ours.delegate_payload(mlp_pte, 0, 0) == bytes(inline)


def test_pte_reader_refuses_a_truncated_file(mlp_pte: bytes) -> None:
    with pytest.raises(ValueError, match="not a readable ExecuTorch program"):
        read_pte(mlp_pte[:64])


def test_inspect_reports_a_corrupt_blob(test_engine_builder: TestEngineBuilder) -> None:
    data = bytearray(export(Double(), inputs=(torch.randn(4),), engine_builder="test").buffer)
    start = data.find(b"ETRT")
    data[start + 4] = 9  # blob format version 9
    (delegate,) = inspect_program(bytes(data)).tensorrt_delegates
    assert delegate.engine is None
    assert delegate.error is not None and "format version 9 is not supported" in delegate.error
    assert delegate.compile_specs["engine_builder"] == "test"
    assert "error: delegate blob" in format_report(inspect_program(bytes(data)))


class OtherDemoBackend(BackendDetails):
    @staticmethod
    def preprocess(edge_program: Any, compile_specs: Any) -> PreprocessResult:
        return PreprocessResult(processed_bytes=b"not ours")


def test_inspect_lists_other_delegates_by_id() -> None:
    exported = torch.export.export(Double(), (torch.randn(4),))
    pte = to_edge_transform_and_lower(exported, partitioner=[AllNodePartitioner("OtherDemoBackend", [])])
    report = inspect_program(pte.to_executorch().buffer)
    (delegate,) = report.methods[0].delegates
    assert (delegate.backend_id, delegate.size_bytes, delegate.engine, delegate.error) == (
        "OtherDemoBackend",
        len(b"not ours"),
        None,
        None,
    )
    assert report.tensorrt_delegates == []
    assert "delegate 0: OtherDemoBackend (8 bytes)" in format_report(report)


def test_inspect_refuses_non_programs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a readable ExecuTorch program"):
        inspect_program(b"\x00" * 64)
    with pytest.raises(TypeError):
        inspect_program(42)  # type: ignore[arg-type]


def test_rtx_conv_softmax_two_inputs_two_outputs() -> None:
    inputs = (torch.randn(1, 3, 16, 16), torch.tensor([1, 2, 3], dtype=torch.int64))
    pte = export(
        ConvNet(), inputs=inputs, engine_builder="tensorrt_rtx", device_index=1, workspace_bytes=1 << 26
    ).buffer
    (payload,) = _payloads(pte)
    meta = _single_engine(payload).metadata
    assert [(s.name, s.dtype_name, s.ranges[0].opt) for s in meta.inputs] == [
        ("input_0", "float32", (1, 3, 16, 16)),
        ("input_1", "int64", (3,)),
    ]
    assert sorted((s.name, s.dtype_name, s.ranges[0].opt) for s in meta.outputs) == [
        ("output_0", "float32", (1, 5)),
        ("output_1", "int64", (3,)),
    ]
    assert meta.device_index == 1
    specs = inspect_program(pte).tensorrt_delegates[0].compile_specs
    assert specs["workspace_bytes"] == str(1 << 26) and specs["device_index"] == "1"


class TinyAttention(torch.nn.Module):
    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.norm = torch.nn.LayerNorm(dim)
        self.out = torch.nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(self.norm(x)).chunk(3, dim=-1)
        weights = torch.softmax(q @ k.transpose(-2, -1) / 4.0, dim=-1)
        return x + torch.nn.functional.gelu(self.out(weights @ v))


class Where(torch.nn.Module):
    def forward(self, x: torch.Tensor, mask: torch.Tensor):
        return torch.where(mask, x, torch.zeros_like(x)), x > 0


@pytest.mark.parametrize(
    "model, inputs, input_dtypes, output_dtypes",
    [
        (TinyAttention(), (torch.randn(2, 5, 16),), ["float32"], ["float32"]),
        (torch.nn.Linear(4, 3).half(), (torch.randn(2, 4).half(),), ["float16"], ["float16"]),
        (torch.nn.Linear(4, 3).bfloat16(), (torch.randn(2, 4).bfloat16(),), ["bfloat16"], ["bfloat16"]),
        (Where(), (torch.randn(3), torch.tensor([True, False, True])), ["float32", "bool"], ["float32", "bool"]),
    ],
    ids=["attention", "float16", "bfloat16", "bool"],
)
def test_rtx_models_and_dtypes(model: torch.nn.Module, inputs: tuple, input_dtypes: list, output_dtypes: list) -> None:
    (payload,) = _payloads(export(model, inputs=inputs, engine_builder="tensorrt_rtx").buffer)
    decoded = _single_engine(payload)
    assert decoded.engine[:4] == b"vtrt"
    assert [s.dtype_name for s in decoded.metadata.inputs] == input_dtypes
    assert sorted(s.dtype_name for s in decoded.metadata.outputs) == sorted(output_dtypes)
    assert [s.ranges[0].opt for s in decoded.metadata.inputs] == [tuple(t.shape) for t in inputs]


def test_rtx_builder_logs_and_shows_progress_on_tty(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    from executorch_tensorrt.exporter.builders import trt_logging

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    monkeypatch.setattr(trt_logging, "SHOW_PROGRESS_AFTER_SECONDS", 0.0)  # this build takes under a second
    caplog.set_level(logging.DEBUG, logger="executorch_tensorrt.tensorrt")
    request = _request(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()), (torch.randn(2, 4),))
    built = TensorRTEngineBuilder("tensorrt_rtx").build(request)
    assert built.engine[:4] == b"vtrt" and built.flavour is blob.Flavour.TENSORRT_RTX
    levels = {r.levelno for r in caplog.records if r.name == "executorch_tensorrt.tensorrt"}
    assert {logging.INFO, logging.DEBUG} <= levels  # TensorRT INFO and VERBOSE kept apart
    assert tty.getvalue(), "the progress display drew nothing on a TTY"


def test_rtx_builder_draws_nothing_without_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = io.StringIO()  # isatty() is False
    monkeypatch.setattr(sys, "stderr", pipe)
    request = _request(torch.nn.ReLU(), (torch.randn(3),))
    TensorRTEngineBuilder("tensorrt_rtx").build(request)
    assert pipe.getvalue() == ""


def test_rtx_parser_failure_names_the_node() -> None:
    class BitAnd(torch.nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return torch.bitwise_and(a, b)

    inputs = (torch.tensor([1, 2]), torch.tensor([3, 1]))
    # Asked directly, the builder names the node the parser refused ...
    with pytest.raises(RuntimeError, match=r"could not parse(.|\n)*node_bitwise_and(.|\n)*BitwiseAnd"):
        TensorRTEngineBuilder("tensorrt_rtx").build(_request(BitAnd(), inputs))
    # ... and the partitioner, told by the same parser, leaves nothing for TensorRT.
    with pytest.raises(
        ValueError, match=r"nothing to delegate(.|\n)*aten_bitwise_and_tensor(.|\n)*refuses its BitwiseAnd"
    ):
        export(BitAnd(), inputs=inputs, engine_builder="tensorrt_rtx")


def test_build_failure_names_builder_and_tensorrt_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    class FailingBuilder(tensorrt_rtx.Builder):
        def __init__(self, logger: Any) -> None:
            super().__init__(logger)
            self._logger = logger

        def build_serialized_network(self, network: Any, config: Any) -> None:
            self._logger.log(tensorrt_rtx.ILogger.Severity.ERROR, "out of tactics (synthetic)")
            return None

    fake = types.SimpleNamespace(**{k: getattr(tensorrt_rtx, k) for k in dir(tensorrt_rtx) if not k.startswith("__")})
    fake.Builder = FailingBuilder
    fake.__version__ = tensorrt_rtx.__version__
    monkeypatch.setattr(TensorRTEngineBuilder, "_import", lambda self: fake)
    request = _request(torch.nn.ReLU(), (torch.randn(3),))
    with pytest.raises(RuntimeError, match=r"tensorrt_rtx .* failed to build(.|\n)*out of tactics \(synthetic\)"):
        TensorRTEngineBuilder("tensorrt_rtx").build(request)


def test_version_compatible_refused_without_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.SimpleNamespace(BuilderFlag=types.SimpleNamespace(), __version__="9.9")
    monkeypatch.setattr(TensorRTEngineBuilder, "_import", lambda self: fake)
    request = _request(torch.nn.ReLU(), (torch.randn(3),), version_compatible=True)
    with pytest.raises(ValueError, match="no VERSION_COMPATIBLE builder flag"):
        TensorRTEngineBuilder("tensorrt").build(request)


def test_large_models_go_through_external_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trt_builder_module, "MAX_IN_MEMORY_ONNX_BYTES", 0)
    request = _request(torch.nn.Linear(8, 8), (torch.randn(1, 8),))
    assert TensorRTEngineBuilder("tensorrt_rtx").build(request).engine[:4] == b"vtrt"


# --- the test-engine builder ----------------------------------------------------


def test_test_builder_program_matches_the_graph(test_engine_builder: TestEngineBuilder) -> None:
    recorder = _RecordingBuilder(test_engine_builder)
    register_engine_builder("test", recorder)
    x, y = torch.randn(2, 3), torch.randn(2, 3)
    pte = export(Elementwise(), inputs=(x, y), engine_builder="test").buffer

    (payload,) = _payloads(pte)
    decoded = _single_engine(payload)
    meta = decoded.metadata
    assert (meta.flavour, meta.builder_version) == (blob.Flavour.TEST, TestEngineBuilder.version)
    assert [s.name for s in meta.inputs] == ["input_0", "input_1"]
    assert [s.name for s in meta.outputs] == ["output_0", "output_1", "output_2", "output_3"]

    program = decoded.engine.decode("utf-8")
    parsed = parse_program(program)
    assert parsed["inputs"] == ["input_0", "input_1"]
    assert parsed["outputs"] == ["output_3", "output_2", "output_1", "output_0"]  # reversed on purpose

    (request,) = recorder.requests
    expected = request.module(x, y)  # the delegated graph, in delegate-output order
    got = run_program(program, {"input_0": x, "input_1": y})
    for index, tensor in enumerate(expected):
        torch.testing.assert_close(got[f"output_{index}"], tensor)

    report = inspect_program(pte)
    assert report.tensorrt_delegates[0].engine.flavour == "test"  # type: ignore[union-attr]


def test_test_builder_handles_passthrough_and_repeated_outputs() -> None:
    class Passthrough(torch.nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor):
            z = torch.sub(x, y, alpha=0.5) * 3.0
            return z, x, z, torch.relu(-z)

    x, y = torch.randn(4), torch.randn(4)
    request = _request(Passthrough(), (x, y))  # an aten graph straight from torch.export
    program = TestEngineBuilder().build(request).engine.decode()
    got = run_program(program, {"input_0": x, "input_1": y})
    for index, expected in enumerate(Passthrough()(x, y)):
        torch.testing.assert_close(got[f"output_{index}"], expected)
    assert "output_1 = copy input_0" in program and "output_2 = copy output_0" in program


def test_test_builder_refuses_what_the_test_engine_lacks() -> None:
    class Broadcast(torch.nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return x + y

    with pytest.raises(NotImplementedError, match="broadcasts"):
        TestEngineBuilder().build(_request(Broadcast(), (torch.randn(2, 3), torch.randn(3))))
    with pytest.raises(NotImplementedError, match="not float32"):
        TestEngineBuilder().build(_request(torch.nn.ReLU(), (torch.randn(3).half(),)))

    class Scale(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.weight

    # A weight tensor becomes a `const` line of the program (PROGRAM_FORMAT.md).
    program = TestEngineBuilder().build(_request(Scale(), (torch.randn(2),))).engine.decode()
    assert "const w0 [2] 1.0 1.0" in program


def test_test_builder_names_unsupported_ops(test_engine_builder: TestEngineBuilder) -> None:
    class Sigmoid(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(x)

    with pytest.raises(ValueError, match="nothing to delegate(.|\n)*the test engine has no aten::sigmoid"):
        export(Sigmoid(), inputs=(torch.randn(3),), engine_builder="test")
    with pytest.raises(NotImplementedError, match="aten::sigmoid"):
        TestEngineBuilder().build(_request(Sigmoid(), (torch.randn(3),)))


# --- save() -------------------------------------------------------------------


class Double(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2.0 + 1.0


def test_save_writes_the_program(tmp_path: Path, test_engine_builder: TestEngineBuilder) -> None:
    target = tmp_path / "double.pte"
    returned = save(Double(), str(target), inputs=(torch.randn(4),), engine_builder="test")
    assert returned.path == target and isinstance(returned.path, Path) and Path(returned) == target
    data = target.read_bytes()
    assert data[4:8] == b"ET12"
    assert inspect_program(target).tensorrt_delegates[0].engine is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["double.pte"]  # no temp files left
    assert (target.stat().st_mode & 0o777) == (0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_failed_export_leaves_no_file(tmp_path: Path, failing_builder: None) -> None:
    target = tmp_path / "model.pte"
    with pytest.raises(RuntimeError, match="refused on purpose"):
        save(Double(), target, inputs=(torch.randn(4),), engine_builder="failing")
    assert list(tmp_path.iterdir()) == []

    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError, match="refused on purpose"):
        save(Double(), target, inputs=(torch.randn(4),), engine_builder="failing")
    assert target.read_bytes() == b"previous"


def test_failed_write_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_engine_builder: TestEngineBuilder
) -> None:
    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk went away"):
        save(Double(), tmp_path / "model.pte", inputs=(torch.randn(4),), engine_builder="test")
    assert list(tmp_path.iterdir()) == []


# --- argument checking --------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda p: save(Double(), p / "m.pte", inputs=(torch.randn(2),), output_format="onnx"),
            ValueError,
            "supported: executorch",
        ),
        (lambda p: export(Double(), inputs=[1.0, 2.0]), TypeError, r"inputs\[0\] must be a torch.Tensor, got float"),
        (lambda p: export(Double(), inputs=torch.randn(2)), TypeError, "tuple or list of torch.Tensor"),
        (lambda p: export(Double()), TypeError, "inputs is required"),
        (
            lambda p: export(Double(), inputs=(torch.randn(2),), foo=1, bar=2),
            TypeError,
            "unexpected keyword argument.*bar, foo.*accepted: inputs, engine_builder, device_index",
        ),
        (
            lambda p: save(Double(), p / "m.pte", inputs=(torch.randn(2),), batch=1),
            TypeError,
            "save\\(\\) got unexpected keyword argument.*batch.*output_format",
        ),
        (
            lambda p: export(Double(), inputs=(torch.randn(2, dtype=torch.float64),)),
            ValueError,
            r"inputs\[0\] is float64.*float32",
        ),
        (lambda p: export(Double(), inputs=(torch.randn(2),), device_index=True), TypeError, "device_index"),
        (
            lambda p: export(Double(), inputs=(torch.randn(2),), engine_builder="trt"),
            ValueError,
            "unknown engine_builder",
        ),
        (lambda p: export("model.pt", inputs=(torch.randn(2),)), TypeError, "nn.Module or a torch.export"),
        (
            lambda p: export(torch.export.export(Double(), (torch.randn(2),)), inputs=(torch.randn(2),)),
            ValueError,
            "leave them out",
        ),
        (lambda p: save(Double(), p / "missing" / "m.pte", inputs=(torch.randn(2),)), FileNotFoundError, "missing"),
        (lambda p: save(Double(), p, inputs=(torch.randn(2),)), IsADirectoryError, "is a directory"),
    ],
)
def test_bad_arguments(tmp_path: Path, call: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_float64_operators_stay_on_the_cpu() -> None:
    class Mixed(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.double() * 2  # TensorRT has no float64: nothing is left for it

    with pytest.raises(ValueError, match="nothing to delegate(.|\n)*aten_mul_tensor.*uses float64"):
        export(Mixed(), inputs=(torch.randn(2),), engine_builder="tensorrt_rtx")


def test_nothing_to_delegate() -> None:
    class Identity(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    with pytest.raises(ValueError, match=r"nothing to delegate.*write it with ExecuTorch directly"):
        export(Identity(), inputs=(torch.randn(2),))


def test_complex_tensors_are_refused_naming_the_operator(test_engine_builder: TestEngineBuilder) -> None:
    class Spectrum(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.fft.rfft(x).abs()

    # (was a SpecViolationError from ExecuTorch's edge verifier about "mismatched dtypes")
    with pytest.raises(ValueError, match=r"complex tensors cannot be exported.*aten\.fft_rfft.*test_exporter\.py:\d+.*"
                       r"Compute with real tensors"):
        export(Spectrum(), inputs=(torch.randn(2, 16),), engine_builder="test")


def test_a_dynamic_dimension_of_example_size_1_gets_the_remedy(test_engine_builder: TestEngineBuilder) -> None:
    batch = torch.export.Dim("batch", min=1, max=8)
    with pytest.raises(ValueError, match="needs an example input of size 2 or more there") as caught:
        export(Double(), inputs=(torch.randn(1, 3),), dynamic_shapes=({0: batch},), engine_builder="test")
    assert "specialized it to be a constant (1)" in str(caught.value)  # torch.export's own words follow
    export(Double(), inputs=(torch.randn(2, 3),), dynamic_shapes=({0: batch},), engine_builder="test")


def test_a_dynamic_dimension_the_model_fixes_gets_the_remedy(test_engine_builder: TestEngineBuilder) -> None:
    class Recurrent(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(4, 4, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lstm(x)[0]

    sequence = torch.export.Dim("sequence", min=2, max=16)
    remedy = r"nn\.LSTM / nn\.GRU over the sequence.*leave that dimension static"
    with pytest.raises(ValueError, match=remedy) as caught:
        export(Recurrent(), inputs=(torch.randn(1, 6, 4),), dynamic_shapes=({1: sequence},), engine_builder="test")
    assert "specialized it to be a constant (6)" in str(caught.value)


def test_unbounded_dynamic_dims_are_refused(test_engine_builder: TestEngineBuilder) -> None:
    exported = torch.export.export(Double(), (torch.randn(4, 3),), dynamic_shapes=({0: torch.export.Dim("batch")},))
    with pytest.raises(ValueError, match=r"delegate input 0 dimension 0: dynamic dimension s\d+ has no upper bound"):
        export(exported, engine_builder="test")


def test_export_restores_training_mode(test_engine_builder: TestEngineBuilder) -> None:
    model = torch.nn.Sequential(Double(), torch.nn.Dropout(0.5))
    model.train()
    model[0].eval()
    export(model, inputs=(torch.randn(4),), engine_builder="test")
    assert model.training and not model[0].training and model[1].training


# --- CLI ------------------------------------------------------------------------


def test_cli_export_and_inspect(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "mlp.pte"
    assert (
        main(["export", str(MLP_FILE), "-o", str(out), "--engine-builder", "tensorrt_rtx", "--device-index", "0"]) == 0
    )
    assert out.is_file() and "wrote" in capsys.readouterr().out

    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "tensorrt_rtx" in text and "input_0" in text and "[1, 16]" in text

    assert main(["inspect", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    engine = report["methods"][0]["delegates"][0]["engine"]
    assert engine["flavour"] == "tensorrt_rtx" and engine["outputs"][0]["shapes"] == ["[1, 10]"]


def test_cli_accepts_callables(tmp_path: Path, capsys: Any, test_engine_builder: TestEngineBuilder) -> None:
    # A module beside the model file is importable, as with `python model.py`.
    (tmp_path / "cli_helper_layers.py").write_text(
        "import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n        return torch.relu(x) * 3.0\n"
    )
    model_file = tmp_path / "model.py"
    model_file.write_text(
        "import torch\n"
        "from cli_helper_layers import M\n"
        "model = M\n"  # a class is a zero-argument callable returning a module
        "def example_inputs():\n"
        "    return (torch.randn(2, 2),)\n"
    )
    out = tmp_path / "m.pte"
    assert main(["export", str(model_file), "-o", str(out), "--engine-builder", "test"]) == 0
    assert inspect_program(out).tensorrt_delegates[0].engine.flavour == "test"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "source, match",
    [
        ("import torch\nexample_inputs = (torch.randn(1),)\n", "does not define `model`"),
        ("import torch\nmodel = torch.nn.ReLU()\n", "does not define `example_inputs`"),
        ("import torch\nmodel = 3\nexample_inputs = (torch.randn(1),)\n", "not an nn.Module or a callable"),
        ("import torch\nmodel = lambda: 3\nexample_inputs = (torch.randn(1),)\n", "returned a int"),
        ("import torch\nmodel = torch.nn.ReLU()\nexample_inputs = torch.randn(1)\n", "must be a tuple of tensors"),
        ("import torch\nmodel = torch.nn.ReLU()\nexample_inputs = (1,)\n", "must be a tuple of tensors"),
        ("raise ImportError('no module named foo')\n", "running .* failed: ImportError: no module named foo"),
        (
            "import torch\ndef model():\n    raise KeyError('boom')\nexample_inputs = (torch.randn(1),)\n",
            r"calling `model\(\)` from .* failed: KeyError: 'boom'",
        ),
    ],
)
def test_cli_model_file_errors(tmp_path: Path, capsys: Any, source: str, match: str) -> None:
    model_file = tmp_path / "model.py"
    model_file.write_text(source)
    assert main(["export", str(model_file), "-o", str(tmp_path / "out.pte")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    import re

    assert re.search(match, err), err
    assert not (tmp_path / "out.pte").exists()


def test_cli_errors_are_one_line(tmp_path: Path, capsys: Any) -> None:
    assert main(["export", str(tmp_path / "nope.py"), "-o", str(tmp_path / "o.pte")]) == 2
    assert capsys.readouterr().err == f"error: model file {tmp_path / 'nope.py'} does not exist\n"
    assert main(["inspect", str(tmp_path / "nope.pte")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "junk.pte").write_bytes(b"junk" * 10)
    assert main(["inspect", str(tmp_path / "junk.pte")]) == 2
    assert capsys.readouterr().err.startswith("error: not a readable ExecuTorch program")
    assert main(["export", str(MLP_FILE), "-o", str(tmp_path / "o.pte"), "--engine-builder", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown engine_builder 'nope'") and err.count("\n") == 1


def test_cli_usage_errors_return_2(capsys: Any) -> None:
    assert main([]) == 2
    assert main(["export", str(MLP_FILE)]) == 2  # -o is required
    assert main(["export", str(MLP_FILE), "-o", "x.pte", "--device-index", "-1"]) == 2
    capsys.readouterr()


def test_cli_run_delegates_to_the_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: List[Any] = []
    runtime = types.ModuleType("executorch_tensorrt.runtime")
    runtime.cli_run = lambda args: seen.append(args) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "executorch_tensorrt.runtime", runtime)
    argv = ["run", "m.pte", "--input", "a.npy", "--input", "b.npy", "--backend-option", "k=v", "--verbose"]
    assert main(argv) == 0
    (args,) = seen
    assert (args.pte, args.method, args.input, args.backend_option, args.verbose) == (
        "m.pte",
        "forward",
        ["a.npy", "b.npy"],
        ["k=v"],
        True,
    )
