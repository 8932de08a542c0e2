"""The Python loader and the delegate under threads, with the test engine
computing real values: many threads on one program, several programs at
once, a program destroyed while another runs, and set_option during
executes (the C++ test Concurrency.SetOptionDuringExecutes). Every thread is
joined with a timeout, so a deadlock fails the test instead of hanging it."""

from __future__ import annotations

import gc
import os
import subprocess
import threading
from pathlib import Path
from typing import Dict, List

import pytest
import torch

from native_build import DELEGATE_TESTS
from threads import JOIN_TIMEOUT_S
from threads import run_threads as _run_threads


def _add_relu_is_right(program, seed: int) -> bool:
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3) - 3 + seed
    y = torch.full((2, 3), float(seed % 5) - 2)
    relu, twice = program.forward(x, y)
    return torch.equal(relu, torch.relu(x + y)) and torch.equal(twice, x * 2)


def test_many_threads_execute_one_program(test_engine, test_programs: Dict[str, Path]) -> None:
    from executorch_tensorrt.runtime import load

    program = load(test_programs["add_relu"])
    runs_before = test_engine.etrt_test_engine_run_count()
    failures = _run_threads(8, lambda t: sum(not _add_relu_is_right(program, t * 100 + i) for i in range(100)))
    assert failures == [0] * 8
    assert test_engine.etrt_test_engine_run_count() - runs_before == 800


def test_several_programs_execute_at_once(test_engine, test_programs: Dict[str, Path]) -> None:
    from executorch_tensorrt.runtime import load

    programs = [load(test_programs["add_relu"]) for _ in range(4)]
    failures = _run_threads(4, lambda t: sum(not _add_relu_is_right(programs[t], t + i) for i in range(150)))
    assert failures == [0] * 4


def test_destroying_a_program_while_another_runs(test_engine, test_programs: Dict[str, Path]) -> None:
    from executorch_tensorrt.runtime import load

    running = load(test_programs["add_relu"])
    stop = threading.Event()
    calls = [0]

    def keep_running(_: int) -> int:
        failed = 0
        while not stop.is_set():
            failed += not _add_relu_is_right(running, calls[0] % 7)
            calls[0] += 1
        return failed

    def churn() -> int:
        failed = 0
        for cycle in range(30):
            transient = load(test_programs["add_relu"])
            failed += not _add_relu_is_right(transient, cycle)
            del transient  # the delegate's destroy() runs here
            gc.collect()
        return failed

    results: List[int] = []
    runner = threading.Thread(target=lambda: results.append(keep_running(0)), daemon=True)
    runner.start()
    try:
        assert churn() == 0
    finally:
        stop.set()
        runner.join(JOIN_TIMEOUT_S)
    assert not runner.is_alive(), "the running program did not stop (deadlock?)"
    assert results == [0] and calls[0] > 0


def test_set_option_during_executes(native_build_dir: Path, test_programs: Dict[str, Path]) -> None:
    env = dict(os.environ, ETTRT_TEST_PROGRAMS=str(test_programs["add_relu"].parent))
    result = subprocess.run(
        [str(DELEGATE_TESTS), "--gtest_filter=Concurrency.SetOptionDuringExecutes"],
        capture_output=True, text=True, errors="replace", env=env, timeout=JOIN_TIMEOUT_S,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[  SKIPPED ]" not in output, output
    assert "[  PASSED  ] 1 test" in output, output
