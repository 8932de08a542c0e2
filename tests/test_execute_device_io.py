"""Programs whose inputs and outputs live on the device
(``DevicePlanning(device_io=True)``), driven through the native loader with
the test engine's simulated device memory: inputs and outputs are bound
zero-copy, nothing crosses the host.

What this machine cannot run: ``load(..., device="cuda")`` with real torch
CUDA tensors (no CUDA build of torch here). Its torch-side code only turns
CUDA tensors into the (pointer, sizes, dtype, device index) tuples used below.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import List

import pytest
import torch

from executorch_tensorrt.exporter import save
from executorch_tensorrt.exporter.device_planning import DevicePlanning
from executorch_tensorrt.runtime import DelegateError, load

FLOAT32 = 6


class AddRelu(torch.nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor):
        return torch.relu(x + y), x * 2.0


class SimulatedDeviceTensor:
    """Float32 data in the test engine's simulated device memory."""

    def __init__(self, engine: ctypes.CDLL, values: List[float]) -> None:
        engine.etrt_test_device_allocate.restype = ctypes.c_void_p
        engine.etrt_test_device_allocate.argtypes = [ctypes.c_int64]
        engine.etrt_test_device_free.argtypes = [ctypes.c_void_p]
        self._engine = engine
        self.count = len(values)
        self.pointer = engine.etrt_test_device_allocate(4 * self.count)
        ctypes.memmove(self.pointer, (ctypes.c_float * self.count)(*values), 4 * self.count)

    def values(self, count: int) -> List[float]:
        return list((ctypes.c_float * count).from_address(self.pointer))

    def native(self, sizes: List[int]) -> tuple:
        return (self.pointer, sizes, FLOAT32, 0)

    def free(self) -> None:
        self._engine.etrt_test_device_free(ctypes.c_void_p(self.pointer))


@pytest.fixture
def device_io_program(tmp_path: Path, test_engine_builder) -> Path:  # type: ignore[no-untyped-def]
    inputs = (torch.zeros(2, 3), torch.zeros(2, 3))
    return save(AddRelu(), tmp_path / "device_io.pte", inputs=inputs, engine_builder="test",
                device_planning=DevicePlanning(device_io=True))


def _count(engine: ctypes.CDLL, name: str) -> int:
    function = getattr(engine, name)
    function.restype = ctypes.c_int64
    return int(function())


def test_device_inputs_and_outputs_are_bound_without_copies(test_engine, device_io_program: Path) -> None:
    program = load(device_io_program)
    assert program._native.output_specs("forward") == [([2, 3], FLOAT32), ([2, 3], FLOAT32)]
    xs = [-3.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    ys = [1.0, 0.5, -1.0, 1.0, -5.0, 0.0]
    x, y = SimulatedDeviceTensor(test_engine, xs), SimulatedDeviceTensor(test_engine, ys)
    out0, out1 = SimulatedDeviceTensor(test_engine, [0.0] * 6), SimulatedDeviceTensor(test_engine, [0.0] * 6)
    try:
        for call in range(3):
            test_engine.etrt_test_device_reset_counters()
            sizes = program._native.execute_into(
                "forward", [x.native([2, 3]), y.native([2, 3])], [out0.native([2, 3]), out1.native([2, 3])]
            )
            assert sizes == [[2, 3], [2, 3]]
            assert out0.values(6) == [max(a + b, 0.0) for a, b in zip(xs, ys)]
            assert out1.values(6) == [a * 2 for a in xs]
            # No staging, no copies, no allocation: everything was already on the device.
            assert _count(test_engine, "etrt_test_device_h2d_copies") == 0, call
            assert _count(test_engine, "etrt_test_device_d2h_copies") == 0, call
            assert _count(test_engine, "etrt_test_device_allocation_count") == 0, call
    finally:
        for t in (x, y, out0, out1):
            t.free()


def test_device_io_program_refuses_the_host_copy_path(test_engine, device_io_program: Path) -> None:
    program = load(device_io_program)
    with pytest.raises(DelegateError):
        program.forward(torch.ones(2, 3), torch.ones(2, 3))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"device": "gpu"}, ValueError, "device must be 'cpu' or 'cuda'"),
        ({"device": "cpu", "reuse_outputs": True}, ValueError, "reuse_outputs=True applies to device='cuda'"),
        ({"device": "cpu", "reuse_outputs": 1}, TypeError, "reuse_outputs must be a bool"),
    ],
)
def test_device_arguments_are_checked(test_programs, kwargs, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        load(test_programs["add_relu"], **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA torch")
def test_cuda_device_without_cuda_torch_says_so(test_programs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match="device='cuda' needs a CUDA build of torch"):
        load(test_programs["add_relu"], device="cuda")


def test_prepare_device_memory_sees_the_registered_cuda_allocator(test_engine) -> None:  # type: ignore[no-untyped-def]
    from executorch_tensorrt.runtime import _runtime

    # Loads the TensorRT adapter, which registers nothing without a GPU; the
    # test engine's simulated allocator is the one ExecuTorch has.
    assert test_engine.etrt_test_device_allocator_registered() == 1
    assert _runtime.prepare_device_memory() is True
