"""Several execution contexts per engine (option ``execution_contexts``),
through ExecuTorch's runtime with the test engine. Given at load, the Python
loader runs that many method instances (an ExecuTorch method runs one call at
a time), whose delegates share one LoadedDelegate: one deserialized engine
with a lane of execution contexts per instance. Calls from several threads
run at once on the one engine, one context never overlaps, lanes never share
execution memory, deferred init creates a lane's context at its first use, and
set_option/offload wait for the calls in flight. Overlap is observed by the
test engine (``run_rendezvous`` holds the first runs until N run at once on the
engine), never timed; every thread is joined with a timeout."""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path
from typing import Callable, Dict

import pytest
import torch

from threads import run_threads as _run_threads
from memory_programs import ADD_ONE_INPUTS, STREAMING, AddOne, MemoryModel, MemoryTestBuilder, registered
from memory_programs import export_engine_chain_program

from executorch_tensorrt.runtime import DelegateError, load

from threads import JOIN_TIMEOUT_S

THREADS = 4
# Each run holds 4 KiB of execution memory (stamped by the test engine).
OVERLAPPING = MemoryModel(activation=4096, run_delay_us=2000, run_rendezvous=THREADS)
SLOW = MemoryModel(activation=4096, run_delay_us=2000)


def _export(out: Path, name: str, memory: MemoryModel, **options: object) -> Path:
    from executorch_tensorrt.exporter import save

    with registered(f"contexts_{name}", MemoryTestBuilder(memory)) as builder:
        return Path(save(AddOne(), out / f"{name}.pte", inputs=ADD_ONE_INPUTS, engine_builder=builder, **options))


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory, test_engine) -> Dict[str, Path]:
    out = tmp_path_factory.mktemp("contexts")
    return {
        # execution_contexts baked at export (a compile spec).
        "overlapping": _export(out, "overlapping", OVERLAPPING, execution_contexts=THREADS),
        "slow": _export(out, "slow", SLOW),
        "streaming": _export(out, "streaming", STREAMING),
        "chain": export_engine_chain_program(out, (4096, 8192), name="slow_chain", run_delay_us=1000),
    }


@pytest.fixture
def engine(test_engine) -> ctypes.CDLL:
    test_engine.etrt_test_engine_reset_run_tracking()
    return test_engine


def _add_one_is_right(program, seed: int) -> bool:
    x = torch.full((2, 3), float(seed)) + torch.arange(6, dtype=torch.float32).reshape(2, 3)
    return torch.equal(program.forward(x)[0], x + 1.0)


def _calls(program, calls: int) -> Callable[[int], int]:
    return lambda t: sum(not _add_one_is_right(program, t * 1000 + i) for i in range(calls))


@pytest.mark.parametrize("scope", ["program", "process", "private"])
def test_four_contexts_run_four_calls_at_once_on_one_engine(engine, programs, scope: str) -> None:
    program = load(programs["overlapping"], backend_options={"execution_memory": scope, "execution_contexts": THREADS})
    (state,) = program.delegate_states
    assert state["execution_contexts"] == THREADS
    assert state["contexts_created"] == THREADS  # eager: every lane's context at load
    assert _run_threads(THREADS, _calls(program, 25)) == [0] * THREADS
    # The four calls of the rendezvous ran at once on the one engine.
    assert engine.etrt_test_engine_max_runs_on_one_engine() == THREADS
    assert engine.etrt_test_engine_memory_overlaps() == 0
    (state,) = program.delegate_states
    assert state["contexts_in_use_peak"] == THREADS and state["contexts_in_use"] == 0
    assert state["counters"]["executes"] == THREADS * 25
    # Lanes that run at once never draw on the same pool.
    ids = [pool["id"] for pool in state["lane_pools"]]
    assert len(ids) == (0 if scope == "private" else THREADS) and len(set(ids)) == len(ids)
    assert program.get_option("execution_contexts", "contexts_created") == {
        "execution_contexts": str(THREADS), "contexts_created": str(THREADS)}


def test_each_method_instance_keeps_to_its_own_lane_and_pool(engine, programs) -> None:
    """Two delegates (engines around a CPU op): a call of method instance i
    runs on lane i of both, so lane i's pool serves instance i alone and its
    runs never wait for another instance's."""
    program = load(programs["chain"], backend_options={"execution_contexts": THREADS})
    x = torch.tensor([[-3.0, -1.0, 0.0], [1.0, 2.0, 3.0]])
    expected = torch.sigmoid(x + 1.0) + 2.0
    failures = _run_threads(THREADS, lambda t: sum(not torch.allclose(program.forward(x)[0], expected) for _ in range(15)))
    assert failures == [0] * THREADS
    states = program.delegate_states
    assert len(states) == 2
    for lane in range(THREADS):
        # Both delegates' lane k draw on one pool (one instance runs them in turn).
        assert len({s["lane_pools"][lane]["id"] for s in states}) == 1
    assert [p["waits"] for p in states[0]["lane_pools"]] == [0] * THREADS
    assert engine.etrt_test_engine_memory_overlaps() == 0


def test_one_context_never_overlaps(engine, programs) -> None:
    program = load(programs["slow"])  # the default: one context per engine
    assert program.delegate_states[0]["execution_contexts"] == 1
    assert _run_threads(THREADS, _calls(program, 10)) == [0] * THREADS
    assert engine.etrt_test_engine_max_runs_on_one_engine() == 1
    (state,) = program.delegate_states
    assert state["contexts_in_use_peak"] == 1 and state["contexts_created"] == 1


def test_a_load_time_option_overrides_the_baked_count(engine, programs) -> None:
    program = load(programs["overlapping"], backend_options={"execution_contexts": 2, "init_policy": "deferred"})
    assert program.delegate_states[0]["execution_contexts"] == 2
    assert _add_one_is_right(program, 3)


def test_deferred_init_creates_each_lane_context_at_its_first_use(engine, programs) -> None:
    shares_before = engine.etrt_test_engine_shares()
    program = load(programs["slow"], backend_options={"execution_contexts": THREADS, "init_policy": "deferred"})
    assert program.delegate_states[0]["contexts_created"] == 0
    for i in range(5):  # one thread: always the first free lane
        assert _add_one_is_right(program, i)
    assert program.delegate_states[0]["contexts_created"] == 1
    assert engine.etrt_test_engine_shares() == shares_before

    overlapping = load(programs["overlapping"], backend_options={"init_policy": "deferred", "execution_contexts": THREADS})
    assert overlapping.delegate_states[0]["contexts_created"] == 0
    assert _run_threads(THREADS, _calls(overlapping, 1)) == [0] * THREADS
    # Four calls at once: lane 0 on the deserialized engine, three sharers.
    assert overlapping.delegate_states[0]["contexts_created"] == THREADS
    assert engine.etrt_test_engine_shares() == shares_before + THREADS - 1


def test_set_option_and_offload_wait_for_calls_on_every_lane(engine, programs) -> None:
    program = load(programs["slow"], backend_options={"execution_contexts": THREADS})
    done = threading.Event()
    changes = [0]

    def change_options() -> None:
        while not done.is_set():
            program.set_option(output_buffers="fresh")
            program.offload()
            program.set_option(execution_memory="private")
            program.set_option(execution_memory="program", output_buffers="reuse")
            changes[0] += 1

    changer = threading.Thread(target=change_options, daemon=True)
    changer.start()
    try:
        assert _run_threads(THREADS, _calls(program, 30)) == [0] * THREADS
    finally:
        done.set()
        changer.join(JOIN_TIMEOUT_S)
    assert not changer.is_alive(), "set_option did not finish (deadlock?)"
    assert changes[0] > 0
    assert engine.etrt_test_engine_memory_overlaps() == 0


def test_a_new_budget_recreates_every_lane_context_under_it(engine, test_engine, programs) -> None:
    """The budget is the engine's: the test engine refuses it while a context
    of any sharer exists, so every lane's context must go first."""
    test_engine.etrt_test_engine_last_budget.restype = ctypes.c_int64
    program = load(programs["streaming"], backend_options={"execution_contexts": 3})
    assert program.delegate_states[0]["contexts_created"] == 3
    program.set_option(weight_streaming_budget=2048)
    assert test_engine.etrt_test_engine_last_budget() == 2048
    (state,) = program.delegate_states
    assert state["contexts_created"] == 3 and state["weight_streaming_budget"] == 2048
    assert _run_threads(3, _calls(program, 5)) == [0] * 3


def test_the_count_is_fixed_at_load_and_checked(programs) -> None:
    program = load(programs["slow"])
    with pytest.raises(DelegateError, match="execution_contexts is fixed when the program is loaded"):
        program.set_option(execution_contexts=2)
    for bad in (0, 17):
        with pytest.raises(DelegateError, match=r"execution_contexts=.* is out of range: give 1\.\.16"):
            load(programs["slow"], backend_options={"execution_contexts": bad})


def test_export_refuses_a_count_out_of_range(tmp_path: Path, test_engine) -> None:
    with pytest.raises(ValueError, match="execution_contexts must be <= 16"):
        _export(tmp_path, "too_many", SLOW, execution_contexts=17)
