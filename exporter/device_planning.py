"""Keep tensors that pass between TensorRT delegates on the GPU.

ExecuTorch 1.5.1 plans memory per device: ``PropagateDevicePass`` (run by
``to_executorch()``, with ``ExecutorchBackendConfig.enable_non_cpu_memory_planning``
on by default) reads the compile spec ``target_device`` (``b"cuda:0"``) of each
lowered delegate, tags the delegate's inputs and outputs as device tensors,
inserts ``et_copy._h2d_copy`` / ``_d2h_copy`` where a host tensor meets the
delegate, and drops the ``d2h -> h2d`` pair between two delegates on the same
device. Memory planning then gives those tensors a buffer of their own that the
runtime allocates through ExecuTorch's ``DeviceAllocator`` for CUDA, and the
delegate binds them without copies (``backend/execute/delegate_executor.h``).

This module only makes that compile spec, which the partitioner adds to each
partition's specs (``preprocess`` leaves it out before parsing its own, so the
engine builders, which refuse keys they do not know, never see it), and, for
``DevicePlanning(device_io=True)``, the backend config that leaves the method's
own inputs and outputs on the device too: no copy is inserted for them and
memory planning reserves no buffer for them, so the caller binds its own
device tensors (``executorch_tensorrt.runtime.load(..., device="cuda")``).

Runtime requirement: a program planned this way needs a CUDA ``DeviceAllocator``
registered with ExecuTorch before its method is loaded (the runtime asserts
otherwise). The test engine registers one backed by simulated device memory
(``tests/engine/test_device_allocator.cpp``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Union

from executorch.exir import ExecutorchBackendConfig
from executorch.exir.backend.compile_spec_schema import CompileSpec
from executorch.exir.passes import MemoryPlanningPass
from executorch.exir.passes.propagate_device_config import PropagateDeviceConfig
from ..option_table import KEY_DEVICE_INDEX, KEY_TARGET_DEVICE

# The key ExecuTorch's PropagateDevicePass reads (TARGET_DEVICE_COMPILE_SPEC_KEY).
TARGET_DEVICE_KEY = KEY_TARGET_DEVICE


def target_device(device_index: int) -> str:
    """The ``target_device`` value for CUDA device ``device_index``."""
    if isinstance(device_index, bool) or not isinstance(device_index, int) or device_index < 0:
        raise ValueError(f"device_index must be a non-negative int, got {device_index!r}")
    return f"cuda:{device_index}"


def on_device(specs: List[CompileSpec], device_index: int) -> List[CompileSpec]:
    """A delegate's ``specs`` marked as running on CUDA device ``device_index``."""
    return [*specs, CompileSpec(TARGET_DEVICE_KEY, target_device(device_index).encode("ascii"))]


def builder_specs(specs: List[CompileSpec]) -> List[CompileSpec]:
    """``specs`` without the keys ExecuTorch reads for itself."""
    return [s for s in specs if s.key != TARGET_DEVICE_KEY]


@dataclass(frozen=True)
class DevicePlanning:
    """How ``export``/``save`` plan TensorRT delegate tensors in device memory.

    Attributes:
        device_io: also keep the method's inputs and outputs on the device (the
            program then takes and returns device tensors only; a method input
            must feed exactly one delegate, as ExecuTorch requires).
    """

    device_io: bool = False

    def backend_config(self) -> Optional[ExecutorchBackendConfig]:
        """The ``to_executorch()`` config this plan needs (None: the default)."""
        if not self.device_io:
            return None
        return ExecutorchBackendConfig(
            propagate_device_config=PropagateDeviceConfig(
                skip_h2d_for_method_inputs=True, skip_d2h_for_method_outputs=True
            ),
            memory_planning_pass=MemoryPlanningPass(alloc_graph_input=False, alloc_graph_output=False),
        )


def resolve_device_planning(value: Union[bool, DevicePlanning]) -> Optional[DevicePlanning]:
    """``export(device_planning=...)``: False/None (off), True (intermediates) or a DevicePlanning."""
    if value is None or value is False:
        return None
    if value is True:
        return DevicePlanning()
    if isinstance(value, DevicePlanning):
        return value
    raise TypeError(f"device_planning must be a bool or a DevicePlanning, got {type(value).__name__}: {value!r}")
