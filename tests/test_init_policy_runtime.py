"""Init policies and offload through ExecuTorch's real runtime, measured with
the test engine's counting device allocator (tests/engine/test_device_memory.h)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Dict

import pytest
import torch

from executorch_tensorrt.runtime import DelegateError, load

X = torch.tensor([[-3.0, -1.0, 0.0], [1.0, 2.0, 3.0]])
# STREAMING in memory_programs.py: 1024 bytes that cannot stream, the
# automatic budget of 1024 streamed bytes, 512 of activation memory. The
# engine holds the weights; the activation memory is the program's shared
# execution memory (execution_memory=program, the default).
STREAMING_ENGINE_BYTES = 1024 + 1024
STREAMING_ACTIVATION_BYTES = 512
STREAMING_DEVICE_BYTES = STREAMING_ENGINE_BYTES + STREAMING_ACTIVATION_BYTES
# Once a call ran: the executor's staging buffer, one 256-byte slot for the
# host input and one for the host output (backend/memory/staging_buffers.h).
STAGING_BYTES = 2 * 256


def _device_bytes(engine) -> int:
    return engine.etrt_test_device_bytes_in_use()


@pytest.fixture
def device(test_engine):
    test_engine.etrt_test_device_bytes_in_use.restype = __import__("ctypes").c_int64
    test_engine.etrt_test_device_allocation_count.restype = __import__("ctypes").c_int64
    test_engine.etrt_test_engine_last_budget.restype = __import__("ctypes").c_int64
    return test_engine


def test_deferred_allocates_nothing_until_the_first_execute(device, test_programs: Dict[str, Path]) -> None:
    baseline = _device_bytes(device)
    deserialized = device.etrt_test_engine_deserialize_count()
    program = load(test_programs["streaming_deferred"])
    assert _device_bytes(device) == baseline
    assert device.etrt_test_engine_deserialize_count() == deserialized
    (state,) = program.delegate_states
    assert (state["state"], state["device_bytes"], state["init_policy"]) == ("host", 0, "deferred")
    assert state["weight_streaming_budget_source"] == "unresolved"

    torch.testing.assert_close(program.forward(X)[0], X + 1)
    assert _device_bytes(device) - baseline == STREAMING_DEVICE_BYTES + STAGING_BYTES
    state = program.delegate_states[0]
    assert (state["state"], state["device_bytes"], state["initializations"]) == ("device", STREAMING_ENGINE_BYTES, 1)
    assert state["pool"]["bytes"] == STREAMING_ACTIVATION_BYTES
    assert state["init_ms"] > 0.0
    assert state["host_bytes"] == 0  # the blob was freed once deserialized

    allocations = device.etrt_test_device_allocation_count()
    torch.testing.assert_close(program.forward(X + 1)[0], X + 2)
    # Only the first execute pays.
    assert device.etrt_test_device_allocation_count() == allocations
    assert device.etrt_test_engine_deserialize_count() == deserialized + 1


def test_offload_returns_device_memory_and_the_next_execute_restores_it(
    device, test_programs: Dict[str, Path]
) -> None:
    baseline = _device_bytes(device)
    program = load(test_programs["streaming_deferred"], backend_options={"weight_streaming_budget": "2048"})
    torch.testing.assert_close(program.forward(X)[0], X + 1)
    assert _device_bytes(device) - baseline == 1024 + 2048 + 512 + STAGING_BYTES

    program.offload()
    assert _device_bytes(device) == baseline
    state = program.delegate_states[0]
    assert (state["state"], state["device_bytes"]) == ("host", 0)
    assert state["host_bytes"] > 0  # the engine, serialized back to host memory

    torch.testing.assert_close(program.forward(X)[0], X + 1)
    assert _device_bytes(device) - baseline == 1024 + 2048 + 512 + STAGING_BYTES
    state = program.delegate_states[0]
    # The budget given at load survives the offload.
    assert (state["state"], state["weight_streaming_budget"], state["initializations"]) == ("device", 2048, 2)
    program.offload()
    program.offload()  # a second offload is a no-op
    assert _device_bytes(device) == baseline


def test_eager_allocates_in_init(device, test_programs: Dict[str, Path]) -> None:
    baseline = _device_bytes(device)
    program = load(test_programs["streaming"])  # no policy baked: eager
    assert _device_bytes(device) - baseline == STREAMING_DEVICE_BYTES
    assert program.delegate_states[0]["state"] == "device"


def test_load_time_option_overrides_the_baked_policy(device, test_programs: Dict[str, Path]) -> None:
    baseline = _device_bytes(device)
    eager = load(test_programs["streaming_deferred"], backend_options={"init_policy": "eager"})
    assert eager.delegate_states[0]["init_policy"] == "eager"
    assert _device_bytes(device) - baseline == STREAMING_DEVICE_BYTES
    deferred = load(test_programs["streaming"], backend_options={"init_policy": "deferred"})
    assert deferred.delegate_states[0]["state"] == "host"
    assert _device_bytes(device) - baseline == STREAMING_DEVICE_BYTES


def test_deferred_context_deserializes_in_init_and_creates_the_context_later(
    device, test_programs: Dict[str, Path]
) -> None:
    baseline = _device_bytes(device)
    program = load(test_programs["streaming"], backend_options={"init_policy": "deferred_context"})
    state = program.delegate_states[0]
    assert state["state"] == "deserialized"
    assert _device_bytes(device) - baseline == 1024  # weights that cannot stream
    torch.testing.assert_close(program.forward(X)[0], X + 1)
    assert _device_bytes(device) - baseline == STREAMING_DEVICE_BYTES + STAGING_BYTES


def test_failed_deferred_initialization_is_reported_and_retried(device, test_programs: Dict[str, Path]) -> None:
    program = load(test_programs["streaming_deferred"])
    device.etrt_test_engine_set_device_count(0)
    try:
        with pytest.raises(DelegateError, match="no device 0"):
            program.forward(X)
        assert program.delegate_states[0]["state"] == "host"
    finally:
        device.etrt_test_engine_set_device_count(1)
    torch.testing.assert_close(program.forward(X)[0], X + 1)
    assert program.delegate_states[0]["state"] == "device"


def test_concurrent_first_executes_initialize_once(device, test_programs: Dict[str, Path]) -> None:
    program = load(test_programs["streaming_deferred"])
    deserialized = device.etrt_test_engine_deserialize_count()
    errors = []

    def run(offset: float) -> None:
        try:
            torch.testing.assert_close(program.forward(X + offset)[0], X + offset + 1)
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(float(i),)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert device.etrt_test_engine_deserialize_count() == deserialized + 1
    assert program.delegate_states[0]["initializations"] == 1


def test_set_option_init_policy_eager_initializes_a_deferred_program(device, test_programs: Dict[str, Path]) -> None:
    program = load(test_programs["streaming_deferred"])
    assert program.delegate_states[0]["state"] == "host"
    program.set_option(init_policy="eager")
    assert program.delegate_states[0]["state"] == "device"


def test_bad_init_policy_is_refused(device, test_programs: Dict[str, Path]) -> None:
    with pytest.raises(DelegateError, match='init_policy="lazy" is not one of eager, deferred, deferred_context'):
        load(test_programs["streaming"], backend_options={"init_policy": "lazy"})
    with pytest.raises(DelegateError, match="only meaningful for set_option"):
        load(test_programs["streaming"], backend_options={"offload": True})


def test_program_with_two_engines_defers_by_default_and_offloads_both(
    device, test_programs: Dict[str, Path]
) -> None:
    baseline = _device_bytes(device)
    program = load(test_programs["two_engines"])
    states = program.delegate_states
    # The exporter bakes `deferred` for a program with more than one engine.
    assert [(s["state"], s["init_policy"]) for s in states] == [("host", "deferred")] * 2
    assert _device_bytes(device) == baseline

    def expected(x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x + 1.0) + 1.0

    torch.testing.assert_close(program.forward(X)[0], expected(X))
    states = program.delegate_states
    assert [s["state"] for s in states] == ["device", "device"]
    assert sum(s["device_bytes"] for s in states) == 2 * STREAMING_ENGINE_BYTES
    # Both engines' weights, ONE shared execution memory, the staging buffers.
    assert states[0]["pool"]["id"] == states[1]["pool"]["id"]
    assert _device_bytes(device) - baseline == 2 * STREAMING_ENGINE_BYTES + STREAMING_ACTIVATION_BYTES + 2 * STAGING_BYTES

    allocations = device.etrt_test_device_allocation_count()
    torch.testing.assert_close(program.forward(X * 2)[0], expected(X * 2))
    assert device.etrt_test_device_allocation_count() == allocations

    program.offload()
    assert _device_bytes(device) == baseline
    assert [s["state"] for s in program.delegate_states] == ["host", "host"]
    torch.testing.assert_close(program.forward(X)[0], expected(X))
    assert [s["initializations"] for s in program.delegate_states] == [2, 2]


def test_counters_show_reuse_in_the_delegate_report(device, test_programs: Dict[str, Path]) -> None:
    program = load(test_programs["streaming"])
    for _ in range(3):
        program.forward(X)
    counters = program.delegate_states[0]["counters"]
    assert counters["executes"] == 3
    assert counters["allocations"] == 1  # reuse: staging allocated once
    assert counters["h2d_copies"] == 3 and counters["d2h_copies"] == 3
    assert counters["h2d_bytes"] == 3 * X.numel() * 4
