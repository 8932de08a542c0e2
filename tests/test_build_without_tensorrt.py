"""Without TensorRT headers the project still builds; the delegate registers
and fails init() saying it was built without TensorRT."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict

import pybind11

from native_build import REPO_ROOT, _tool


def test_build_without_tensorrt_registers_and_explains(tmp_path: Path, test_programs: Dict[str, Path]) -> None:
    empty_sdk = tmp_path / "no-tensorrt"
    empty_sdk.mkdir()
    assert not Path("/usr/include/NvInferRuntime.h").exists(), "system TensorRT headers would be found"
    build = tmp_path / "build"
    configure = subprocess.run(
        [
            _tool("cmake", "cmake"), "-S", str(REPO_ROOT), "-B", str(build), "-G", "Ninja",
            f"-DCMAKE_MAKE_PROGRAM={_tool('ninja', 'ninja')}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DTensorRT_ROOT={empty_sdk}",
        ],
        capture_output=True, text=True, timeout=300,
    )
    assert configure.returncode == 0, configure.stdout + configure.stderr
    assert "Building executorch-tensorrt WITHOUT TensorRT" in configure.stderr
    built = subprocess.run(
        [_tool("cmake", "cmake"), "--build", str(build), "--target", "executorch-tensorrt-runner"],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert not list(build.glob("libexecutorch_tensorrt_adapter*")), "no adapter without TensorRT"

    runner = str(build / "executorch-tensorrt-runner")
    listed = subprocess.run([runner, "--list-backends"], capture_output=True, text=True, timeout=60)
    assert "ExecutorchTensorRTBackend" in listed.stdout.split()
    ran = subprocess.run([runner, "--model", str(test_programs["rtx_mlp"])], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 1
    assert "built without TensorRT" in ran.stderr
    assert "TensorRT_ROOT" in ran.stderr  # says what to do
