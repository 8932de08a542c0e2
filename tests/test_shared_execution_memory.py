"""Shared execution memory through ExecuTorch's runtime, with the test engine:
engines of a program draw their activation memory from one pool sized to the
largest need (docs/options.md "Shared execution memory"), and engines whose
runs could overlap do not share."""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path
from typing import Dict, List

import pytest
import torch

from memory_programs import export_engine_chain_program

from executorch_tensorrt.runtime import DelegateError, load

NEEDS = (1000 * 256, 5000 * 256, 3000 * 256)  # three engines, the middle one largest
X = torch.tensor([[-3.0, -1.0, 0.0], [1.0, 2.0, 3.0]])


def chain_reference(x: torch.Tensor, engines: int) -> torch.Tensor:
    for k in range(engines):
        if k:
            x = torch.sigmoid(x)
        x = x + float(k + 1)
    return x


@pytest.fixture
def device(test_engine) -> ctypes.CDLL:
    for name in ("etrt_test_device_bytes_in_use", "etrt_test_device_allocation_count"):
        getattr(test_engine, name).restype = ctypes.c_int64
    return test_engine


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory, test_engine) -> Dict[str, Path]:
    out = tmp_path_factory.mktemp("chains")
    return {
        "chain": export_engine_chain_program(out, NEEDS),
        "slow": export_engine_chain_program(out, (4096, 4096), name="slow_chain", run_delay_us=20000),
        "private": export_engine_chain_program(out, NEEDS, execution_memory="private", name="private_chain"),
    }


def staging(states: List[dict]) -> int:
    return sum(s["counters"]["bytes_allocated"] for s in states)


def test_the_pool_holds_the_largest_need_not_the_sum(device, chains: Dict[str, Path]) -> None:
    before = device.etrt_test_device_bytes_in_use()
    program = load(chains["chain"])
    torch.testing.assert_close(program.forward(X)[0], chain_reference(X, 3))
    states = program.delegate_states
    assert [s["execution_memory"] for s in states] == ["program"] * 3
    assert [s["execution_memory_bytes"] for s in states] == list(NEEDS)
    assert len({s["pool"]["id"] for s in states}) == 1
    pool = states[0]["pool"]
    assert (pool["bytes"], pool["largest_need_bytes"], pool["summed_need_bytes"]) == (max(NEEDS), max(NEEDS), sum(NEEDS))
    # The exporter baked `deferred` (three engines): each engine joined at its
    # first run, and the pool grew once, when the larger second engine joined.
    assert (pool["members"], pool["allocations"]) == (3, 2)
    # Measured on the device: no engine holds activation memory of its own.
    assert sum(s["device_bytes"] for s in states) == 0
    assert device.etrt_test_device_bytes_in_use() - before == max(NEEDS) + staging(states)

    allocations = device.etrt_test_device_allocation_count()
    torch.testing.assert_close(program.forward(X * 2)[0], chain_reference(X * 2, 3))
    assert device.etrt_test_device_allocation_count() == allocations  # reused, not re-allocated
    assert program.delegate_states[0]["pool"]["runs"] == 6


@pytest.mark.parametrize("name, per_call", [("chain", 3), ("private", 0)])
def test_the_next_pool_user_is_ordered_after_the_previous_one(device, chains: Dict[str, Path], name, per_call) -> None:
    """Each run of another member than the pool's last user is ordered after
    that user's work (Engine::order_after: an event on the GPU, so a call on
    the caller's stream need not wait on the host); private memory orders
    nothing."""
    program = load(chains[name])
    program.forward(X)
    device.etrt_test_engine_order_after_calls.restype = ctypes.c_int
    before = device.etrt_test_engine_order_after_calls()
    for _ in range(4):
        torch.testing.assert_close(program.forward(X)[0], chain_reference(X, 3))
    # Three engines run in turn: every lease goes to another member.
    assert device.etrt_test_engine_order_after_calls() - before == 4 * per_call


def test_private_memory_holds_the_sum(device, chains: Dict[str, Path]) -> None:
    before = device.etrt_test_device_bytes_in_use()
    program = load(chains["private"])  # execution_memory="private" baked at export
    torch.testing.assert_close(program.forward(X)[0], chain_reference(X, 3))
    states = program.delegate_states
    assert [(s["execution_memory"], s["pool"]) for s in states] == [("private", None)] * 3
    assert [s["device_bytes"] for s in states] == list(NEEDS)
    assert device.etrt_test_device_bytes_in_use() - before == sum(NEEDS) + staging(states)


def test_load_time_option_and_set_option_move_contexts_between_pool_and_private(
    device, chains: Dict[str, Path]
) -> None:
    before = device.etrt_test_device_bytes_in_use()
    program = load(chains["private"], backend_options={"execution_memory": "program"})
    torch.testing.assert_close(program.forward(X)[0], chain_reference(X, 3))
    assert device.etrt_test_device_bytes_in_use() - before == max(NEEDS) + staging(program.delegate_states)

    program.set_option(execution_memory="private")
    states = program.delegate_states
    assert [(s["execution_memory"], s["state"], s["pool"]) for s in states] == [("private", "device", None)] * 3
    assert device.etrt_test_device_bytes_in_use() - before == sum(NEEDS) + staging(states)
    torch.testing.assert_close(program.forward(X)[0], chain_reference(X, 3))

    program.set_option(execution_memory="program")
    torch.testing.assert_close(program.forward(X)[0], chain_reference(X, 3))
    assert device.etrt_test_device_bytes_in_use() - before == max(NEEDS) + staging(program.delegate_states)
    program.offload()
    assert device.etrt_test_device_bytes_in_use() == before


def test_eager_allocates_the_pool_at_load(device, chains: Dict[str, Path]) -> None:
    before = device.etrt_test_device_bytes_in_use()
    program = load(chains["chain"], backend_options={"init_policy": "eager"})
    assert device.etrt_test_device_bytes_in_use() - before == max(NEEDS)
    assert program.delegate_states[0]["pool"]["bytes"] == max(NEEDS)


def test_bad_execution_memory_value_is_refused(chains: Dict[str, Path]) -> None:
    with pytest.raises(DelegateError, match='execution_memory="shared" is not one of private, program, process'):
        load(chains["chain"], backend_options={"execution_memory": "shared"})
    program = load(chains["chain"])
    with pytest.raises(DelegateError, match="execution_memory"):
        program.set_option(execution_memory=1)


def run_concurrently(programs: list, calls: int) -> List[str]:
    """Runs each program `calls` times on its own thread; returns failures."""
    failures: List[str] = []
    start = threading.Barrier(len(programs))

    def worker(program) -> None:
        start.wait()
        for call in range(calls):
            x = X + call
            try:
                torch.testing.assert_close(program.forward(x)[0], chain_reference(x, 2))
            except Exception as err:  # noqa: BLE001 - collected and reported by the test
                failures.append(repr(err))

    threads = [threading.Thread(target=worker, args=(p,)) for p in programs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


def test_programs_that_may_overlap_do_not_share(device, chains: Dict[str, Path]) -> None:
    """Under `program`, two programs served from two threads each have their
    own pool, so their runs are free to overlap, and do."""
    first, second = load(chains["slow"]), load(chains["slow"])
    device.etrt_test_engine_reset_run_tracking()
    assert run_concurrently([first, second], calls=6) == []
    assert first.delegate_states[0]["pool"]["id"] != second.delegate_states[0]["pool"]["id"]
    assert device.etrt_test_engine_max_runs_in_flight() == 2  # they overlapped...
    assert device.etrt_test_engine_memory_overlaps() == 0  # ...on different memory


def test_programs_sharing_a_process_pool_never_run_at_once(device, chains: Dict[str, Path]) -> None:
    """Under `process`, the two programs share one pool: the lease serializes
    their runs, so no run ever sees its memory overwritten."""
    first = load(chains["slow"], backend_options={"execution_memory": "process"})
    second = load(chains["slow"], backend_options={"execution_memory": "process"})
    device.etrt_test_engine_reset_run_tracking()
    assert run_concurrently([first, second], calls=6) == []
    pools = {s["pool"]["id"] for p in (first, second) for s in p.delegate_states}
    assert len(pools) == 1
    pool = first.delegate_states[0]["pool"]
    assert pool["members"] == 4 and pool["bytes"] == 4096
    assert pool["waits"] > 0  # the threads did contend, and waited
    assert device.etrt_test_engine_max_runs_in_flight() == 1
    assert device.etrt_test_engine_memory_overlaps() == 0
