"""The `output_buffers` policy through ExecuTorch's real runtime with the test
engine: compile spec, load-time option and set_option reach the executor;
device allocations are counted by the test engine's simulated device memory."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Dict

import torch

from executorch_tensorrt.runtime import load
from memory_programs import with_compile_specs

X = torch.tensor([[-3.0, -1.0, 0.0], [1.0, 2.0, 3.0]])
Y = torch.tensor([[1.0, 0.5, -1.0], [1.0, -5.0, 0.0]])


def _allocations(engine: ctypes.CDLL) -> int:
    engine.etrt_test_device_allocation_count.restype = ctypes.c_int64
    return int(engine.etrt_test_device_allocation_count())


def _allocations_per_call(engine: ctypes.CDLL, program, calls: int = 4) -> list:  # type: ignore[no-untyped-def]
    counts = []
    for call in range(calls):
        before = _allocations(engine)
        relu, twice = program.forward(X + call, Y)
        torch.testing.assert_close(relu, torch.relu(X + call + Y))
        torch.testing.assert_close(twice, (X + call) * 2)
        counts.append(_allocations(engine) - before)
    return counts


def test_reuse_is_the_default_and_allocates_only_on_the_first_call(test_engine, test_programs: Dict[str, Path]) -> None:
    program = load(test_programs["add_relu"])
    assert _allocations_per_call(test_engine, program) == [1, 0, 0, 0]


def test_fresh_as_load_time_option_allocates_once_per_call(test_engine, test_programs: Dict[str, Path]) -> None:
    program = load(test_programs["add_relu"], backend_options={"output_buffers": "fresh"})
    assert _allocations_per_call(test_engine, program) == [1, 1, 1, 1]


def test_fresh_as_compile_spec(test_engine, test_programs: Dict[str, Path], tmp_path: Path) -> None:
    baked = with_compile_specs(test_programs["add_relu"], tmp_path / "fresh.pte", {"output_buffers": b"fresh"})
    assert _allocations_per_call(test_engine, load(baked)) == [1, 1, 1, 1]


def test_set_option_switches_the_policy_between_calls(test_engine, test_programs: Dict[str, Path]) -> None:
    program = load(test_programs["add_relu"])
    assert _allocations_per_call(test_engine, program, 2) == [1, 0]
    program.set_option(output_buffers="fresh")
    assert _allocations_per_call(test_engine, program, 2) == [1, 1]
    program.set_option(output_buffers="reuse")
    assert _allocations_per_call(test_engine, program, 3) == [1, 0, 0]
