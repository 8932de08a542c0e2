"""A program past 4 GiB on disk (a sparse hole after a test engine's
program): inspected, checked, loaded deferred and run through ExecuTorch's
runtime, and refused when truncated or inconsistent. Costs a few KiB of disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from large_programs import FOUR_GIB, enlarge_engine, is_sparse, set_engine_size
from memory_programs import AddOne, registered
from native_build import TEST_ENGINE_LIBRARY
from test_engine_builder import EndedEngineBuilder

import executorch_tensorrt
from executorch_tensorrt.exporter.inspect import inspect_program

X = torch.arange(6, dtype=torch.float32).reshape(2, 3)
ENGINE_BYTES = FOUR_GIB + 4097  # past 2^32, not a multiple of a page


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("large")
    small = folder / "small.pte"
    with registered("test_ended", EndedEngineBuilder()) as name:
        executorch_tensorrt.save(AddOne(), small, inputs=(torch.zeros(2, 3),), engine_builder=name)
    large = enlarge_engine(small, folder / "large.pte", ENGINE_BYTES)
    if not is_sparse(large):
        pytest.skip(f"the filesystem of {folder} does not keep sparse files (st_blocks); a 4 GiB test file is too costly")
    return {"small": small, "large": large, "folder": folder}


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LD_PRELOAD=str(TEST_ENGINE_LIBRARY))
    command = [sys.executable, "-c", "import sys; from executorch_tensorrt.cli import main; sys.exit(main())", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_the_file_is_past_4_gib_and_sparse(programs: dict) -> None:
    size = programs["large"].stat().st_size
    assert size > FOUR_GIB + 4096
    assert programs["large"].stat().st_blocks * 512 < 2**20


def test_inspect_reports_the_engine_size_past_4_gib(programs: dict) -> None:
    report = inspect_program(programs["large"])
    (delegate,) = report.methods[0].delegates
    assert delegate.error is None
    assert delegate.engines[0].engine_bytes == ENGINE_BYTES
    assert report.size_bytes == programs["large"].stat().st_size
    shown = _cli("inspect", str(programs["large"]))
    assert shown.returncode == 0, shown.stderr
    assert f"{ENGINE_BYTES:,}" in shown.stdout, shown.stdout


def test_loads_deferred_and_runs(test_engine, programs: dict) -> None:
    from executorch_tensorrt.runtime import load

    program = load(programs["large"], backend_options={"init_policy": "deferred"})
    (state,) = program.delegate_states
    assert (state["state"], state["init_policy"]) == ("host", "deferred")
    torch.testing.assert_close(program.forward(X)[0], X + 1)
    assert program.delegate_states[0]["state"] == "device"


def test_run_command_gives_the_outputs(programs: dict) -> None:
    inputs = programs["folder"] / "x.npy"
    np.save(inputs, X.numpy())
    ran = _cli("run", str(programs["large"]), "--input", str(inputs), "--backend-option", "init_policy=deferred")
    assert ran.returncode == 0, ran.stderr
    assert "output 0: torch.float32 [2, 3] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]" in ran.stdout, ran.stdout


def test_a_truncated_large_file_is_refused(test_engine, programs: dict) -> None:
    from executorch_tensorrt.runtime import load

    truncated = programs["folder"] / "truncated.pte"
    enlarge_engine(programs["small"], truncated, ENGINE_BYTES)
    os.truncate(truncated, truncated.stat().st_size - 1)
    with pytest.raises(Exception, match=r"(?s)does not fit|runs past the end.*truncated or damaged"):
        load(truncated, backend_options={"init_policy": "deferred"})


def test_an_engine_larger_than_its_segment_is_refused(test_engine, programs: dict, tmp_path: Path) -> None:
    from executorch_tensorrt.runtime import load

    # Only the blob says 4 GiB + 4097 bytes; the segment and the file hold the small program.
    data = bytearray(programs["small"].read_bytes())
    set_engine_size(data, ENGINE_BYTES)
    inconsistent = tmp_path / "inconsistent.pte"
    inconsistent.write_bytes(bytes(data))
    with pytest.raises(Exception, match=rf"engine 0 at offset \d+, {ENGINE_BYTES} bytes, lies outside the \d+-byte blob"):
        load(inconsistent, backend_options={"init_policy": "deferred"}).forward(X)


@pytest.mark.parametrize("engine_bytes", [2**31 - 1, 2**31 + 1, 2**32 - 1, 2**32 + 1])
def test_sizes_near_2_and_4_gib_survive_every_reader(test_engine, programs: dict, tmp_path: Path, engine_bytes: int) -> None:
    """The engine size read by inspect, held by the deferred delegate (host
    bytes, from ExecuTorch's FreeableBuffer) and the file size the whole-program
    check compares with, each exactly; one byte short is refused."""
    from executorch_tensorrt.runtime import load

    large = enlarge_engine(programs["small"], tmp_path / "large.pte", engine_bytes)
    assert inspect_program(large).methods[0].delegates[0].engines[0].engine_bytes == engine_bytes
    program = load(large, backend_options={"init_policy": "deferred"})
    assert program.delegate_states[0]["host_bytes"] == engine_bytes
    torch.testing.assert_close(program.forward(X)[0], X + 1)
    assert program.delegate_states[0]["host_bytes"] == 0
    del program
    size = large.stat().st_size
    os.truncate(large, size - 1)
    with pytest.raises(Exception, match=rf"(?s)does not fit.*{size - 1}-byte file|runs past the end of the {size - 1}-byte file"):
        load(large, backend_options={"init_policy": "deferred"})


def test_the_cpp_runner_loads_and_runs_it(programs: dict) -> None:
    from executorch_tensorrt import _native

    inputs = programs["folder"] / "x.bin"
    X.numpy().tofile(inputs)
    env = dict(os.environ, LD_PRELOAD=str(TEST_ENGINE_LIBRARY))
    command = [str(_native.RUNNER), "--model", str(programs["large"]), "--backend-option", "init_policy=deferred",
               "--input", str(inputs)]
    ran = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "output 0: Float [2, 3] = 1 2 3 4 5 6" in ran.stdout, ran.stdout


_TWO_CONTEXTS = """
import sys, time
import executorch_tensorrt
from executorch_tensorrt.runtime import load
def rss():
    return int([l for l in open("/proc/self/status") if l.startswith("VmRSS:")][0].split()[1]) * 1024
before, started = rss(), time.perf_counter()
program = load(sys.argv[1], backend_options={"init_policy": "deferred", "execution_contexts": 2})
print(time.perf_counter() - started, rss() - before, sorted(s["execution_contexts"] for s in program.delegate_states))
"""


def test_two_execution_contexts_share_without_reading_the_engine(programs: dict) -> None:
    # The instances join one delegate keyed on the blob's digest, not on a
    # hash of its 4.5 GiB (which took 22 s and 9.7 GB of resident memory).
    env = dict(os.environ, LD_PRELOAD=str(TEST_ENGINE_LIBRARY))
    ran = subprocess.run(
        [sys.executable, "-c", _TWO_CONTEXTS, str(programs["large"])], capture_output=True, text=True, env=env, timeout=300
    )
    assert ran.returncode == 0, ran.stderr
    seconds, grown, contexts = ran.stdout.strip().split(" ", 2)
    assert contexts == "[2]"  # one delegate, shared by the two instances
    assert float(seconds) < 5.0, ran.stdout
    assert int(grown) < 256 * 2**20, ran.stdout
