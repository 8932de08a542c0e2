"""Batch-aware engine reuse through ExecuTorch's runtime, with the test
engine: a delegate exported with batch_engines="per_range" holds one engine
per batch range and runs each call on the smallest engine whose range holds
the batch; the engines share the staging buffers and one execution memory
pool (docs/options.md "Several engines per delegate")."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Dict

import pytest
import torch

from memory_programs import BATCH_FEATURES, export_batch_range_program

from executorch_tensorrt.runtime import DelegateError, load

RANGE_TEXT = "[{low}, {f}]..[{high}, {f}]"  # how the delegate prints a range
PER_BATCH = 1024  # activation bytes per batch row (activation_bytes_per_batch)
# (batch, engine expected): at and around every boundary of (1-8, 9-32, 33-128).
BOUNDARIES = ((1, 0), (2, 0), (7, 0), (8, 0), (9, 1), (10, 1), (31, 1), (32, 1), (33, 2), (34, 2), (127, 2), (128, 2))


def staging_slot(rows: int) -> int:
    """Bytes of one staged [rows, 4] float32 tensor (256-byte slots, backend/memory/staging_buffers.h)."""
    return -(-rows * BATCH_FEATURES * 4 // 256) * 256


def reference(x: torch.Tensor) -> torch.Tensor:
    return torch.relu(x + 1.0) * 2.0


def batch(rows: int) -> torch.Tensor:
    return torch.arange(rows * BATCH_FEATURES, dtype=torch.float32).reshape(rows, BATCH_FEATURES) / 7.0 - 3.0


@pytest.fixture
def device(test_engine) -> ctypes.CDLL:
    test_engine.etrt_test_device_bytes_in_use.restype = ctypes.c_int64
    return test_engine


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory, test_engine) -> Dict[str, Path]:
    out = tmp_path_factory.mktemp("batch_ranges")
    return {
        "per_range": export_batch_range_program(out, batch_engines="per_range", activation_bytes_per_batch=PER_BATCH),
        "max_batch": export_batch_range_program(out, batch_engines="max_batch", activation_bytes_per_batch=PER_BATCH),
    }


def served(program) -> Dict[int, int]:
    (state,) = program.delegate_states
    return {entry["batch"]: entry["engine"] for entry in state["batches_served"]}


def test_each_batch_runs_on_the_smallest_engine_that_holds_it(programs: Dict[str, Path]) -> None:
    program = load(programs["per_range"])
    (state,) = program.delegate_states
    assert state["init_policy"] == "deferred"  # baked: the delegate holds several engines
    assert len(state["engines"]) == 3
    assert [e["execution_memory_bytes"] for e in state["engines"]] == [8 * PER_BATCH, 32 * PER_BATCH, 128 * PER_BATCH]
    for rows, _engine in BOUNDARIES:
        x = batch(rows)
        torch.testing.assert_close(program.forward(x)[0], reference(x))
    assert served(program) == dict(BOUNDARIES)


def test_a_batch_no_engine_holds_is_refused_with_every_range(programs: Dict[str, Path]) -> None:
    program = load(programs["per_range"])
    # Above the largest range, ExecuTorch's own input check refuses first.
    with pytest.raises(DelegateError, match=r"got \[129, 4\]"):
        program.forward(batch(129))
    # Below the smallest, the delegate does, naming every engine's range.
    with pytest.raises(DelegateError) as refused:
        program.forward(batch(0))
    message = str(refused.value)
    assert f"[0, {BATCH_FEATURES}]" in message
    for low, high in ((1, 8), (9, 32), (33, 128)):
        assert RANGE_TEXT.format(low=low, high=high, f=BATCH_FEATURES) in message, message
    torch.testing.assert_close(program.forward(batch(3))[0], reference(batch(3)))  # still usable


def test_engines_are_created_when_first_needed_and_share_staging_and_memory(
    device, programs: Dict[str, Path]
) -> None:
    before = device.etrt_test_device_bytes_in_use()
    program = load(programs["per_range"], backend_options={"init_policy": "deferred"})
    assert device.etrt_test_device_bytes_in_use() == before

    def state() -> dict:
        return program.delegate_states[0]

    program.forward(batch(4))
    assert [e["state"] for e in state()["engines"]] == ["device", "host", "host"]
    assert state()["pool"]["bytes"] == 8 * PER_BATCH
    program.forward(batch(100))
    assert [e["state"] for e in state()["engines"]] == ["device", "host", "device"]
    # The pool grew to the larger engine's need; it holds one allocation.
    assert (state()["pool"]["bytes"], state()["pool"]["members"]) == (128 * PER_BATCH, 2)
    program.forward(batch(20))
    assert [e["state"] for e in state()["engines"]] == ["device"] * 3
    assert state()["pool"]["bytes"] == 128 * PER_BATCH  # the largest, not the sum

    # Staging: one buffer for all three engines, grown at 4 -> 100 rows only.
    assert state()["counters"]["allocations"] == 2
    for rows in (4, 100, 20, 8, 1, 33):
        x = batch(rows)
        torch.testing.assert_close(program.forward(x)[0], reference(x))
    assert state()["counters"]["allocations"] == 2  # reused across engines
    # Held: the pool (largest need) and one staging buffer sized for the
    # largest batch seen (100 rows: input and output slots).
    assert device.etrt_test_device_bytes_in_use() - before == 128 * PER_BATCH + 2 * staging_slot(100)

    program.offload()
    assert device.etrt_test_device_bytes_in_use() == before
    torch.testing.assert_close(program.forward(batch(9))[0], reference(batch(9)))
    assert [e["state"] for e in state()["engines"]] == ["host", "device", "host"]


def test_one_engine_for_the_maximum_batch_selects_profiles(programs: Dict[str, Path]) -> None:
    program = load(programs["max_batch"])
    (state,) = program.delegate_states
    assert len(state["engines"]) == 1
    assert state["engines"][0]["execution_memory_bytes"] == 128 * PER_BATCH
    for rows, _engine in BOUNDARIES:
        x = batch(rows)
        torch.testing.assert_close(program.forward(x)[0], reference(x))
    (state,) = program.delegate_states
    profiles = {entry["batch"]: (entry["engine"], entry["profile"]) for entry in state["batches_served"]}
    assert profiles == {rows: (0, engine) for rows, engine in BOUNDARIES}


def test_run_verbose_shows_engines_needs_pool_and_batches(programs: Dict[str, Path], capsys) -> None:
    from executorch_tensorrt.runtime.run_command import format_delegate_states

    program = load(programs["per_range"])  # the exporter baked `deferred` (three engines)
    for rows in (4, 20):
        program.forward(batch(rows))
    text = format_delegate_states(program)
    assert "execution_memory=program " in text and "pool #" in text
    # Engines 0 and 1 ran; engine 2 is still on the host, its need is the
    # exporter's measure from the blob.
    assert f"largest need {32 * PER_BATCH} bytes, 2 engine(s) drawing on it" in text
    assert "engine 2: " in text and "input_ranges=input_0 [33, 4]..[128, 4] state=host" in text
    assert f"execution_memory_bytes={128 * PER_BATCH}" in text
    assert "batch 4 -> engine 0 profile 0 (1 call(s))" in text
    assert "batch 20 -> engine 1 profile 0 (1 call(s))" in text
