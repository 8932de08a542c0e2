"""Methods that share engines: ``save(model, path, methods={...})`` with the
CPU test engine through ExecuTorch's runtime. The two methods' partitions are
the same graph (one dynamic Dim), so the program stores the engine once in its
named data, and at load the second method's delegate runs on the first one's
deserialized engine: one deserialization, the weights on the (simulated)
device once, a context each, one shared execution-memory pool for both
methods. A program whose named data lacks the engine is refused naming the key."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
import torch

from memory_programs import MemoryModel, MemoryTestBuilder, registered
from native_build import TEST_ENGINE_LIBRARY

import executorch_tensorrt
from executorch_tensorrt import _native
from executorch_tensorrt.exporter import blob, inspect_program
from executorch_tensorrt.runtime import DelegateError, load

WEIGHTS = 8192
ACTIVATION = 1024
MEMORY = MemoryModel(weights=WEIGHTS, activation=ACTIVATION)
SEQUENCE = torch.export.Dim("sequence", min=1, max=32)
PREFILL = torch.arange(1 * 16 * 4, dtype=torch.float32).reshape(1, 16, 4) / 10
DECODE = torch.arange(1 * 3 * 4, dtype=torch.float32).reshape(1, 3, 4) - 5


class Elementwise(torch.nn.Module):
    """relu(x + 1) * 2 - 0.5: elementwise, so the test engine computes it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + 1.0) * 2.0 - 0.5


def _export(out: Path, name: str, **options: object) -> Path:
    with registered(f"methods_{name}", MemoryTestBuilder(MEMORY)) as builder:
        return Path(executorch_tensorrt.save(Elementwise(), out / f"{name}.pte", engine_builder=builder, **options))


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    out = tmp_path_factory.mktemp("methods")
    methods = {"prefill": (PREFILL,), "decode": (DECODE,)}
    return {
        "two": _export(out, "two", methods=methods, dynamic_shapes=({1: SEQUENCE},)),
        "two_inline": _export(out, "two_inline", methods=methods, dynamic_shapes=({1: SEQUENCE},), named_engines=False),
        "one": _export(out, "one", inputs=(PREFILL,), dynamic_shapes=({1: SEQUENCE},)),
    }


def _pte(path: Path):
    from executorch.exir._serialize._program import deserialize_pte_binary

    return deserialize_pte_binary(path.read_bytes())


def test_the_program_holds_the_engine_once_in_named_data(programs: Dict[str, Path]) -> None:
    report = inspect_program(programs["two"])
    assert sorted(m.name for m in report.methods) == ["decode", "prefill"]
    engines = [e for d in report.tensorrt_delegates for e in d.engines]
    assert len(engines) == 2
    keys = {e.named_key for e in engines}
    (key,) = keys  # both delegates name the same engine
    assert key.startswith(blob.NAMED_ENGINE_KEY_PREFIX)
    named = _pte(programs["two"]).named_data
    assert list(named.pte_data) == [key]
    (engine,) = named.buffers
    # Stored once in the file.
    assert programs["two"].read_bytes().count(bytes(engine)) == 1


def test_both_methods_run_and_match_eager(test_engine, programs: Dict[str, Path]) -> None:
    program = load(programs["two"])
    model = Elementwise()
    torch.testing.assert_close(program.run("prefill", [PREFILL])[0], model(PREFILL))
    torch.testing.assert_close(program.run("decode", [DECODE])[0], model(DECODE))
    # Another length in the Dim's range, on either method.
    longer = torch.randn(1, 31, 4)
    torch.testing.assert_close(program.run("decode", [longer])[0], model(longer))


def _loaded_on_device(test_engine, path: Path, **options: object):
    test_engine.etrt_test_device_reset_counters()
    before = (test_engine.etrt_test_engine_deserialize_count(), test_engine.etrt_test_engine_shares())
    in_use = test_engine.etrt_test_device_bytes_in_use()
    program = load(path, backend_options={"init_policy": "eager", **options})
    deserialized = test_engine.etrt_test_engine_deserialize_count() - before[0]
    shares = test_engine.etrt_test_engine_shares() - before[1]
    return program, deserialized, shares, test_engine.etrt_test_device_bytes_in_use() - in_use


def test_the_methods_hold_one_engines_weights_once(test_engine, programs: Dict[str, Path]) -> None:
    test_engine.etrt_test_device_bytes_in_use.restype = ctypes_int64()
    program, deserialized, shares, device_bytes = _loaded_on_device(test_engine, programs["two"])
    assert (deserialized, shares) == (1, 1)
    states = program.delegate_states
    assert sorted(s["engines_shared"] for s in states) == [0, 1]
    # The weights count on the delegate that deserialized the engine only.
    assert sorted(s["device_bytes"] for s in states) == [0, WEIGHTS]
    # One pool (the program's) serves both methods' contexts: the largest need, not the sum.
    pools = {s["pool"]["id"] for s in states}
    assert len(pools) == 1
    assert states[0]["pool"]["members"] == 2
    assert device_bytes == WEIGHTS + ACTIVATION
    model = Elementwise()
    torch.testing.assert_close(program.run("prefill", [PREFILL])[0], model(PREFILL))
    torch.testing.assert_close(program.run("decode", [DECODE])[0], model(DECODE))
    assert test_engine.etrt_test_engine_memory_overlaps() == 0
    del program


def test_inline_identical_engines_share_too(test_engine, programs: Dict[str, Path]) -> None:
    # The digest in each engine entry identifies the engine without named data.
    test_engine.etrt_test_device_bytes_in_use.restype = ctypes_int64()
    program, deserialized, shares, device_bytes = _loaded_on_device(
        test_engine, programs["two_inline"], execution_memory="private"
    )
    assert (deserialized, shares) == (1, 1)
    assert device_bytes == WEIGHTS + 2 * ACTIVATION  # private: a context each, the weights once
    del program


def test_two_loads_of_one_program_do_not_share(test_engine, programs: Dict[str, Path]) -> None:
    first = load(programs["two"], backend_options={"init_policy": "eager"})
    before = test_engine.etrt_test_engine_deserialize_count()
    second = load(programs["two"], backend_options={"init_policy": "eager"})
    assert test_engine.etrt_test_engine_deserialize_count() - before == 1  # its own engine, shared by its methods
    assert sorted(s["engines_shared"] for s in second.delegate_states) == [0, 1]
    del first, second


def test_offload_and_back_keeps_outputs(test_engine, programs: Dict[str, Path]) -> None:
    program = load(programs["two"], backend_options={"init_policy": "eager"})
    program.offload()
    assert all(s["state"] == "host" for s in program.delegate_states)
    model = Elementwise()
    torch.testing.assert_close(program.run("decode", [DECODE])[0], model(DECODE))
    torch.testing.assert_close(program.run("prefill", [PREFILL])[0], model(PREFILL))


def _without_named_data(source: Path, destination: Path) -> Path:
    from executorch.exir._serialize._program import serialize_pte_binary

    pte = _pte(source)
    pte.named_data.pte_data = {"someone.else": entry for entry in pte.named_data.pte_data.values()}
    destination.write_bytes(bytes(serialize_pte_binary(pte)))
    return destination


def test_a_missing_named_engine_is_refused_naming_the_key(test_engine, programs: Dict[str, Path], tmp_path: Path) -> None:
    (key,) = {e.named_key for d in inspect_program(programs["two"]).tensorrt_delegates for e in d.engines}
    broken = _without_named_data(programs["two"], tmp_path / "missing.pte")
    program = load(broken, load_methods=False)
    with pytest.raises(DelegateError, match=f'named data "{key}" \\(an engine\\) is missing from the program'):
        program.load_method("prefill")


def test_the_runner_runs_a_chosen_method(test_engine, programs: Dict[str, Path], tmp_path: Path) -> None:
    # The runner feeds each input at its planned (largest) size.
    x = torch.linspace(-2, 2, 32 * 4).reshape(1, 32, 4)
    (tmp_path / "x.bin").write_bytes(x.numpy().tobytes())
    env = dict(os.environ, LD_PRELOAD=str(TEST_ENGINE_LIBRARY))
    ran = subprocess.run(
        [str(_native.RUNNER), "--model", str(programs["two"]), "--method", "decode", "--input", str(tmp_path / "x.bin"),
         "--verbose"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    expected = Elementwise()(x).reshape(-1).tolist()
    (line,) = [l for l in ran.stdout.splitlines() if l.startswith("output 0: Float [1, 32, 4] = ")]
    values = [float(v) for v in line.split(" = ", 1)[1].split()]
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-5)


def test_methods_and_inputs_are_exclusive() -> None:
    with pytest.raises(TypeError, match="not both"):
        executorch_tensorrt.save(Elementwise(), "/tmp/never.pte", inputs=(PREFILL,), methods={"a": (PREFILL,)})
    with pytest.raises(ValueError, match="Python identifier"):
        executorch_tensorrt.save(Elementwise(), "/tmp/never.pte", methods={"not a name": (PREFILL,)})


def test_validate_and_keep_onnx_check_every_method(test_engine, tmp_path: Path) -> None:
    methods = {"prefill": (PREFILL,), "decode": (DECODE,)}
    with registered("methods_validate", MemoryTestBuilder(MEMORY)) as builder:
        saved = executorch_tensorrt.save(
            Elementwise(), tmp_path / "m.pte", methods=methods, dynamic_shapes=({1: SEQUENCE},),
            engine_builder=builder, validate=True, keep_onnx=tmp_path,
        )
    report = saved.summary.validation
    assert report is not None and report.passed and not report.skipped, report.format_lines()
    checks = sorted({c.check for c in report.comparisons})
    assert checks == sorted(
        f"{method}{check}"
        for method in methods
        for check in (
            " delegate 0: ONNX Runtime vs PyTorch",
            ": program with ONNX Runtime partitions vs eager PyTorch",
            ": the .pte through the delegate vs eager PyTorch",  # the test engine runs here
        )
    )
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == ["decode_delegate0.onnx", "prefill_delegate0.onnx"]


def ctypes_int64():
    import ctypes

    return ctypes.c_int64


def test_the_example_decoder_builds_its_engine_once_with_tensorrt_rtx(examples_dir: Path, tmp_path: Path) -> None:
    """examples/decoder.py through the real TensorRT-RTX builder (on the CPU):
    prefill and decode ask for the same engine, which is built once and named
    by both delegates."""
    pytest.importorskip("tensorrt_rtx")
    import runpy

    from executorch_tensorrt.exporter import get_engine_builder

    example = runpy.run_path(str(examples_dir / "decoder.py"))
    builder = get_engine_builder("tensorrt_rtx")
    reused = builder.reused_builds
    saved = executorch_tensorrt.save(
        example["model"], tmp_path / "decoder.pte", methods=example["methods"],
        dynamic_shapes=example["dynamic_shapes"], engine_builder="tensorrt_rtx",
    )
    assert builder.reused_builds - reused == 1
    assert len(saved.summary.engines) == 2
    report = inspect_program(saved.path)
    keys = [e.named_key for d in report.tensorrt_delegates for e in d.engines]
    assert len(keys) == 2 and len(set(keys)) == 1 and keys[0]
    assert len(_pte(saved.path).named_data.buffers) == 1
