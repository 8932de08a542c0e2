"""Weights beside the program: ``save(..., external_weights=True)`` builds
weight-stripped engines, writes their weights to the ``.ptd`` (ExecuTorch's
named data) and the delegate refits the engines from it at load.

Through ExecuTorch's real runtime with the test engine (whose stripped
programs declare ``weight`` tensors and refuse to run until refitted): the
``.pte`` holds no weight bytes, the ``.ptd`` does; the Python loader,
ExecuTorch's own runtime and the C++ runner refit and match eager; a ``.ptd``
whose tensor changed value changes the outputs, one changed in shape or
dtype or missing a tensor is refused naming it, and a ``.pte`` loaded
without its ``.ptd`` says to pass it. Also the section's codec in both
readers, and what the real TensorRT builders are asked for.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Dict, Tuple

import numpy as np
import pytest
import torch

from executorch_tensorrt import _native
from executorch_tensorrt.exporter import blob, save
from executorch_tensorrt.exporter.blob import BlobFormatError
from executorch_tensorrt.exporter.builders.tensorrt import _builder_flags, onnx_weights
from executorch_tensorrt.exporter.compile_specs import TensorRTCompileSpec
from executorch_tensorrt.exporter.external_weights import EXTERNAL_TAG, KEY_PREFIX
from executorch_tensorrt.exporter.inspect import format_report, inspect_program
from executorch_tensorrt.exporter.state_section import delegate_states
from executorch_tensorrt.runtime import DelegateError, load
from executorch_tensorrt.runtime import _runtime
from native_build import TEST_ENGINE_LIBRARY
from native_fixtures import machine_has_nvidia_gpu
from ptd_files import delegate_blob, rewrite_ptd, weight_keys

SCALE = torch.arange(6.0).reshape(2, 3) / 4 + 0.5
SHIFT = -torch.arange(6.0).reshape(2, 3) / 8 - 0.0625
X = torch.tensor([[-1.0, 0.5, 1.0], [2.0, -3.0, 4.0]])


class Scaled(torch.nn.Module):
    """relu(x * scale + shift): two [2, 3] weights, computed by the test engine."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(SCALE.clone())
        self.shift = torch.nn.Parameter(SHIFT.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x * self.scale + self.shift)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The program and its .ptd (read-only for the tests: each copies what it changes)."""
    from executorch_tensorrt.exporter import register_engine_builder, unregister_engine_builder
    from test_engine_builder import TestEngineBuilder

    out = tmp_path_factory.mktemp("external") / "scaled.pte"
    register_engine_builder("test", TestEngineBuilder())
    try:
        save(Scaled(), out, (X,), engine_builder="test", external_weights=True)
    finally:
        unregister_engine_builder("test")
    return out


def _eager(scale: torch.Tensor = SCALE, shift: torch.Tensor = SHIFT, x: torch.Tensor = X) -> torch.Tensor:
    return torch.relu(x * scale + shift)


# --- export --------------------------------------------------------------------------


def test_the_pte_holds_no_weight_bytes_and_the_ptd_does(exported: Path) -> None:
    pte, ptd = exported.read_bytes(), exported.with_suffix(".ptd").read_bytes()
    for weight in (SCALE, SHIFT):
        raw = weight.numpy().tobytes()
        assert raw not in pte
        assert raw in ptd
    entries, sections = blob.decode_delegate(delegate_blob(exported))
    weights = blob.external_weights_of(sections)
    assert [(w.name, w.dtype_name, w.shape, w.nbytes) for w in weights] == [
        ("scale", "float32", (2, 3), 24),
        ("shift", "float32", (2, 3), 24),
    ]
    assert all(w.key.startswith(f"{KEY_PREFIX}/") and w.key.endswith(f"/{w.name}") for w in weights)
    program = entries[0].blob.engine.decode()
    assert "weight scale [2,3]\nweight shift [2,3]\n" in program  # declared, values not in the engine
    assert EXTERNAL_TAG  # one .ptd: the engines' weights share ExecuTorch's external-constant tag
    assert sorted(p.name for p in exported.parent.iterdir()) == ["scaled.ptd", "scaled.pte"]


def test_keys_are_stable_across_exports_and_differ_with_the_weights(
    exported: Path, tmp_path: Path, test_engine_builder
) -> None:
    again = tmp_path / "again.pte"
    save(Scaled(), again, (X,), engine_builder="test", external_weights=True)
    keys = lambda p: [w.key for w in blob.external_weights_of(blob.decode_delegate(delegate_blob(p))[1])]  # noqa: E731
    assert keys(again) == keys(exported)
    other = Scaled()
    with torch.no_grad():
        other.scale.add_(1.0)
    changed = tmp_path / "changed.pte"
    save(other, changed, (X,), engine_builder="test", external_weights=True)
    assert set(keys(changed)).isdisjoint(keys(exported))


def test_summary_and_inspect_say_the_weights_are_external(exported: Path, tmp_path: Path, test_engine_builder) -> None:
    saved = save(Scaled(), tmp_path / "m.pte", (X,), engine_builder="test", external_weights=True)
    (record,) = saved.summary.engines
    assert (record.kept_weights.count, record.kept_weights.nbytes) == (2, 48)
    assert "2 external weights (48 bytes) in the .ptd" in saved.summary.format()
    (delegate,) = inspect_program(exported).tensorrt_delegates
    assert (delegate.kept_weights.count, delegate.kept_weights.nbytes) == (2, 48)


def test_without_external_weights_the_test_engine_keeps_weight_ops_on_the_cpu(tmp_path: Path, test_engine_builder) -> None:
    saved = save(Scaled(), tmp_path / "m.pte", (X,), engine_builder="test")
    assert saved.external_data == ()
    assert all(record.kept_weights.count == 0 for record in saved.summary.engines)


# --- load and refit -------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["eager", "deferred"])
def test_python_loader_refits_and_matches_eager(test_engine, exported: Path, policy: str) -> None:
    refits = test_engine.etrt_test_engine_refits()
    program = load(exported, {"init_policy": policy}, data_path=exported.with_suffix(".ptd"))
    assert test_engine.etrt_test_engine_refits() == refits + (1 if policy == "eager" else 0)
    torch.testing.assert_close(program.forward(X)[0], _eager())
    assert test_engine.etrt_test_engine_refits() == refits + 1
    (state,) = program.delegate_states
    assert (state["refitted_weights"], state["refitted_weight_bytes"]) == (2, 48)


def test_offload_refits_again_from_the_kept_weights(test_engine, exported: Path) -> None:
    program = load(exported, data_path=exported.with_suffix(".ptd"))
    torch.testing.assert_close(program.forward(X)[0], _eager())
    refits = test_engine.etrt_test_engine_refits()
    program.offload()
    torch.testing.assert_close(program.forward(X * 2)[0], _eager(x=X * 2))
    assert test_engine.etrt_test_engine_refits() == refits + 1


def test_executorch_runtime_refits_from_its_data_path(test_engine, exported: Path) -> None:
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(exported, data_path=exported.with_suffix(".ptd")).load_method("forward")
    (got,) = method.execute([X])
    torch.testing.assert_close(got, _eager())


def test_runner_refits_with_data_path(test_engine, exported: Path, tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(X.numpy().tobytes())
    env = dict(os.environ, LD_PRELOAD=str(TEST_ENGINE_LIBRARY))
    args = [str(_native.RUNNER), "--model", str(exported), "--input", str(tmp_path / "x.bin"), "--verbose"]
    result = subprocess.run(
        [*args, "--data-path", str(exported.with_suffix(".ptd"))], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    values = [float(v) for v in result.stdout.splitlines()[0].split("=")[1].split()]
    np.testing.assert_allclose(values, _eager().reshape(-1).numpy(), rtol=1e-6)
    missing = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert missing.returncode != 0
    assert '"scale"' in missing.stderr and "--data-path" in missing.stderr


def test_a_pte_without_its_ptd_is_refused_saying_to_pass_it(test_engine, exported: Path) -> None:
    with pytest.raises(DelegateError, match=r'outside the \.pte .*"scale".*loaded without named data.*data_path='):
        load(exported)


# --- a .ptd that does not match --------------------------------------------------------


def test_named_data_without_a_layout_is_refused_before_executorch_reads_it(
    test_engine, exported: Path, tmp_path: Path
) -> None:
    # The schema allows data without a tensor layout, but ExecuTorch 1.5.1's
    # FlatTensorDataMap::get_tensor_layout dereferences the missing layout (a
    # crash in the delegate's init()): the loaders check the .ptd first.
    scale_key = weight_keys(exported)["scale"]
    raw = rewrite_ptd(
        exported.with_suffix(".ptd"), tmp_path / "raw.ptd", lambda k, t: t.numpy().tobytes() if k == scale_key else t
    )
    with pytest.raises(DelegateError, match=rf'raw\.ptd.*named data "{scale_key}" has no tensor layout'):
        load(exported, data_path=raw)
    env = dict(os.environ, LD_PRELOAD=str(TEST_ENGINE_LIBRARY))
    result = subprocess.run(
        [str(_native.RUNNER), "--model", str(exported), "--data-path", str(raw)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode != 0 and "has no tensor layout" in result.stderr, result.stderr
    (tmp_path / "junk.ptd").write_bytes(b"not a named-data file")
    with pytest.raises(DelegateError, match="not an ExecuTorch named-data file"):
        load(exported, data_path=tmp_path / "junk.ptd")


def test_a_changed_value_in_the_ptd_changes_the_outputs(test_engine, exported: Path, tmp_path: Path) -> None:
    scale_key = weight_keys(exported)["scale"]
    doubled = rewrite_ptd(
        exported.with_suffix(".ptd"), tmp_path / "doubled.ptd", lambda k, t: t * 2 if k == scale_key else t
    )
    program = load(exported, data_path=doubled)
    torch.testing.assert_close(program.forward(X)[0], _eager(scale=SCALE * 2))


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda t: t.reshape(3, 2), r'"scale" .* is float32 \[3, 2\] in the program.s named data, the engine was built '
         r"for float32 \[2, 3\].*data_path="),
        (lambda t: t.to(torch.float16), r'"scale" .* is float16 \[2, 3\] in the program.s named data.*float32 \[2, 3\]'),
        (lambda t: torch.cat([t.reshape(-1), t.reshape(-1)]).reshape(4, 3), r'"scale" .* float32 \[4, 3\]'),
        (lambda t: None, r'"scale" .* is not in the program.s named data.*data_path='),
    ],
    ids=["shape", "dtype", "elements", "missing"],
)
def test_a_mismatched_ptd_is_refused_naming_the_tensor(
    test_engine, exported: Path, tmp_path: Path, change: Callable, match: str
) -> None:
    scale_key = weight_keys(exported)["scale"]
    bad = rewrite_ptd(exported.with_suffix(".ptd"), tmp_path / "bad.ptd", lambda k, t: change(t) if k == scale_key else t)
    for policy in ("eager", "deferred"):  # refused at load under every policy, before anything runs
        with pytest.raises(DelegateError, match=match):
            load(exported, {"init_policy": policy}, data_path=bad)


# --- the section in both readers --------------------------------------------------------

WEIGHTS = (blob.ExternalWeight("w", "etrt/00/w", 6, (2, 3)), blob.ExternalWeight("b", "etrt/00/b", 15, (3,)))


def _one_engine_blob(payload: bytes) -> bytes:
    meta = blob.EngineMetadata(
        flavour=blob.Flavour.TEST,
        builder_version="1.0.0",
        inputs=(blob.TensorSpec("x", 6, (blob.ShapeRange.static((2, 3)),)),),
        outputs=(blob.TensorSpec("y", 6, (blob.ShapeRange.static((2, 3)),)),),
    )
    section = blob.BlobSection(blob.SectionKind.EXTERNAL_WEIGHTS, payload)
    return blob.encode_engines([blob.EngineEntry(blob.DelegateBlob(meta, b"engine"))], [section])


def test_the_section_reads_the_same_in_both_readers() -> None:
    data = _one_engine_blob(blob.encode_external_weights(WEIGHTS))
    assert blob.external_weights_of(blob.decode_delegate(data)[1]) == WEIGHTS
    parsed = _runtime.parse_blob(data)["external_weights"]
    assert [(w["name"], w["key"], w["dtype"], w["shape"], w["nbytes"]) for w in parsed] == [
        (b"w", b"etrt/00/w", 6, [2, 3], 24),
        (b"b", b"etrt/00/b", 15, [3], 6),
    ]


def _entry(name: bytes, key: bytes, dtype: int, dims: Tuple[int, ...], nbytes: int) -> bytes:
    return (
        struct.pack("<I", len(name)) + name + struct.pack("<I", len(key)) + key
        + struct.pack(f"<BBH{len(dims)}qQ", dtype, len(dims), 0, *dims, nbytes)
    )


GOOD = _entry(b"w", b"k", 6, (2, 3), 24)


@pytest.mark.parametrize(
    "payload, python_match, cpp_match",
    [
        (struct.pack("<II", 1, 0) + _entry(b"w", b"k", 6, (2, 3), 20), "records 20 bytes", "records 20 bytes"),
        (struct.pack("<II", 0, 0), "0 weights", "0 external weights"),
        (struct.pack("<II", 2**31, 0) + GOOD, "2147483648 weights", "2147483648 external weights"),
        (struct.pack("<II", 2, 0) + GOOD + GOOD, "appears twice", "appears twice"),
        (struct.pack("<II", 1, 0) + GOOD[:-3], "truncated", "truncated"),
        (struct.pack("<II", 1, 0) + GOOD + b"x", "trailing", "trailing"),
        (struct.pack("<II", 1, 0) + _entry(b"w", b"k", 99, (2,), 8), "dtype code 99", "dtype code 99"),
        (struct.pack("<II", 1, 0) + _entry(b"w", b"k", 6, (-1, 3), 0), "outside 0", "negative dim"),
        (struct.pack("<II", 1, 0) + _entry(b"w", b"k", 6, (2**62, 4), 0), "2\\*\\*63 bytes", "2\\^63 bytes"),
        (struct.pack("<II", 1, 0) + _entry(b"", b"k", 6, (1,), 4), "length 0", "length 0"),
    ],
    ids=["size", "none", "count", "repeated", "truncated", "trailing", "dtype", "negative", "overflow", "empty-name"],
)
def test_a_malformed_section_is_refused_by_both_readers(payload: bytes, python_match: str, cpp_match: str) -> None:
    data = _one_engine_blob(payload)
    with pytest.raises(BlobFormatError, match=python_match):
        blob.decode_delegate(data)
    with pytest.raises(ValueError, match=cpp_match):
        _runtime.parse_blob(data)


# --- the TensorRT builders ---------------------------------------------------------------


def test_both_tensorrt_builders_are_asked_for_stripped_refittable_engines() -> None:
    trt = SimpleNamespace(__version__="x", BuilderFlag=SimpleNamespace(STRIP_PLAN="strip", REFIT_IDENTICAL="identical"))
    spec = TensorRTCompileSpec(external_weights=True)
    for name in ("tensorrt", "tensorrt_rtx"):
        assert _builder_flags(name, trt, spec) == ["strip", "identical"]
        assert _builder_flags(name, trt, TensorRTCompileSpec()) == []
    with pytest.raises(ValueError, match="external_weights=True: tensorrt x has no STRIP_PLAN builder flag"):
        _builder_flags("tensorrt", SimpleNamespace(__version__="x", BuilderFlag=SimpleNamespace()), spec)


def test_the_weights_are_the_onnx_initializers_by_name() -> None:
    import onnx
    from onnx import helper, numpy_helper

    weight = np.arange(6, dtype=np.float32).reshape(2, 3)
    half = np.ones(3, dtype=np.float16)
    graph = helper.make_graph(
        [], "g", [], [],
        initializer=[
            numpy_helper.from_array(weight, "fc.weight"),
            numpy_helper.from_array(half, "fc.bias"),
            numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "shape_const"),
        ],
    )
    got = onnx_weights(helper.make_model(graph))
    assert [(n, t.dtype, tuple(t.shape)) for n, t in got] == [("fc.weight", torch.float32, (2, 3)), ("fc.bias", torch.float16, (3,))]
    np.testing.assert_array_equal(got[0][1].numpy(), weight)
    assert onnx  # the integer initializer is shape data TensorRT keeps in the plan


# --- weights as engine inputs (a builder that cannot build refittable engines here) ----


@pytest.fixture(scope="module")
def as_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``Scaled`` exported with a test builder that builds no refittable
    engines (TensorRT-RTX without a GPU): its weights become engine inputs."""
    from executorch_tensorrt.exporter import register_engine_builder, unregister_engine_builder
    from test_engine_builder import TestEngineBuilder

    out = tmp_path_factory.mktemp("as_inputs") / "scaled.pte"
    register_engine_builder("test", TestEngineBuilder(refits=False))
    try:
        saved = save(Scaled(), out, (X,), engine_builder="test", external_weights=True)
    finally:
        unregister_engine_builder("test")
    (record,) = saved.summary.engines
    assert (record.kept_weights.count, record.kept_weights.nbytes, record.states) == (2, 48, ())
    assert "2 external weights (48 bytes) in the .ptd, read by the engines as inputs" in saved.summary.format()
    return out


def _input_weight_keys(pte: Path) -> Dict[str, str]:
    entries, sections = blob.decode_delegate(delegate_blob(pte))
    return {s.name: s.initial_key for s in delegate_states(sections, entries[0].blob.metadata) if s.constant}


def test_weights_as_inputs_leave_the_engine_and_the_pte(as_inputs: Path) -> None:
    pte, ptd = as_inputs.read_bytes(), as_inputs.with_suffix(".ptd").read_bytes()
    for weight in (SCALE, SHIFT):
        assert weight.numpy().tobytes() not in pte
        assert weight.numpy().tobytes() in ptd
    entries, sections = blob.decode_delegate(delegate_blob(as_inputs))
    assert blob.external_weights_of(sections) == ()  # nothing to refit
    states = delegate_states(sections, entries[0].blob.metadata)
    assert [(s.name, s.output, s.constant, s.dtype_name, s.shape) for s in states] == [
        ("scale", "", True, "float32", (2, 3)),
        ("shift", "", True, "float32", (2, 3)),
    ]
    program = entries[0].blob.engine.decode()
    assert "weight " not in program and f"input {states[0].input} " in program
    (delegate,) = inspect_program(as_inputs).tensorrt_delegates
    assert (delegate.kept_weights.count, delegate.kept_weights.as_inputs, delegate.states) == (2, True, [])
    assert "read by the engines as inputs" in format_report(inspect_program(as_inputs))


def test_weights_as_inputs_load_run_and_follow_the_ptd(test_engine, as_inputs: Path, tmp_path: Path) -> None:
    ptd = as_inputs.with_suffix(".ptd")
    for policy in ("eager", "deferred"):
        program = load(as_inputs, {"init_policy": policy}, data_path=ptd)
        torch.testing.assert_close(program.forward(X)[0], _eager())
        torch.testing.assert_close(program.forward(X * 2)[0], _eager(x=X * 2))  # uploaded once, bound again
        assert program.state_buffers == []  # weights are not state to read or reset
        (state,) = program.delegate_states
        assert state["state_bytes"] == 48 and state["refitted_weights"] == 0
    key = _input_weight_keys(as_inputs)["scale"]
    doubled = rewrite_ptd(ptd, tmp_path / "doubled.ptd", lambda k, t: t * 2 if k == key else t)
    torch.testing.assert_close(load(as_inputs, data_path=doubled).forward(X)[0], _eager(scale=SCALE * 2))
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(as_inputs, data_path=ptd).load_method("forward")
    torch.testing.assert_close(method.execute([X])[0], _eager())


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda t: t.reshape(3, 2), r"weight 'scale' .* is float32 \[3, 2\] in the program.s named data, the engine was "
         r"built for float32 \[2, 3\].*data_path="),
        (lambda t: t.to(torch.float16), r"weight 'scale' .* is float16 \[2, 3\] in the program.s named data"),
        (lambda t: None, r"weight 'scale' .* is missing from the program.s named data.*data_path="),
    ],
    ids=["shape", "dtype", "missing"],
)
def test_weights_as_inputs_refuse_a_mismatched_ptd_naming_the_tensor(
    test_engine, as_inputs: Path, tmp_path: Path, change: Callable, match: str
) -> None:
    key = _input_weight_keys(as_inputs)["scale"]
    bad = rewrite_ptd(as_inputs.with_suffix(".ptd"), tmp_path / "bad.ptd", lambda k, t: change(t) if k == key else t)
    for policy in ("eager", "deferred"):
        with pytest.raises(DelegateError, match=match):
            load(as_inputs, {"init_policy": policy}, data_path=bad)
    with pytest.raises(DelegateError, match=r"weight 'scale' .* ExecuTorch passed the delegate none.*data_path="):
        load(as_inputs)


def test_weights_as_inputs_and_owned_state_live_together(test_engine, tmp_path: Path) -> None:
    from executorch_tensorrt.exporter import register_engine_builder, unregister_engine_builder
    from test_engine_builder import TestEngineBuilder

    class Accumulate(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = torch.nn.Parameter(SCALE.clone())
            self.register_buffer("total", torch.zeros(2, 3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.total.add_(x * self.scale)
            return torch.relu(self.total)

    register_engine_builder("test", TestEngineBuilder(refits=False))
    try:
        out = tmp_path / "acc.pte"
        saved = save(Accumulate(), out, (X,), engine_builder="test", external_weights=True)
    finally:
        unregister_engine_builder("test")
    (record,) = saved.summary.engines
    assert [s.name for s in record.states] == ["total"] and record.kept_weights.count == 1
    program = load(out, data_path=out.with_suffix(".ptd"))
    torch.testing.assert_close(program.forward(X)[0], torch.relu(X * SCALE))
    torch.testing.assert_close(program.forward(X)[0], torch.relu(2 * X * SCALE))
    assert program.state_buffers == ["total"]
    program.reset_state()
    torch.testing.assert_close(program.forward(X)[0], torch.relu(X * SCALE))  # the weight was kept, the state reset


def test_tensorrt_rtx_on_a_cpu_exports_external_weights_as_engine_inputs(tmp_path: Path) -> None:
    """No GPU: TensorRT-RTX builds no refittable engine here, so the weights
    are engine inputs; every one of them is in the .ptd, none in the .pte,
    and validate checks the ONNX that reads them."""
    pytest.importorskip("tensorrt_rtx")
    if machine_has_nvidia_gpu():
        pytest.skip("with a GPU, TensorRT-RTX builds refittable engines")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 36, 16)
    ).eval()
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1)
        model[1].bias.uniform_(-1, 1)
    saved = save(
        model, tmp_path / "m.pte", (torch.randn(1, 3, 8, 8),), engine_builder="tensorrt_rtx", external_weights=True,
        validate=True,
    )
    assert saved.summary.validation is not None and saved.summary.validation.passed
    pte, ptd = (tmp_path / "m.pte").read_bytes(), (tmp_path / "m.ptd").read_bytes()
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            raw = tensor.contiguous().numpy().tobytes()
            assert raw not in pte and raw in ptd, name
    (record,) = saved.summary.engines
    assert record.kept_weights.as_inputs and record.kept_weights.count == 8


# --- the command line -------------------------------------------------------------------


def test_cli_exports_with_external_weights_and_runs_with_the_ptd_beside(
    test_engine, tmp_path: Path, capsys, test_engine_builder
) -> None:
    from executorch_tensorrt.cli import main

    model = tmp_path / "scaled_model.py"
    model.write_text(
        "import torch\n"
        "class M(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.scale = torch.nn.Parameter(torch.full((2, 3), 3.0))\n"
        "    def forward(self, x):\n"
        "        return x * self.scale\n"
        "model = M()\n"
        "example_inputs = (torch.ones(2, 3),)\n"
    )
    out = tmp_path / "m.pte"
    assert main(["export", str(model), "-o", str(out), "--engine-builder", "test", "--external-weights"]) == 0
    printed = capsys.readouterr().out
    assert "1 external weights (24 bytes) in the .ptd" in printed
    assert f"wrote {tmp_path / 'm.ptd'}" in printed
    assert main(["run", str(out)]) == 0  # takes m.ptd beside m.pte
    assert "3" in capsys.readouterr().out
    (tmp_path / "m.ptd").rename(tmp_path / "elsewhere.ptd")
    assert main(["run", str(out)]) == 1
    assert "loaded without named data" in capsys.readouterr().err
    assert main(["run", str(out), "--data-path", str(tmp_path / "elsewhere.ptd")]) == 0


def test_damaged_ptd_files_are_refused_or_load_never_crash(exported: Path, tmp_path: Path) -> None:
    """Every truncation and 400 single-bit flips of the .ptd, loaded in a child
    process (a crash fails the test): ExecuTorch 1.5.1 reads the .ptd's
    flatbuffer unverified, so the loaders' check stands between it and them."""
    script = f"""
import random, sys, torch
sys.path[:0] = {[str(Path(__file__).parent), str(Path(__file__).parent / "engine")]!r}
from native_build import load_test_engine
load_test_engine()
from executorch_tensorrt.runtime import DelegateError, load
source = open({str(exported.with_suffix(".ptd"))!r}, "rb").read()
cases = [source[:n] for n in range(0, len(source), 5)]
rng = random.Random(7)
for _ in range(400):
    data = bytearray(source)
    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    cases.append(bytes(data))
counts = {{"ok": 0, "refused": 0}}
for data in cases:
    open({str(tmp_path / "damaged.ptd")!r}, "wb").write(data)
    try:
        load({str(exported)!r}, data_path={str(tmp_path / "damaged.ptd")!r}).forward(torch.ones(2, 3))
        counts["ok"] += 1
    except DelegateError:
        counts["refused"] += 1
print(counts["ok"], counts["refused"])
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    ok, refused = (int(v) for v in result.stdout.split()[-2:])
    assert refused > 0 and ok + refused == len(range(0, len(exported.with_suffix(".ptd").read_bytes()), 5)) + 400
