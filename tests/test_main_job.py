"""The README's main job through the installed console script, as a user runs
it: export the example model, inspect the .pte, run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from native_build import REPO_ROOT
from native_fixtures import machine_has_nvidia_gpu


# The console script installed with the interpreter running the tests (a venv's
# bin/ need not be on PATH).
CLI = shutil.which("executorch-tensorrt", path=str(Path(sys.executable).parent)) or "executorch-tensorrt"


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=600, env=dict(os.environ, **env))


def test_export_inspect_run_example(tmp_path: Path) -> None:
    program = tmp_path / "mlp.pte"
    exported = _cli("export", str(REPO_ROOT / "examples" / "mlp.py"), "-o", str(program))
    assert exported.returncode == 0, exported.stderr
    assert program.is_file()

    inspected = _cli("inspect", str(program))
    assert inspected.returncode == 0, inspected.stderr
    assert "ExecutorchTensorRTBackend" in inspected.stdout
    assert "tensorrt_rtx 1.7" in inspected.stdout  # a real engine from the CPU builder
    assert "input_0" in inspected.stdout and "output_0" in inspected.stdout
    assert "engine_builder=auto" in inspected.stdout  # baked compile specs

    ran = _cli("run", str(program))
    assert ran.returncode != 0
    expected = "builder flavour mismatch" if machine_has_nvidia_gpu() else "no CUDA device is available"
    assert expected in ran.stderr
    assert "Traceback" not in ran.stderr


def test_traceback_on_request(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pte"
    bad.write_bytes(b"not a program")
    plain = _cli("inspect", str(bad))
    assert plain.returncode == 2
    assert "EXECUTORCH_TENSORRT_TRACEBACK=1" in plain.stderr and "Traceback" not in plain.stderr
    traced = _cli("inspect", str(bad), EXECUTORCH_TENSORRT_TRACEBACK="1")
    assert "Traceback (most recent call last)" in traced.stderr
