"""The `output_buffers` policy through ExecuTorch's real runtime with the test
engine: compile spec, load-time option and set_option reach the executor;
device allocations are counted by the test engine's simulated device memory."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Dict

import pytest
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


@pytest.fixture(scope="module")
def dynamic_add_one(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """x + 1 on [batch, 32] float32, batch 1..8 (one profile), on the test engine:
    a batch-8 tensor needs more than the 256-byte staging slot of a batch-1 one."""
    from torch.export import Dim

    from executorch_tensorrt.exporter import register_engine_builder, save, unregister_engine_builder
    from memory_programs import AddOne
    from test_engine_builder import TestEngineBuilder

    register_engine_builder("test_dynamic_policy", TestEngineBuilder())
    try:
        return Path(
            save(
                AddOne(), tmp_path_factory.mktemp("dynamic") / "add_one.pte", (torch.zeros(4, 32),),
                engine_builder="test_dynamic_policy", dynamic_shapes=({0: Dim("batch", min=1, max=8)},),
            )
        )
    finally:
        unregister_engine_builder("test_dynamic_policy")


def _batch_allocations(engine: ctypes.CDLL, program, batches: list) -> list:  # type: ignore[no-untyped-def]
    counts = []
    for batch in batches:
        before = _allocations(engine)
        x = torch.arange(batch * 32, dtype=torch.float32).reshape(batch, 32)
        torch.testing.assert_close(program.forward(x)[0], x + 1)
        counts.append(_allocations(engine) - before)
    return counts


@pytest.mark.parametrize(
    "policy, expected",
    [
        ("reuse", [1, 1, 0, 0]),  # grows for batch 8, never for smaller ones
        ("reuse_profile_max", [1, 0, 0, 0]),  # sized for batch 8 from the first call
    ],
)
def test_growth_with_reuse_and_none_with_the_profile_maximum(
    test_engine, dynamic_add_one: Path, policy: str, expected: list
) -> None:
    program = load(dynamic_add_one, backend_options={"output_buffers": policy})
    assert _batch_allocations(test_engine, program, [1, 8, 4, 1]) == expected
    assert program.get_option("output_buffers") == {"output_buffers": policy}
