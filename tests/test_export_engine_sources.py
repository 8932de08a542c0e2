"""Engines from elsewhere: a prebuilt serialized engine with its I/O signature,
and an ONNX model file, both written as the same ``.pte`` format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from executorch_tensorrt.exporter import EngineTensor, blob, inspect_program, save_engine, save_onnx
from executorch_tensorrt.exporter.builders.tensorrt import TensorRTEngineBuilder
from test_exporter import _payloads, _request, _single_engine

RELU_PROGRAM = "etrt-test-engine 1\ninput images\noutput scores\nscores = relu images\n"
IMAGES = EngineTensor("images", torch.float32, (2, 3))
SCORES = EngineTensor("scores", torch.float32, (2, 3))


def test_prebuilt_test_engine_runs_under_its_own_names(test_engine, tmp_path: Path) -> None:
    from executorch_tensorrt.runtime import load

    path = save_engine(
        RELU_PROGRAM.encode(), tmp_path / "relu.pte", [IMAGES], [SCORES], flavour="test", builder_version="1.0.0"
    )
    (delegate,) = inspect_program(path).tensorrt_delegates
    engine = delegate.engine
    assert engine is not None and engine.flavour == "test"
    assert [(t.name, t.shapes) for t in engine.inputs + engine.outputs] == [
        ("images", ["[2, 3]"]),
        ("scores", ["[2, 3]"]),
    ]
    assert (delegate.compile_specs["engine_builder"], delegate.compile_specs["init_policy"]) == ("prebuilt", "eager")
    x = torch.randn(2, 3)
    (got,) = load(path).forward(x)
    torch.testing.assert_close(got, torch.relu(x))


def test_prebuilt_engine_whose_names_disagree_fails_at_load(test_engine, tmp_path: Path) -> None:
    from executorch_tensorrt.runtime import DelegateError, load

    pixels = EngineTensor("pixels", torch.float32, (2, 3))
    path = save_engine(
        RELU_PROGRAM.encode(), tmp_path / "bad.pte", [pixels], [SCORES], flavour="test", builder_version="1.0.0"
    )
    with pytest.raises(DelegateError, match="the blob.s input \"pixels\" is not a tensor of the engine"):
        load(path).forward(torch.randn(2, 3))


def test_prebuilt_rtx_engine_bytes_are_kept(tmp_path: Path) -> None:
    request = _request(torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU()), (torch.randn(2, 4),))
    engine = TensorRTEngineBuilder("tensorrt_rtx").build(request).engine
    (tmp_path / "model.engine").write_bytes(engine)
    path = save_engine(
        tmp_path / "model.engine",
        tmp_path / "m.pte",
        inputs=[EngineTensor("input_0", torch.float32, (2, 4))],
        outputs=[EngineTensor("output_0", torch.float32, (2, 6))],
        enable_weight_streaming=True,
        weight_streaming_budget=4096,
        init_policy="deferred",
    )
    (payload,) = _payloads(path.read_bytes())
    decoded = _single_engine(payload)
    assert decoded.engine == engine
    assert decoded.metadata.flavour is blob.Flavour.TENSORRT_RTX
    specs = inspect_program(path).tensorrt_delegates[0].compile_specs
    assert (specs["weight_streaming_budget"], specs["init_policy"]) == ("4096", "deferred")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"engine": b"ftrt" + b"\0" * 60}, ValueError, "does not start with b'vtrt'"),
        ({"engine": b""}, ValueError, "engine is empty"),
        ({"engine": 42}, TypeError, "bytes or a path"),
        ({"outputs": []}, TypeError, "outputs must be a non-empty list"),
        ({"outputs": [EngineTensor("images", torch.float32, (1,))]}, ValueError, "repeated: \\['images'\\]"),
        ({"flavour": "trt"}, ValueError, "unknown TensorRT flavour"),
        ({"weight_streaming_budget": -5, "enable_weight_streaming": True}, ValueError, ">= 0 bytes"),
        ({"batch": 2}, TypeError, "unexpected keyword argument"),
    ],
)
def test_save_engine_rejections(tmp_path: Path, kwargs: dict, error: type, match: str) -> None:
    arguments: dict = {"engine": b"vtrt" + b"\0" * 60, "inputs": [IMAGES], "outputs": [SCORES], **kwargs}
    with pytest.raises(error, match=match):
        save_engine(path=tmp_path / "m.pte", **arguments)
    assert list(tmp_path.iterdir()) == []


def test_engine_tensor_rejections() -> None:
    with pytest.raises(ValueError, match="dimension -1 .* must be a size >= 0 or the name of a dynamic dimension"):
        EngineTensor("x", torch.float32, (-1, 3))
    with pytest.raises(ValueError, match="not a TensorRT I/O dtype"):
        EngineTensor("x", torch.float64, (1,))


def test_prebuilt_dynamic_engine_runs_in_each_profile(test_engine, tmp_path: Path) -> None:
    from executorch_tensorrt.runtime import DelegateError, load

    images = EngineTensor("images", torch.float32, ("batch", 3))
    scores = EngineTensor("scores", torch.float32, ("batch", 3))
    path = save_engine(
        RELU_PROGRAM.encode(),
        tmp_path / "relu.pte",
        [images],
        [scores],
        flavour="test",
        builder_version="1.0.0",
        optimization_profiles=[{"batch": (1, 1, 4)}, {"batch": (8, 8, 16)}],
    )
    engine: Any = inspect_program(path).tensorrt_delegates[0].engine
    assert engine.inputs[0].shapes == ["[1, 3]..[4, 3] (opt [1, 3])", "[8, 3]..[16, 3] (opt [8, 3])"]
    assert engine.outputs[0].shapes == engine.inputs[0].shapes
    program = load(path)
    for batch in (1, 4, 8, 16):
        x = torch.randn(batch, 3)
        torch.testing.assert_close(program.forward(x)[0], torch.relu(x))
    with pytest.raises(DelegateError, match=r"\[1, 3\]\.\.\[4, 3\] or \[8, 3\]\.\.\[16, 3\], got float32 \[6, 3\]"):
        program.forward(torch.randn(6, 3))


@pytest.mark.parametrize(
    "inputs, outputs, profiles, match",
    [
        ([IMAGES], [EngineTensor("scores", torch.float32, ("batch", 3))], [], "no input has"),
        ([EngineTensor("images", torch.float32, ("batch", 3))], [SCORES], [], "give optimization_profiles"),
        (
            [EngineTensor("images", torch.float32, ("batch", 3))],
            [SCORES],
            [{"rows": (1, 2, 3)}],
            "ranges for \\['rows'\\].*dynamic dimensions are \\['batch'\\]",
        ),
    ],
)
def test_dynamic_signature_rejections(tmp_path: Path, inputs: list, outputs: list, profiles: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        save_engine(
            RELU_PROGRAM.encode(),
            tmp_path / "m.pte",
            inputs,
            outputs,
            flavour="test",
            builder_version="1.0.0",
            optimization_profiles=profiles,
        )
    assert list(tmp_path.iterdir()) == []


def _onnx_file(tmp_path: Path, dynamic: bool = False) -> Path:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.GELU())
    path = tmp_path / "model.onnx"
    shapes = ({0: torch.export.Dim("batch", max=8)},) if dynamic else None
    program = torch.onnx.export(
        model,
        (torch.randn(2, 4),),
        dynamo=True,
        input_names=["features"],
        output_names=["logits"],
        dynamic_shapes=shapes,
    )
    program.save(str(path))
    return path


def test_onnx_file_becomes_a_pte(tmp_path: Path) -> None:
    path = save_onnx(_onnx_file(tmp_path), tmp_path / "m.pte", engine_builder="tensorrt_rtx", optimization_level=1)
    (delegate,) = inspect_program(path).tensorrt_delegates
    engine: Any = delegate.engine
    assert engine.flavour == "tensorrt_rtx"
    assert [(t.name, t.dtype, t.shapes) for t in engine.inputs] == [("features", "float32", ["[2, 4]"])]
    assert [(t.name, t.dtype, t.shapes) for t in engine.outputs] == [("logits", "float32", ["[2, 3]"])]
    assert _single_engine(_payloads(path.read_bytes())[0]).engine[:4] == b"vtrt"
    assert delegate.compile_specs["optimization_level"] == "1"


def test_dynamic_onnx_file_gets_profiles(tmp_path: Path) -> None:
    source = _onnx_file(tmp_path, dynamic=True)
    with pytest.raises(ValueError, match="dynamic dimension\\(s\\) \\['batch'\\]: give optimization_profiles"):
        save_onnx(source, tmp_path / "m.pte", engine_builder="tensorrt_rtx")
    assert not (tmp_path / "m.pte").exists()
    profiles = [{"batch": (1, 2, 4)}, {"batch": (5, 8, 8)}]
    path = save_onnx(source, tmp_path / "m.pte", engine_builder="tensorrt_rtx", optimization_profiles=profiles)
    engine: Any = inspect_program(path).tensorrt_delegates[0].engine
    assert engine.num_profiles == 2
    assert engine.inputs[0].shapes == ["[1, 4]..[4, 4] (opt [2, 4])", "[5, 4]..[8, 4] (opt [8, 4])"]
    assert engine.outputs[0].shapes == ["[1, 3]..[4, 3] (opt [2, 3])", "[5, 3]..[8, 3] (opt [8, 3])"]


def test_onnx_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_onnx(tmp_path / "none.onnx", tmp_path / "m.pte")


def test_cli_exports_an_onnx_file(tmp_path: Path, capsys: Any) -> None:
    from executorch_tensorrt.cli import main

    source = _onnx_file(tmp_path, dynamic=True)
    out = tmp_path / "m.pte"
    argv = ["export", str(source), "-o", str(out), "--engine-builder", "tensorrt_rtx", "--profile", "batch=1:2:8"]
    assert main([*argv, "--init-policy", "deferred"]) == 0, capsys.readouterr().err
    (delegate,) = inspect_program(out).tensorrt_delegates
    assert delegate.engine.inputs[0].shapes == ["[1, 4]..[8, 4] (opt [2, 4])"]  # type: ignore[union-attr]
    assert delegate.compile_specs["init_policy"] == "deferred"
    assert main([*argv, "--torch-executed-op", "aten.relu"]) == 2
    assert "--torch-executed-op apply to torch models, not to an ONNX file" in capsys.readouterr().err  # the flag as typed


def test_prebuilt_engine_is_a_version_2_blob_with_the_baked_execution_memory(tmp_path: Path) -> None:
    path = save_engine(
        RELU_PROGRAM.encode(), tmp_path / "relu.pte", [IMAGES], [SCORES], flavour="test", builder_version="1.0.0",
        execution_memory="private",
    )
    (payload,) = _payloads(path.read_bytes())
    (entry,) = blob.decode_engines(payload)
    assert (payload[4], entry.execution_memory_bytes, entry.blob.engine) == (blob.FORMAT_VERSION, -1, RELU_PROGRAM.encode())
    (delegate,) = inspect_program(path).tensorrt_delegates
    assert (delegate.compile_specs["execution_memory"], delegate.compile_specs["batch_engines"]) == (
        "private",
        "max_batch",
    )
    with pytest.raises(TypeError, match="unexpected keyword argument.*batch_engines"):
        save_engine(
            RELU_PROGRAM.encode(), tmp_path / "x.pte", [IMAGES], [SCORES], flavour="test", builder_version="1.0.0",
            batch_engines="per_range",
        )
