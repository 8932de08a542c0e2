"""Execute-path checks through ExecuTorch's real runtime with the test
engine: clear messages for wrong calls, and the ETDump events the delegate
logs around stage-in, enqueue and stage-out."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest
import torch

from executorch_tensorrt.runtime import load


@pytest.mark.parametrize(
    "inputs, error, match",
    [
        ((torch.ones(2, 3, dtype=torch.int32), torch.ones(2, 3)), TypeError,
         r"input 0 of forward\(\): expected torch.float32 \[2, 3\], got torch.int32 \[2, 3\]"),
        ((torch.ones(6), torch.ones(2, 3)), ValueError,
         r"input 0 of forward\(\): expected shape \[2, 3\] \(rank 2, .*got \[6\] \(rank 1\)"),
        ((torch.ones(2, 3), torch.ones(4, 3)), ValueError, r"input 1 of forward\(\): expected shape \[2, 3\].*got \[4, 3\]"),
        ((torch.ones(2, 3),), TypeError, r"forward\(\) takes 2 inputs, got 1"),
        ((torch.ones(2, 3), torch.ones(2, 3), torch.ones(2, 3)), TypeError, r"forward\(\) takes 2 inputs, got 3"),
    ],
)
def test_wrong_calls_are_rejected_naming_input_expected_and_got(
    test_engine, test_programs: Dict[str, Path], inputs, error, match
) -> None:  # type: ignore[no-untyped-def]
    program = load(test_programs["add_relu"])
    runs_before = test_engine.etrt_test_engine_run_count()
    with pytest.raises(error, match=match):
        program.forward(*inputs)
    assert test_engine.etrt_test_engine_run_count() == runs_before  # nothing ran
    relu, twice = program.forward(torch.ones(2, 3), -torch.ones(2, 3) * 3)  # and the program still works
    torch.testing.assert_close(relu, torch.zeros(2, 3))
    torch.testing.assert_close(twice, torch.full((2, 3), 2.0))


def test_etdump_has_stage_in_enqueue_stage_out_per_call(test_engine, test_programs: Dict[str, Path], tmp_path: Path) -> None:
    from executorch.devtools.etdump.serialize import deserialize_from_etdump_flatcc
    from executorch.extension.pybindings import portable_lib

    module = portable_lib._load_for_executorch(str(test_programs["add_relu"]), enable_etdump=True)
    x, y = torch.randn(2, 3), torch.randn(2, 3)
    for _ in range(2):
        relu, twice = module.forward((x, y))
        torch.testing.assert_close(relu, torch.relu(x + y))
    path = tmp_path / "run.etdump"
    module.write_etdump_result_to_file(str(path))
    etdump = deserialize_from_etdump_flatcc(path.read_bytes())
    names = [
        event.profile_event.delegate_debug_id_str
        for run in etdump.run_data
        for event in run.events
        if event.profile_event is not None and event.profile_event.delegate_debug_id_str
    ]
    assert names == ["stage_in", "enqueue", "stage_out"] * 2, names
    for run in etdump.run_data:
        for event in run.events:
            if event.profile_event is not None and event.profile_event.delegate_debug_id_str:
                assert event.profile_event.end_time >= event.profile_event.start_time
