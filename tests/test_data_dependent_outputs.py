"""Outputs whose shape is known only after the run (``torch.nonzero``),
through ExecuTorch's runtime with the test engine: the exporter records
torch.export's upper bound for the data-dependent size as the output's range
max, the delegate binds that much memory, resizes ExecuTorch's output to what
the engine produced, and refuses an input that produces more, naming the
output, the shape and the bound (backend/execute/README.md)."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import List

import pytest
import torch

from executorch_tensorrt.exporter import save
from executorch_tensorrt.exporter.blob import decode_engines
from executorch_tensorrt.exporter.device_planning import DevicePlanning
from executorch_tensorrt.exporter.pte_file import read_pte
from executorch_tensorrt.option_table import KEY_CUDA_GRAPHS
from executorch_tensorrt.runtime import DelegateError, load

from test_engine_builder import parse_program

INT64 = 4
SHAPE = (4, 8)  # 32 elements: nonzero's count is at most 32
SMALL_BOUND = 5


class Nonzero(torch.nn.Module):
    """The indices of the positive elements (relu then nonzero, one engine)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nonzero(torch.relu(x))


class BoundedNonzero(torch.nn.Module):
    """Promises torch.export at most SMALL_BOUND positive elements."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        indices = torch.nonzero(torch.relu(x))
        torch._check(indices.shape[0] <= SMALL_BOUND)
        return indices


def eager(x: torch.Tensor) -> torch.Tensor:
    return torch.nonzero(torch.relu(x))


def with_positives(count: int) -> torch.Tensor:
    """A SHAPE input whose first `count` elements (row-major) are positive."""
    x = -torch.ones(SHAPE[0] * SHAPE[1])
    x[:count] = torch.arange(1, count + 1, dtype=torch.float32)
    return x.reshape(SHAPE)


def scattered(count: int) -> torch.Tensor:
    """`count` positive elements spread over the tensor (not a prefix)."""
    x = -torch.ones(SHAPE[0] * SHAPE[1])
    x[torch.randperm(x.numel(), generator=torch.Generator().manual_seed(count))[:count]] = 2.5
    return x.reshape(SHAPE)


@pytest.fixture(scope="module")
def nonzero_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from executorch_tensorrt.exporter import register_engine_builder, unregister_engine_builder
    from test_engine_builder import TestEngineBuilder

    register_engine_builder("test", TestEngineBuilder())
    try:
        out = tmp_path_factory.mktemp("data_dependent")
        return save(Nonzero(), out / "nonzero.pte", inputs=(torch.zeros(SHAPE),), engine_builder="test").path
    finally:
        unregister_engine_builder("test")


def only_engine(path: Path):  # type: ignore[no-untyped-def]
    """The one engine entry of a one-delegate program."""
    data = path.read_bytes()
    (entry,) = decode_engines(read_pte(data).delegate_payload(data, 0, 0))
    return entry


def test_nonzero_exports_inside_the_engine_with_its_upper_bound(nonzero_program: Path) -> None:
    engine = only_engine(nonzero_program)
    (output,) = engine.blob.metadata.outputs
    assert output.dtype == INT64
    # torch.export bounds nonzero's count u0 by the input's 32 elements.
    assert [(r.min, r.max) for r in output.ranges] == [((0, 2), (32, 2))]
    text = engine.blob.engine.decode("utf-8")
    assert "output output_0 [-1,2]" in text
    assert parse_program(text)["ops"] == ["t0 = relu input_0", "output_0 = nonzero t0"]


@pytest.mark.parametrize("count", [0, 1, 7, 31, 32])
def test_each_call_returns_as_many_indices_as_the_input_has_nonzeros(
    test_engine, nonzero_program: Path, count: int
) -> None:
    program = load(nonzero_program)
    for x in (with_positives(count), scattered(count)):
        (indices,) = program.forward(x)
        assert indices.dtype == torch.int64
        assert torch.equal(indices, eager(x)), (count, indices)


def test_calls_of_different_counts_in_a_row_resize_the_output_each_time(test_engine, nonzero_program: Path) -> None:
    program = load(nonzero_program)
    for count in (32, 3, 0, 17, 32, 1):
        (indices,) = program.forward(scattered(count))
        assert list(indices.shape) == [count, 2]
        assert torch.equal(indices, eager(scattered(count)))


def test_host_outputs_copy_back_only_the_produced_bytes(test_engine, nonzero_program: Path) -> None:
    program = load(nonzero_program)
    d2h_bytes = []
    for count in (32, 3, 0):
        program.forward(with_positives(count))
        (state,) = program.delegate_states
        d2h_bytes.append(state["counters"]["d2h_bytes"])
    assert [d2h_bytes[0], d2h_bytes[1] - d2h_bytes[0], d2h_bytes[2] - d2h_bytes[1]] == [32 * 16, 3 * 16, 0]


def test_more_nonzeros_than_the_export_allowed_is_refused_naming_output_shape_and_bound(
    test_engine, test_engine_builder, tmp_path: Path
) -> None:
    path = save(BoundedNonzero(), tmp_path / "bounded.pte", inputs=(with_positives(2),), engine_builder="test").path
    program = load(path)
    refused_before = test_engine.etrt_test_engine_refused_outputs()
    with pytest.raises(DelegateError) as refused:
        program.forward(with_positives(SMALL_BOUND + 3))
    message = str(refused.value)
    assert "output 'output_0'" in message
    assert f"[{SMALL_BOUND + 3}, 2]" in message and f"at most [{SMALL_BOUND}, 2]" in message
    assert "torch._check" in message and "Dim" in message
    # The engine refused before writing anything past the bound.
    assert test_engine.etrt_test_engine_refused_outputs() == refused_before + 1
    # The program still serves inputs within the bound.
    for count in (SMALL_BOUND, 0, 2):
        (indices,) = program.forward(with_positives(count))
        assert torch.equal(indices, eager(with_positives(count)))


def test_capture_is_refused_for_data_dependent_outputs_and_calls_still_run(
    test_engine, nonzero_program: Path
) -> None:
    program = load(nonzero_program, backend_options={KEY_CUDA_GRAPHS: True})
    x = scattered(9)
    for _ in range(3):  # the second call with the same bindings would capture
        (indices,) = program.forward(x)
        assert torch.equal(indices, eager(x))
    status = program.get_option("cuda_graph_status")["cuda_graph_status"]
    assert "data-dependent" in status, status


class SimulatedDeviceBuffer:
    """Bytes in the test engine's simulated device memory."""

    def __init__(self, engine: ctypes.CDLL, nbytes: int, fill: int) -> None:
        engine.etrt_test_device_allocate.restype = ctypes.c_void_p
        engine.etrt_test_device_allocate.argtypes = [ctypes.c_int64]
        engine.etrt_test_device_free.argtypes = [ctypes.c_void_p]
        self._engine, self.nbytes = engine, nbytes
        self.pointer = engine.etrt_test_device_allocate(nbytes)
        ctypes.memset(self.pointer, fill, nbytes)

    def write_floats(self, values: List[float]) -> None:
        ctypes.memmove(self.pointer, (ctypes.c_float * len(values))(*values), 4 * len(values))

    def int64s(self) -> List[int]:
        return list((ctypes.c_int64 * (self.nbytes // 8)).from_address(self.pointer))

    def free(self) -> None:
        self._engine.etrt_test_device_free(ctypes.c_void_p(self.pointer))


@pytest.mark.parametrize("model,bound", [(Nonzero(), 32), (BoundedNonzero(), SMALL_BOUND)])
def test_device_outputs_are_resized_in_place_and_never_written_past_the_bound(
    test_engine, test_engine_builder, tmp_path: Path, model: torch.nn.Module, bound: int
) -> None:
    path = save(model, tmp_path / "device.pte", inputs=(with_positives(2),), engine_builder="test",
                device_planning=DevicePlanning(device_io=True))
    program = load(path)
    # ExecuTorch plans at least the bound the export recorded (the delegate enforces the latter).
    ((planned, dtype),) = program._native.output_specs("forward")
    assert dtype == INT64 and planned[0] >= bound and planned[1] == 2
    x = SimulatedDeviceBuffer(test_engine, 4 * SHAPE[0] * SHAPE[1], 0)
    # The caller's buffer holds what ExecuTorch planned, filled with a sentinel:
    # the engine may write at most the bound's rows.
    out = SimulatedDeviceBuffer(test_engine, planned[0] * 2 * 8, 0x7F)
    sentinel = [0x7F7F7F7F7F7F7F7F] * (2 * (planned[0] - bound))

    def call() -> List[List[int]]:
        return program._native.execute_into(
            "forward", [(x.pointer, list(SHAPE), 6, 0)], [(out.pointer, list(planned), INT64, 0)]
        )

    try:
        for count in sorted({0, 3, bound}):
            source = scattered(count)
            x.write_floats(source.reshape(-1).tolist())
            assert call() == [[count, 2]]
            assert out.int64s()[: 2 * count] == eager(source).reshape(-1).tolist()
            assert out.int64s()[2 * bound :] == sentinel
        if bound < SHAPE[0] * SHAPE[1]:
            x.write_floats(with_positives(bound + 1).reshape(-1).tolist())
            before = out.int64s()
            with pytest.raises(RuntimeError, match=rf"at most \[{bound}, 2\]"):
                call()
            assert out.int64s() == before
    finally:
        x.free()
        out.free()


def test_an_unbounded_data_dependent_size_is_refused_at_export() -> None:
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    from executorch_tensorrt.exporter.io_specs import _dim_range

    shape_env = ShapeEnv()
    count = shape_env.create_unbacked_symint()
    with pytest.raises(ValueError, match=r"data-dependent size .* has no upper bound.*torch\._check"):
        _dim_range("delegate output 0 dimension 0", count, {})


def test_a_real_tensorrt_builder_takes_nonzero_with_its_row_major_copy_or_neither(tmp_path: Path) -> None:
    pytest.importorskip("tensorrt_rtx")
    saved = save(Nonzero(), tmp_path / "rtx.pte", inputs=(with_positives(2),), engine_builder="tensorrt_rtx")
    on_cpu = {node.op: node.reason for node in saved.summary.cpu_nodes}
    in_engines = {op for ops in saved.summary.engine_operators for op in ops}
    nonzero, copy = "aten::nonzero.default", "dim_order_ops::_clone_dim_order.default"
    # TensorRT-RTX 1.7's ONNX parser has no NonZero (its plugin is missing):
    # then its copy stays with it, never alone in an engine with a column-major input.
    together = {nonzero, copy} <= in_engines or {nonzero, copy} <= set(on_cpu)
    assert together, (on_cpu, in_engines)
    if copy in on_cpu:
        assert "row-major copy" in on_cpu[copy]
    assert "aten::relu.default" in in_engines
