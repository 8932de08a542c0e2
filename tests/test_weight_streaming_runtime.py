"""Weight-streaming budget from Python: load-time backend options, the
budget in force and its source, and set_option() between two executes, with
the test engine's streamable weights and automatic budget."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest
import torch

from executorch_tensorrt.runtime import DelegateError, load
from native_build import TEST_ENGINE_LIBRARY

X = torch.tensor([[-3.0, -1.0, 0.0], [1.0, 2.0, 3.0]])


def _budget(program) -> Dict[str, str]:
    return program.get_option("weight_streaming_budget", "weight_streaming_budget_source")


@pytest.mark.parametrize(
    "name, options, budget, source",
    [
        ("streaming", {}, "1024", "automatic"),
        ("streaming_baked", {}, "2048", "compile_spec"),
        ("streaming_baked", {"weight_streaming_budget": "1500"}, "1500", "load_option"),
        ("streaming_baked", {"weight_streaming_budget": 700}, "700", "load_option"),
        # A Python int beyond ExecuTorch's 32-bit options travels as text.
        ("streaming", {"weight_streaming_budget": 3 * 2**31}, "3072", "load_option"),
        ("streaming_baked", {"weight_streaming_budget": ""}, "2048", "compile_spec"),
        ("not_streaming_baked", {"weight_streaming_budget": "64"}, "none", "not_streamable"),
    ],
)
def test_budget_precedence_through_python_loader(
    test_engine, test_programs: Dict[str, Path], name: str, options: Dict[str, object], budget: str, source: str
) -> None:
    calls_before = test_engine.etrt_test_engine_budget_calls()
    program = load(test_programs[name], backend_options=options)
    assert _budget(program) == {"weight_streaming_budget": budget, "weight_streaming_budget_source": source}
    (state,) = program.delegate_states
    assert state["weight_streaming_budget_source"] == source
    assert state["weight_streaming_budget"] == (None if budget == "none" else int(budget))
    # No budget call at all for an engine that cannot stream.
    assert test_engine.etrt_test_engine_budget_calls() - calls_before == (0 if budget == "none" else 1)
    torch.testing.assert_close(program.forward(X)[0], X + 1)


@pytest.mark.parametrize(
    "value, error, match",
    [
        (True, TypeError, "must be an int or a decimal string"),
        (1.5, TypeError, "must be an int or a decimal string"),
        (-1, ValueError, r"must be in \[0, 2\*\*63\)"),
        (2**63, ValueError, r"must be in \[0, 2\*\*63\)"),
        ("2GB", DelegateError, 'weight_streaming_budget="2GB" is invalid'),
        ("-0", DelegateError, "has a sign"),
    ],
)
def test_bad_load_time_budget_is_refused_naming_it(
    test_engine, test_programs: Dict[str, Path], value: object, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        load(test_programs["streaming"], backend_options={"weight_streaming_budget": value})


def test_set_option_changes_the_budget_between_two_executes(test_engine, test_programs: Dict[str, Path]) -> None:
    program = load(test_programs["streaming_baked"])
    torch.testing.assert_close(program.forward(X)[0], X + 1)
    before = program.delegate_states[0]
    program.set_option(weight_streaming_budget=256)
    after = program.delegate_states[0]
    assert (after["weight_streaming_budget"], after["weight_streaming_budget_source"]) == (256, "load_option")
    assert test_engine.etrt_test_engine_last_budget() == 256
    # Fewer streamed weights resident: the device holds 2048 - 256 bytes less.
    assert before["device_bytes"] - after["device_bytes"] == 2048 - 256
    torch.testing.assert_close(program.forward(X)[0], X + 1)
    with pytest.raises(DelegateError, match="is invalid"):
        program.set_option(weight_streaming_budget="lots")
    assert program.delegate_states[0]["weight_streaming_budget"] == 256


def test_set_option_reaches_only_its_own_program(test_engine, test_programs: Dict[str, Path]) -> None:
    first = load(test_programs["streaming_baked"])
    second = load(test_programs["streaming_baked"])
    first.set_option(weight_streaming_budget=100)
    assert first.delegate_states[0]["weight_streaming_budget"] == 100
    assert second.delegate_states[0]["weight_streaming_budget"] == 2048


def test_unknown_option_and_program_key_are_refused(test_engine, test_programs: Dict[str, Path]) -> None:
    program = load(test_programs["streaming"])
    with pytest.raises(DelegateError, match="unknown set_option 'budget'"):
        program.set_option(budget=1)
    with pytest.raises(ValueError, match="'program' is set by the loaded program"):
        program.set_option(program=3)
    with pytest.raises(DelegateError, match="unknown key 'colour'"):
        program.get_option("colour")


def test_run_verbose_shows_the_budget_and_its_source(test_programs: Dict[str, Path]) -> None:
    env = dict(os.environ, LD_PRELOAD=str(TEST_ENGINE_LIBRARY))
    command = [
        sys.executable, "-c", "import sys; from executorch_tensorrt.cli import main; sys.exit(main())",
        "run", str(test_programs["streaming_baked"]), "--verbose", "--backend-option", "weight_streaming_budget=1536",
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "weight_streaming_budget=1536 " in result.stdout
    assert "weight_streaming_budget_source=load_option" in result.stdout, result.stdout


def test_cpp_runner_verbose_shows_the_budget_and_its_source(test_programs: Dict[str, Path]) -> None:
    from executorch_tensorrt import _native

    env = dict(os.environ, LD_PRELOAD=str(TEST_ENGINE_LIBRARY))
    command = [
        str(_native.RUNNER), "--model", str(test_programs["streaming_baked"]), "--verbose",
        "--backend-option", "weight_streaming_budget=99999999999",
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    # Above the 3072 streamable bytes: clamped, and the clamp is logged.
    assert "delegates weight_streaming_budget: 3072" in result.stdout, result.stdout
    assert "delegates weight_streaming_budget_source: load_option" in result.stdout, result.stdout
