"""Issue 17's execute policies through ExecuTorch's runtime with the test
engine: the caller's stream (no host wait for device I/O), pinned staging and
CUDA graphs (cuda_graphs: capture at the second call with the same bindings,
replay after, recapture when they change, drop with the context).

The test engine stands in for CUDA: its "pinned" memory is host memory it
tracks, its captures replay the bindings they were captured with (as a CUDA
graph does), and it records the caller's stream handle it was given. What
this machine cannot run: real streams, events and graphs (the GPU rig,
tests/gpu/run_all.sh, runs them with the TensorRT double).
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Dict, List

import pytest
import torch

from executorch_tensorrt.exporter import register_engine_builder, save, unregister_engine_builder
from executorch_tensorrt.exporter.device_planning import DevicePlanning
from executorch_tensorrt.option_table import (
    KEY_CUDA_GRAPHS,
    KEY_HOST_WAITS,
    KEY_OFFLOAD,
    KEY_OUTPUT_BUFFERS,
)
from executorch_tensorrt.runtime import load
from test_engine_builder import TestEngineBuilder
from test_execute_device_io import AddRelu, SimulatedDeviceTensor

FAKE_STREAM = 0x5EED  # an opaque cudaStream_t: the test engine only records it


def _count(engine: ctypes.CDLL, name: str) -> int:
    function = getattr(engine, name)
    function.restype = ctypes.c_int64
    return int(function())


def _counters(program) -> Dict[str, int]:  # type: ignore[no-untyped-def]
    (state,) = program.delegate_states
    return state["counters"]


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    out = tmp_path_factory.mktemp("streams")
    inputs = (torch.zeros(2, 3), torch.zeros(2, 3))
    register_engine_builder("test", TestEngineBuilder())
    try:
        return {
            "device": save(AddRelu(), out / "device_io.pte", inputs=inputs, engine_builder="test",
                           device_planning=DevicePlanning(device_io=True)),
            "host": save(AddRelu(), out / "host_io.pte", inputs=inputs, engine_builder="test"),
        }
    finally:
        unregister_engine_builder("test")


class DeviceCall:
    """Fixed device buffers for AddRelu: two inputs, two outputs of [2, 3]."""

    def __init__(self, engine: ctypes.CDLL) -> None:
        self.engine = engine
        self.x = SimulatedDeviceTensor(engine, [0.0] * 6)
        self.y = SimulatedDeviceTensor(engine, [0.0] * 6)
        self.out = [SimulatedDeviceTensor(engine, [0.0] * 6) for _ in range(2)]

    def run(self, program, xs: List[float], ys: List[float], stream=FAKE_STREAM, x=None):  # type: ignore[no-untyped-def]
        x = x or self.x
        ctypes.memmove(x.pointer, (ctypes.c_float * 6)(*xs), 24)
        ctypes.memmove(self.y.pointer, (ctypes.c_float * 6)(*ys), 24)
        program._native.execute_into(
            "forward", [x.native([2, 3]), self.y.native([2, 3])], [o.native([2, 3]) for o in self.out], stream)
        return self.out[0].values(6), self.out[1].values(6)

    def free(self) -> None:
        for t in (self.x, self.y, *self.out):
            t.free()


def _expected(xs: List[float], ys: List[float]):  # type: ignore[no-untyped-def]
    return [max(a + b, 0.0) for a, b in zip(xs, ys)], [a * 2 for a in xs]


def _values(call: int) -> tuple:
    return [float(call + k) - 3 for k in range(6)], [float(k % 3) - 1 for k in range(6)]


@pytest.fixture
def device_call(test_engine):  # type: ignore[no-untyped-def]
    call = DeviceCall(test_engine)
    yield call
    call.free()


def test_device_io_on_the_callers_stream_returns_without_a_host_wait(test_engine, programs, device_call) -> None:
    program = load(programs["device"])
    before = _count(test_engine, "etrt_test_engine_caller_stream_calls")
    for call in range(3):
        assert device_call.run(program, *_values(call)) == _expected(*_values(call))
    assert _counters(program)[KEY_HOST_WAITS] == 0
    assert _count(test_engine, "etrt_test_engine_caller_stream_calls") - before == 3
    assert _count(test_engine, "etrt_test_engine_last_caller_stream") == FAKE_STREAM
    # The legacy default stream (0) is a stream the caller chose, too.
    device_call.run(program, *_values(0), stream=0)
    assert _count(test_engine, "etrt_test_engine_last_caller_stream") == 0
    assert _counters(program)[KEY_HOST_WAITS] == 0
    assert program.get_option(KEY_HOST_WAITS) == {KEY_HOST_WAITS: "0"}


def test_without_a_callers_stream_every_call_waits(test_engine, programs, device_call) -> None:
    program = load(programs["device"])
    for call in range(3):
        assert device_call.run(program, *_values(call), stream=None) == _expected(*_values(call))
    assert _counters(program)[KEY_HOST_WAITS] == 3


def test_a_stream_argument_is_for_device_programs(test_engine, programs) -> None:
    program = load(programs["host"])
    with pytest.raises(ValueError, match="stream= applies to device='cuda' programs"):
        program.forward(torch.ones(2, 3), torch.ones(2, 3), stream=object())


def test_host_io_returns_finished_outputs_even_on_the_callers_stream(test_engine, programs) -> None:
    program = load(programs["host"])
    x, y = torch.randn(2, 3), torch.randn(2, 3)
    got = program.forward(x, y)
    torch.testing.assert_close(got[0], torch.relu(x + y))
    assert _counters(program)[KEY_HOST_WAITS] == 1


def test_host_tensors_stage_through_one_pinned_mirror(test_engine, programs) -> None:
    program = load(programs["host"])
    before = _count(test_engine, "etrt_test_engine_pinned_copies")
    for _ in range(5):
        x, y = torch.randn(2, 3), torch.randn(2, 3)
        got = program.forward(x, y)
        torch.testing.assert_close(got[0], torch.relu(x + y))
        torch.testing.assert_close(got[1], x * 2)
    counters = _counters(program)
    # 2 inputs in and 2 outputs out per call, each direction in one copy
    # through pinned memory, which was allocated (and zeroed on the device,
    # one copy) once.
    assert _count(test_engine, "etrt_test_engine_pinned_copies") - before == 1 + 5 * 2
    assert (counters["h2d_copies"], counters["d2h_copies"]) == (5 * 2, 5 * 2)  # tensors staged
    assert counters["pinned_allocations"] == 1
    assert counters["pinned_bytes"] == counters["bytes_allocated"] > 0
    assert int(program.get_option("pinned_bytes")["pinned_bytes"]) == counters["pinned_bytes"]


@pytest.mark.parametrize("options", [{"host_staging": "pageable"}, {KEY_OUTPUT_BUFFERS: "fresh"}])
def test_pageable_staging_and_fresh_buffers_use_no_pinned_memory(test_engine, programs, options) -> None:
    program = load(programs["host"], backend_options=options)
    before = _count(test_engine, "etrt_test_engine_pinned_copies")
    for _ in range(3):
        x, y = torch.randn(2, 3), torch.randn(2, 3)
        torch.testing.assert_close(program.forward(x, y)[0], torch.relu(x + y))
    assert _count(test_engine, "etrt_test_engine_pinned_copies") == before
    assert _counters(program)["pinned_allocations"] == 0


def test_host_staging_changes_with_set_option(test_engine, programs) -> None:
    program = load(programs["host"], backend_options={"host_staging": "pageable", KEY_OUTPUT_BUFFERS: "fresh"})
    program.forward(torch.ones(2, 3), torch.ones(2, 3))
    program.set_option(host_staging="pinned", output_buffers="reuse")
    before = _count(test_engine, "etrt_test_engine_pinned_copies")
    program.forward(torch.ones(2, 3), torch.ones(2, 3))
    assert _count(test_engine, "etrt_test_engine_pinned_copies") - before == 1 + 2
    assert program.delegate_states[0]["host_staging"] == "pinned"


def test_cuda_graphs_capture_at_the_second_call_and_replay_after(test_engine, programs, device_call) -> None:
    program = load(programs["device"], backend_options={KEY_CUDA_GRAPHS: True})
    captures, replays = (_count(test_engine, n) for n in ("etrt_test_engine_captures", "etrt_test_engine_replays"))
    for call in range(6):
        # New values in the same buffers: a replay must compute them.
        assert device_call.run(program, *_values(call)) == _expected(*_values(call)), call
    counters = _counters(program)
    assert (counters["cuda_graph_captures"], counters["cuda_graph_replays"]) == (1, 5)
    assert _count(test_engine, "etrt_test_engine_captures") - captures == 1
    assert _count(test_engine, "etrt_test_engine_replays") - replays == 5
    assert program.get_option("cuda_graph_status") == {"cuda_graph_status": "ok"}
    assert counters[KEY_HOST_WAITS] == 0


def test_a_new_address_is_captured_anew_and_never_served_by_an_old_graph(test_engine, programs, device_call) -> None:
    program = load(programs["device"], backend_options={KEY_CUDA_GRAPHS: True})
    other_x = SimulatedDeviceTensor(test_engine, [0.0] * 6)
    try:
        for call in range(3):
            assert device_call.run(program, *_values(call)) == _expected(*_values(call))
        # Another input buffer: the old graph would read the old one.
        for call in range(3, 6):
            assert device_call.run(program, *_values(call), x=other_x) == _expected(*_values(call)), call
        # And back: the first graph is still cached.
        assert device_call.run(program, *_values(9)) == _expected(*_values(9))
        counters = _counters(program)
        assert counters["cuda_graph_captures"] == 2
        assert counters["cuda_graph_replays"] == 2 + 2 + 1
    finally:
        other_x.free()


def test_graphs_are_bounded_per_context(test_engine, programs, device_call) -> None:
    program = load(programs["device"], backend_options={KEY_CUDA_GRAPHS: True})
    buffers = [SimulatedDeviceTensor(test_engine, [0.0] * 6) for _ in range(10)]
    try:
        for round_ in range(2):
            for x in buffers:
                for _ in range(2):
                    assert device_call.run(program, *_values(round_), x=x) == _expected(*_values(round_))
        counters = _counters(program)
        # 10 bindings, 8 graphs kept (least recently used out): the second
        # round finds none of them cached and captures each again.
        assert counters["cuda_graph_captures"] == 20
    finally:
        for x in buffers:
            x.free()


def test_offload_drops_graphs_and_the_next_context_is_captured_again(test_engine, programs, device_call) -> None:
    program = load(programs["device"], backend_options={KEY_CUDA_GRAPHS: True})
    for call in range(3):
        device_call.run(program, *_values(call))
    program.set_option(**{KEY_OFFLOAD: True})
    for call in range(3, 6):
        assert device_call.run(program, *_values(call)) == _expected(*_values(call))
    assert _counters(program)["cuda_graph_captures"] == 2


def test_a_refused_capture_runs_plainly_and_says_why(test_engine, programs, device_call) -> None:
    program = load(programs["device"], backend_options={KEY_CUDA_GRAPHS: True})
    test_engine.etrt_test_engine_refuse_capture(1)
    try:
        for call in range(4):
            assert device_call.run(program, *_values(call)) == _expected(*_values(call))
    finally:
        test_engine.etrt_test_engine_refuse_capture(0)
    counters = _counters(program)
    assert (counters["cuda_graph_captures"], counters["cuda_graph_replays"]) == (0, 0)
    status = program.get_option("cuda_graph_status")["cuda_graph_status"]
    assert status.startswith("the engine cannot be captured") and "capture refused for this test" in status


def test_bindings_that_change_every_call_are_reported(test_engine, programs, device_call) -> None:
    program = load(programs["device"], backend_options={KEY_CUDA_GRAPHS: True})
    buffers = [SimulatedDeviceTensor(test_engine, [0.0] * 6) for _ in range(9)]
    try:
        for x in buffers:
            device_call.run(program, *_values(0), x=x)
        status = program.delegate_states[0]["cuda_graph_status"]
        assert "changed at each of 8 calls" in status and "fixed addresses" in status
        assert _counters(program)["cuda_graph_replays"] == 0
    finally:
        for x in buffers:
            x.free()


def test_cuda_graphs_off_by_default_and_switched_by_set_option(test_engine, programs, device_call) -> None:
    program = load(programs["device"])
    assert program.get_option(KEY_CUDA_GRAPHS, "cuda_graph_status") == {KEY_CUDA_GRAPHS: "0", "cuda_graph_status": "off"}
    for call in range(3):
        device_call.run(program, *_values(call))
    assert _counters(program)["cuda_graph_replays"] == 0
    program.set_option(**{KEY_CUDA_GRAPHS: True})
    for call in range(3):
        assert device_call.run(program, *_values(call)) == _expected(*_values(call))
    assert _counters(program)["cuda_graph_replays"] == 2
    program.set_option(**{KEY_CUDA_GRAPHS: False})
    device_call.run(program, *_values(7))
    assert _counters(program)["cuda_graph_replays"] == 2


def test_host_io_with_reused_staging_replays_graphs(test_engine, programs) -> None:
    program = load(programs["host"], backend_options={KEY_CUDA_GRAPHS: True})
    for _ in range(4):
        x, y = torch.randn(2, 3), torch.randn(2, 3)
        got = program.forward(x, y)
        torch.testing.assert_close(got[0], torch.relu(x + y))
        torch.testing.assert_close(got[1], x * 2)
    assert _counters(program)["cuda_graph_replays"] == 3


def test_cuda_graphs_option_must_be_a_bool(test_engine, programs) -> None:
    from executorch_tensorrt.runtime import DelegateError

    with pytest.raises((DelegateError, TypeError, ValueError), match="cuda_graphs"):
        load(programs["device"], backend_options={KEY_CUDA_GRAPHS: "yes"})
