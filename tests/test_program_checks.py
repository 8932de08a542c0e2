"""The loaders' whole-program check, load modes, runner input checks and
message safety (issue 15), through the Python loader and the C++ runner.
The malformed-program corpus (test_malformed_programs.py) runs the same
checks on every damage strategy; these pin single behaviours."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
import torch

from executorch_tensorrt import _native
from executorch_tensorrt.runtime import DelegateError, _runtime, load
from native_build import TEST_ENGINE_LIBRARY

BACKEND_ID = _native.BACKEND_ID

sys.path.insert(0, str(Path(__file__).resolve().parent / "malformed"))

from program_mutations import _rewrite, name_cases, segment_cases  # noqa: E402



def _runner(args: List[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, LD_PRELOAD=str(TEST_ENGINE_LIBRARY))
    return subprocess.run([str(_native.RUNNER), *args], capture_output=True, env=env, timeout=60)


def _case(cases, name: str) -> bytes:
    return next(data for case, data, _, _ in cases if case == name)


def test_read_mode_program_survives_truncation_of_its_file(tmp_path: Path, test_engine, test_programs) -> None:
    # Deferred init keeps the blob until the first call: with the file mapped
    # that read would fault on the truncated file; read mode holds a copy.
    x, y = torch.randn(2, 3), torch.randn(2, 3)
    for options in ({}, {"init_policy": "deferred"}):
        path = Path(shutil.copy(test_programs["add_relu"], tmp_path / "program.pte"))
        program = load(path, options, load_mode="read")
        os.truncate(path, 0)
        relu, twice = program.forward(x, y)
        torch.testing.assert_close(relu, torch.relu(x + y))
        torch.testing.assert_close(twice, x * 2)


def test_load_mode_is_checked(test_programs) -> None:
    with pytest.raises(ValueError, match='load_mode must be "mmap" or "read", got \'copy\''):
        load(test_programs["add_relu"], load_mode="copy")
    with pytest.raises(TypeError, match="load_mode must be a str"):
        load(test_programs["add_relu"], load_mode=1)  # type: ignore[arg-type]


def test_runner_read_mode_and_bad_load_mode(test_engine, test_programs) -> None:
    ok = _runner(["--model", str(test_programs["add_relu"]), "--load-mode", "read"])
    assert ok.returncode == 0, ok.stderr
    assert b"output 0: Float [2, 3] = 2 2 2 2 2 2" in ok.stdout
    bad = _runner(["--model", str(test_programs["add_relu"]), "--load-mode", "copy"])
    assert bad.returncode == 2 and b'--load-mode must be "mmap" or "read"' in bad.stderr


def test_check_program_reports_what_methods_need(test_programs) -> None:
    assert _runtime.check_program(str(test_programs["add_relu"])) == {
        "forward": {"operators": [], "backends": [BACKEND_ID]}
    }
    two = _runtime.check_program(str(test_programs["two_engines"]))["forward"]
    assert two["operators"] == ["aten::sigmoid.out"] and two["backends"] == [BACKEND_ID, BACKEND_ID]


def test_segments_out_of_the_file_or_overlapping_are_refused_by_both_loaders(tmp_path: Path, test_engine,
                                                                            test_programs) -> None:
    cases = segment_cases(test_programs["add_relu"].read_bytes())
    for name, words in (("segment_offset_2^64-1", "runs past the end of the"),
                        ("segments_overlap", "overlap: one would be read as the other's data"),
                        ("segments_swapped", "which is not a delegate blob of this backend")):
        path = tmp_path / f"{name}.pte"
        path.write_bytes(_case(cases, name))
        with pytest.raises(DelegateError, match=words) as err:
            load(path)
        assert str(err.value).endswith("(ExecuTorch Error::InvalidProgram)")  # the code last
        result = _runner(["--model", str(path)])
        assert result.returncode == 1 and words.encode() in result.stderr
    # The same program with its delegate data in a segment, undamaged, runs.
    path = tmp_path / "segmented.pte"
    path.write_bytes(_case(cases, "segmented"))
    torch.testing.assert_close(load(path).forward(torch.ones(2, 3), torch.ones(2, 3))[0], torch.full((2, 3), 2.0))


def test_bytes_from_the_file_are_escaped_in_both_loaders(tmp_path: Path, test_engine, test_programs) -> None:
    cases = name_cases(test_programs["add_relu"].read_bytes(), BACKEND_ID)
    for name, shown in (("method_name_not_utf8", r'"forw\xffrd"'), ("backend_id_not_utf8", r'Backe\xc3('),
                        ("backend_id_escape_sequence", r'"\x1b]0;pwned\x07')):
        path = tmp_path / f"{name}.pte"
        path.write_bytes(_case(cases, name))
        with pytest.raises(DelegateError) as err:  # not UnicodeDecodeError
            load(path)
        assert shown in str(err.value)
        result = _runner(["--model", str(path)])
        assert result.returncode == 1 and shown.encode() in result.stderr
        message = result.stderr.split(b"\nerror: ")[-1] if b"\nerror: " in result.stderr else result.stderr
        assert not any(c < 0x20 and c != 0x0A for c in message), message


def test_unknown_backend_is_named_and_the_message_is_whole(tmp_path: Path, test_programs) -> None:
    cases = name_cases(test_programs["add_relu"].read_bytes(), BACKEND_ID)
    path = tmp_path / "long_backend.pte"
    path.write_bytes(_case(cases, "backend_id_5000_bytes"))
    with pytest.raises(DelegateError) as err:
        load(path)
    message = str(err.value)
    assert "which is not registered in this process" in message and BACKEND_ID in message
    assert message.endswith(
        "load the library that registers it before loading the program (ExecuTorch Error::NotFound)"
    )


def test_long_messages_are_not_cut(tmp_path: Path) -> None:
    # Once cut at 1024 bytes; the reason after a long path must survive.
    deep = tmp_path / ("d" * 200) / ("e" * 200) / ("f" * 200) / ("g" * 200) / ("h" * 200) / "missing.pte"
    with pytest.raises(ValueError) as err:
        _runtime.check_program(str(deep))
    message = str(err.value)
    assert len(message) > 1024 and message.endswith("No such file or directory (ExecuTorch Error::AccessFailed)")


def test_missing_operator_is_named(tmp_path: Path, test_programs) -> None:
    from program_mutations import operator_cases

    path = tmp_path / "op.pte"
    path.write_bytes(_case(operator_cases(test_programs["two_engines"].read_bytes()), "operator_unknown"))
    named = r'operator "aten::no_such_operator.out", for which no kernel is registered'
    with pytest.raises(DelegateError, match=named):
        load(path)
    result = _runner(["--model", str(path)])
    assert result.returncode == 1 and b'"aten::no_such_operator.out"' in result.stderr


def test_input_smaller_than_planned_is_named_with_its_planned_size(test_engine, test_programs) -> None:
    program = load(test_programs["add_relu"])
    planned = r"input 0: expected Float \[2, 3\] \(24 bytes.*got Float \[1, 3\] \(12 bytes\)"
    with pytest.raises(DelegateError, match=planned):
        program.forward(torch.ones(1, 3), torch.ones(1, 3))


def test_runner_checks_input_paths_before_reading(tmp_path: Path, test_engine, test_programs: Dict[str, Path]) -> None:
    good = tmp_path / "good.bin"
    good.write_bytes(b"\0" * 24)
    (tmp_path / "short.bin").write_bytes(b"\0" * 23)
    (tmp_path / "long.bin").write_bytes(b"\0" * 25)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    for name, words in (("short.bin", "has 23 bytes; input 0 needs 24 raw bytes"),
                        ("long.bin", "has 25 bytes; input 0 needs 24 raw bytes"),
                        ("fifo", "is not a regular file"), ("dir", "is not a regular file"),
                        ("missing.bin", "No such file or directory"), ("/dev/zero", "is not a regular file")):
        path = name if name.startswith("/") else str(tmp_path / name)
        result = _runner(["--model", str(test_programs["add_relu"]), "--input", path, "--input", str(good)])
        assert result.returncode == 2 and words.encode() in result.stderr, (name, result.stderr)
    ok = _runner(["--model", str(test_programs["add_relu"]), "--input", str(good), "--input", str(good)])
    assert ok.returncode == 0, ok.stderr


def test_a_jump_to_the_end_of_a_chain_is_accepted(tmp_path: Path) -> None:
    # ExecuTorch's emitter ends a torch.cond whose false branch is the method's
    # last code with a jump to instruction == count (the chain's end); the check
    # once refused it as "refers to instruction 8; the method has 8 (the file is damaged)".
    from executorch.exir import to_edge
    from executorch.exir._serialize._program import deserialize_pte_binary
    from executorch.exir.schema import JumpFalseCall

    class Branch(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cond(x.sum() > 0, lambda v: v + 1.0, lambda v: v * 3.0, (x,))

    buffer = to_edge(torch.export.export(Branch(), (torch.randn(2, 3),), strict=False)).to_executorch().buffer
    program = deserialize_pte_binary(buffer)
    instructions = getattr(program, "program", program).execution_plan[0].chains[0].instructions
    jumps = [i.instr_args.destination_instruction for i in instructions if isinstance(i.instr_args, JumpFalseCall)]
    assert len(instructions) in jumps  # the case this test is about
    path = tmp_path / "cond.pte"
    path.write_bytes(buffer)
    loaded = load(path)
    torch.testing.assert_close(loaded.forward(torch.ones(2, 3))[0], torch.full((2, 3), 2.0))
    torch.testing.assert_close(loaded.forward(-torch.ones(2, 3))[0], torch.full((2, 3), -3.0))

    # One past the end is still refused.
    def past_the_end(program: Any) -> None:
        for instruction in program.execution_plan[0].chains[0].instructions:
            if isinstance(instruction.instr_args, JumpFalseCall):
                instruction.instr_args.destination_instruction = len(instructions) + 1

    damaged = tmp_path / "damaged.pte"
    damaged.write_bytes(_rewrite(buffer, past_the_end))
    with pytest.raises(DelegateError, match=rf"refers to instruction {len(instructions) + 1}; the method has "
                                            rf"{len(instructions)} \(the file is damaged\)"):
        load(damaged)
