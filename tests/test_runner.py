"""The C++ runner: Module::load with --backend-option, inputs from files."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List

import numpy as np

from executorch_tensorrt import _native
from native_build import TEST_ENGINE_LIBRARY
from native_fixtures import machine_has_nvidia_gpu


def _run(args: List[str], with_test_engine: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if with_test_engine:
        # The runner ships without the test engine; preloading registers it.
        env["LD_PRELOAD"] = str(TEST_ENGINE_LIBRARY)
    return subprocess.run([str(_native.RUNNER), *args], capture_output=True, text=True, env=env, timeout=120)


def test_runner_runs_program_on_inputs_from_files(tmp_path: Path, test_engine, test_programs: Dict[str, Path]) -> None:
    x = np.array([[-3, -1, 0], [1, 2, 3]], dtype=np.float32)
    y = np.array([[1, 0.5, -1], [1, -5, 0]], dtype=np.float32)
    (tmp_path / "x.bin").write_bytes(x.tobytes())
    (tmp_path / "y.bin").write_bytes(y.tobytes())
    result = _run(
        ["--model", str(test_programs["add_relu"]), "--input", str(tmp_path / "x.bin"),
         "--input", str(tmp_path / "y.bin"), "--backend-option", "init_policy=deferred", "--verbose"],
        with_test_engine=True,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "output 0: Float [2, 3] = 0 0 0 2 0 3"
    assert lines[1] == "output 1: Float [2, 3] = -6 -2 0 2 4 6"
    # --verbose: the delegate's state after the run, through get_option().
    assert "delegates state: device" in lines
    assert "delegates init_policy: deferred" in lines


def test_runner_generates_inputs(test_engine, test_programs: Dict[str, Path]) -> None:
    result = _run(["--model", str(test_programs["add_relu"])], with_test_engine=True)
    assert result.returncode == 0, result.stderr
    assert "output 0: Float [2, 3] = 2 2 2 2 2 2" in result.stdout


def test_runner_reports_delegate_reason(test_programs: Dict[str, Path]) -> None:
    result = _run(["--model", str(test_programs["rtx_mlp"])])
    assert result.returncode == 1
    expected = "builder flavour mismatch" if machine_has_nvidia_gpu() else "no CUDA device is available"
    assert "error: loading method 'forward'" in result.stderr
    assert expected in result.stderr


def test_runner_refuses_bad_command_lines(tmp_path: Path, test_programs: Dict[str, Path]) -> None:
    assert "--model is required" in _run([]).stderr
    missing = _run(["--model", str(tmp_path / "missing.pte")])
    assert missing.returncode == 2 and "cannot read program file" in missing.stderr
    bad_option = _run(["--model", str(test_programs["add_relu"]), "--backend-option", "novalue"])
    assert bad_option.returncode == 2 and "KEY=VALUE" in bad_option.stderr
    long_key = _run(["--model", str(test_programs["add_relu"]), "--backend-option", "k" * 64 + "=1"])
    assert long_key.returncode == 2 and "at most 63" in long_key.stderr
    (tmp_path / "short.bin").write_bytes(b"\0" * 4)
    short = _run(["--model", str(test_programs["add_relu"]), "--input", str(tmp_path / "short.bin"),
                  "--input", str(tmp_path / "short.bin")], with_test_engine=True)
    assert short.returncode == 2 and "has 4 bytes; input 0 needs 24" in short.stderr


def test_missing_tensorrt_runtime_is_reported(tmp_path: Path, test_programs: Dict[str, Path]) -> None:
    # A copy of the installed runner and delegate whose adapter cannot load, as
    # when TensorRT's library is absent: init() must say what to install.
    (tmp_path / "bin").mkdir()
    (tmp_path / "lib").mkdir()
    runner = tmp_path / "bin" / _native.RUNNER.name
    shutil.copy(_native.RUNNER, runner)
    shutil.copy(_native.LIB_DIR / "libexecutorch_tensorrt_delegate.so", tmp_path / "lib")
    (tmp_path / "lib" / "libexecutorch_tensorrt_adapter.so").write_text("not a shared library")
    # The copy's relative RUNPATH ($ORIGIN/../../executorch/lib) does not reach
    # ExecuTorch's libraries from tmp_path, and a build in an isolated
    # environment leaves no absolute one: point the loader at the wheel's.
    executorch_dir = importlib.util.find_spec("executorch").submodule_search_locations[0]
    env = {**os.environ, "LD_LIBRARY_PATH": str(Path(executorch_dir) / "lib")}
    result = subprocess.run(
        [str(runner), "--model", str(test_programs["rtx_mlp"])], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 1
    assert "could not load the TensorRT adapter" in result.stderr
    assert "pip install tensorrt-lean-cu13-libs" in result.stderr
