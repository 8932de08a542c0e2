"""Tensors between two TensorRT delegates stay on the device.

Exported with ExecuTorch's device-tagged memory planning
(``exporter/device_planning.py``) and run through ExecuTorch's real runtime
with the test engine, whose simulated device memory backs the CUDA
``DeviceAllocator`` ExecuTorch allocates planned device buffers from and its
``et_copy`` kernels copy through; every host<->device byte is counted there.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Dict

import pytest
import torch
from executorch.exir import to_edge_transform_and_lower

from executorch_tensorrt.exporter import TensorRTCompileSpec, save
from executorch_tensorrt.exporter.device_planning import TARGET_DEVICE_KEY, target_device
from executorch_tensorrt.runtime import load
from gpu.two_engines import TwoEnginePartitioner


class AddReluSquareNeg(torch.nn.Module):
    """relu(x + y) in the first engine, -(a * a) in the second."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        a = torch.relu(x + y)
        return -(a * a)


def _expected(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    a = torch.relu(x + y)
    return -(a * a)


def _counters(engine: ctypes.CDLL) -> Dict[str, int]:
    for name in ("h2d_bytes", "d2h_bytes", "h2d_copies", "d2h_copies"):
        getattr(engine, f"etrt_test_device_{name}").restype = ctypes.c_int64
    return {
        "h2d_bytes": engine.etrt_test_device_h2d_bytes(),
        "d2h_bytes": engine.etrt_test_device_d2h_bytes(),
        "h2d_copies": engine.etrt_test_device_h2d_copies(),
        "d2h_copies": engine.etrt_test_device_d2h_copies(),
    }


@pytest.fixture
def two_engine_program(tmp_path: Path, test_engine_builder) -> Path:  # type: ignore[no-untyped-def]
    exported = torch.export.export(AddReluSquareNeg(), (torch.zeros(4, 16), torch.zeros(4, 16)), strict=False)
    partitioner = TwoEnginePartitioner(TensorRTCompileSpec(engine_builder="test"), device_planning=True)
    edge = to_edge_transform_and_lower(exported, partitioner=[partitioner])
    path = tmp_path / "two_engines.pte"
    path.write_bytes(edge.to_executorch().buffer)
    return path


def test_target_device_values() -> None:
    assert target_device(0) == "cuda:0"
    assert target_device(3) == "cuda:3"
    for bad in (-1, True, "0"):
        with pytest.raises(ValueError, match="device_index"):
            target_device(bad)  # type: ignore[arg-type]


def test_two_engines_back_to_back_move_no_bytes_through_the_host(test_engine, two_engine_program: Path) -> None:
    assert test_engine.etrt_test_device_allocator_registered() == 1
    program = load(two_engine_program)
    assert len(program.delegates.tensorrt_delegates) == 2
    x = torch.linspace(-4, 4, 64).reshape(4, 16)
    y = torch.full((4, 16), 0.5)
    test_engine.etrt_test_device_reset_counters()
    runs_before = test_engine.etrt_test_engine_run_count()
    (out,) = program.forward(x, y)
    assert test_engine.etrt_test_engine_run_count() == runs_before + 2
    torch.testing.assert_close(out, _expected(x, y))
    counters = _counters(test_engine)
    # Only the method inputs went to the device and only the method output came
    # back (ExecuTorch's et_copy kernels); the [4, 16] tensor between the
    # engines crossed neither way.
    assert counters == {"h2d_bytes": x.nbytes + y.nbytes, "d2h_bytes": out.nbytes, "h2d_copies": 2, "d2h_copies": 1}


def test_without_device_planning_the_intermediate_goes_through_the_host(tmp_path: Path, test_engine, test_engine_builder) -> None:  # type: ignore[no-untyped-def]
    exported = torch.export.export(AddReluSquareNeg(), (torch.zeros(4, 16), torch.zeros(4, 16)), strict=False)
    edge = to_edge_transform_and_lower(exported, partitioner=[TwoEnginePartitioner(TensorRTCompileSpec(engine_builder="test"))])
    path = tmp_path / "two_engines_host.pte"
    path.write_bytes(edge.to_executorch().buffer)
    program = load(path)
    x, y = torch.ones(4, 16), torch.ones(4, 16)
    test_engine.etrt_test_device_reset_counters()
    (out,) = program.forward(x, y)
    torch.testing.assert_close(out, _expected(x, y))
    counters = _counters(test_engine)
    # Each delegate stages its host inputs in and its host output out: the
    # intermediate goes out of the first and back into the second. (Pinned
    # staging moves a delegate's host inputs in one copy, the first
    # delegate's two inputs in one; each delegate's first call also zeroes
    # its new staging buffer with one copy.)
    # Every tensor here is [4, 16] float32 (256 bytes, no padding): three
    # staged inputs, plus the staging buffers zeroed (3 and 2 tensors).
    assert counters["h2d_copies"] == 2 + 2 and counters["d2h_copies"] == 2
    assert counters["h2d_bytes"] == 3 * x.nbytes + (3 + 2) * x.nbytes


def test_save_with_device_planning_marks_the_delegate(tmp_path: Path, test_engine, test_engine_builder) -> None:  # type: ignore[no-untyped-def]
    from executorch_tensorrt.exporter import inspect_program

    inputs = (torch.zeros(2, 8), torch.zeros(2, 8))
    path = save(AddReluSquareNeg(), tmp_path / "planned.pte", inputs=inputs, engine_builder="test", device_planning=True)
    report = inspect_program(path)
    specs = report.tensorrt_delegates[0].compile_specs
    assert specs.get(TARGET_DEVICE_KEY) == "cuda:0", specs
    x, y = torch.randn(2, 8), torch.randn(2, 8)
    (out,) = load(path).forward(x, y)
    torch.testing.assert_close(out, _expected(x, y))
