"""The delegate registers with ExecuTorch's shared runtime and is visible to
every way of loading programs; a failed registration is reported."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import executorch_tensorrt
from executorch_tensorrt import _native
from executorch_tensorrt.runtime import _runtime

BACKEND_ID = "ExecutorchTensorRTBackend"


def test_backend_id_differs_from_torch_tensorrt() -> None:
    assert executorch_tensorrt.BACKEND_ID == BACKEND_ID != "TensorRTBackend"
    assert _native.registration_error() is None


@pytest.mark.parametrize("executorch_first", [True, False], ids=["executorch-first", "ours-first"])
def test_visible_to_executorch_runtime_in_either_import_order(executorch_first: bool) -> None:
    imports = ["from executorch.runtime import Runtime", "import executorch_tensorrt"]
    if not executorch_first:
        imports.reverse()
    script = "; ".join(imports + ["print(Runtime.get().backend_registry.registered_backend_names)"])
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert BACKEND_ID in result.stdout


def test_visible_to_cpp_registry_and_runner() -> None:
    assert BACKEND_ID in _runtime.registered_backends()
    result = subprocess.run([str(_native.RUNNER), "--list-backends"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert BACKEND_ID in result.stdout.split()


def test_second_copy_reports_failed_registration(tmp_path: Path) -> None:
    # A second copy of the delegate library in one process finds the id taken;
    # it must say so rather than fail silently as ExecuTorch does.
    copy = tmp_path / "libexecutorch_tensorrt_delegate_copy.so"
    shutil.copy(_native.LIB_DIR / "libexecutorch_tensorrt_delegate.so", copy)
    script = (
        "import ctypes, executorch_tensorrt; "
        f"lib = ctypes.CDLL({str(copy)!r}); "
        "print('status', lib.executorch_tensorrt_registration_status())"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    status = int(result.stdout.split("status")[-1])
    assert status != 0
    assert "registering backend 'ExecutorchTensorRTBackend' failed" in result.stderr
    assert "already registered" in result.stderr


def test_loader_refuses_when_registration_failed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from executorch_tensorrt.runtime import load

    program = tmp_path / "any.pte"
    program.write_bytes(b"\0" * 16)
    monkeypatch.setattr(_native._runtime, "registration_status", lambda: 0x12)
    with pytest.raises(_native.RegistrationError, match="already taken .* or ExecuTorch's backend registry is full"):
        load(program)
