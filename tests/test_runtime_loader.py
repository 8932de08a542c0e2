"""executorch_tensorrt.runtime.load and ExecuTorch's own Python runtime, on
programs whose delegate runs on the test engine (CPU) or holds a real
TensorRT-RTX engine (which needs a GPU)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest
import torch

from executorch_tensorrt.runtime import DelegateError, load
from native_build import TEST_ENGINE_LIBRARY
from native_fixtures import machine_has_nvidia_gpu


def _reference(x: torch.Tensor, y: torch.Tensor):
    return torch.relu(x + y), x * 2.0


def test_program_runs_on_test_engine_with_correct_outputs(test_engine, test_programs: Dict[str, Path]) -> None:
    program = load(test_programs["add_relu"])
    assert program.method_names == ["forward"]
    runs_before = test_engine.etrt_test_engine_run_count()
    for seed in range(3):
        torch.manual_seed(seed)
        x, y = torch.randn(2, 3), torch.randn(2, 3)
        outputs = program.forward(x, y)
        expected = _reference(x, y)
        assert len(outputs) == 2
        for got, want in zip(outputs, expected):
            torch.testing.assert_close(got, want)
    assert test_engine.etrt_test_engine_run_count() == runs_before + 3


def test_outputs_do_not_alias_between_calls(test_engine, test_programs: Dict[str, Path]) -> None:
    program = load(test_programs["add_relu"])
    first = program.forward(torch.ones(2, 3), torch.ones(2, 3))[0]
    program.forward(torch.full((2, 3), -5.0), torch.zeros(2, 3))
    torch.testing.assert_close(first, torch.full((2, 3), 2.0))


def test_concurrent_calls_on_one_program_give_correct_outputs(test_engine, test_programs: Dict[str, Path]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    program = load(test_programs["add_relu"])

    def call(seed: int) -> bool:
        x = torch.full((2, 3), float(seed))
        y = torch.full((2, 3), -1.0)
        relu, twice = program.forward(x, y)
        return bool(torch.equal(relu, torch.relu(x + y)) and torch.equal(twice, x * 2))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(call, range(400), timeout=120))
    assert results.count(False) == 0, f"{results.count(False)} of {len(results)} calls returned another call's outputs"


def test_executorch_own_runtime_runs_the_program(test_engine, test_programs: Dict[str, Path]) -> None:
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(test_programs["add_relu"]).load_method("forward")
    x, y = torch.randn(2, 3), torch.randn(2, 3)
    outputs = method.execute([x, y])
    for got, want in zip(outputs, _reference(x, y)):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("executorch_first", [True, False], ids=["executorch-first", "ours-first"])
def test_loader_works_before_or_after_executorch_runtime(test_programs: Dict[str, Path], executorch_first: bool) -> None:
    first, second = "import executorch.runtime", "import executorch_tensorrt.runtime as rt"
    if not executorch_first:
        first, second = second, first
    script = f"""
import ctypes, os, torch
{first}
{second}
import executorch_tensorrt.runtime as rt
ctypes.CDLL({str(TEST_ENGINE_LIBRARY)!r}, mode=os.RTLD_NOW | ctypes.RTLD_GLOBAL)
x = torch.arange(6.0).reshape(2, 3) - 3
out = rt.load({str(test_programs["add_relu"])!r}).forward(x, torch.ones(2, 3))
print(out[0].tolist())
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "[[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]" in result.stdout


def test_real_tensorrt_rtx_engine_reports_why_it_cannot_run(test_programs: Dict[str, Path]) -> None:
    expected = "builder flavour mismatch" if machine_has_nvidia_gpu() else "no CUDA device is available"
    with pytest.raises(DelegateError, match=expected):
        load(test_programs["rtx_mlp"])


def test_engine_of_another_version_is_refused_naming_both(test_engine, test_programs: Dict[str, Path]) -> None:
    with pytest.raises(DelegateError, match="engine built by test 2.0.0, this delegate runs test 1.0.0"):
        load(test_programs["add_relu_v2"])


def test_wrong_inputs_are_refused(test_engine, test_programs: Dict[str, Path]) -> None:
    program = load(test_programs["add_relu"])
    with pytest.raises(DelegateError):
        program.forward(torch.ones(2, 3))
    with pytest.raises(DelegateError):
        program.forward(torch.ones(4, 3), torch.ones(4, 3))
    with pytest.raises(TypeError, match="input 1 is a str"):
        program.forward(torch.ones(2, 3), "y")


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"k" * 64: "1"}, ValueError, "at most 63"),
        ({"weight_streaming_budget": "9" * 256}, ValueError, "at most 255"),
        ({"some_int": 2**31}, ValueError, "32-bit"),
        # Beyond 64 bits pybind11 would say only "Unable to cast Python instance".
        ({"init_policy": 2**70}, ValueError, r"'init_policy': 1180591620717411303424 does not fit .*-2147483648\.\.2147483647"),
        ({"some_float": 1.5}, TypeError, "must be str, int or bool"),
        ({3: "x"}, TypeError, "names must be str"),
    ],
)
def test_backend_options_checked_before_executorch_truncates(test_programs, options, error, match) -> None:
    with pytest.raises(error, match=match):
        load(test_programs["add_relu"], backend_options=options)


def test_valid_backend_options_load(test_engine, test_programs: Dict[str, Path]) -> None:
    options = {"init_policy": "deferred", "output_buffers": "fresh", "weight_streaming_budget": 3}
    program = load(test_programs["add_relu"], backend_options=options)
    assert program.backend_options == {**options, "weight_streaming_budget": "3"}
    assert program.get_option("init_policy", "output_buffers") == {"init_policy": "deferred", "output_buffers": "fresh"}


def test_unknown_backend_option_fails_naming_it(test_engine, test_programs: Dict[str, Path]) -> None:
    with pytest.raises(DelegateError, match="unknown load-time option 'unused_option'"):
        load(test_programs["add_relu"], backend_options={"unused_option": "1"})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no program file"):
        load(tmp_path / "missing.pte")


def test_delegate_information(test_programs: Dict[str, Path], test_engine) -> None:
    report = load(test_programs["add_relu"]).delegates
    text = str(report)
    assert "test" in text and "input_0" in text
