"""Builds tests/CMakeLists.txt and loads the test engine.

Two kinds of targets: the test engine that this process (and the runner)
loads is built against the *installed* delegate library and its seam headers,
the one ``import executorch_tensorrt`` loads, so it registers there; the
GoogleTest binary compiles the delegate from this checkout's sources.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
BUILD_DIR = REPO_ROOT / "build" / "tests"
TEST_ENGINE_LIBRARY = BUILD_DIR / "libexecutorch_tensorrt_test_engine.so"
DELEGATE_TESTS = BUILD_DIR / "delegate_tests"


def _tool(module_name: str, executable: str) -> str:
    # The pip `cmake` and `ninja` packages: system cmake 3.25 is too old for
    # ExecuTorch's CMake package.
    module = __import__(module_name)
    return str(Path(module.BIN_DIR if module_name == "ninja" else module.CMAKE_BIN_DIR) / executable)


@lru_cache(maxsize=None)
def build_native_tests() -> Path:
    """Configures and builds the C++ tests once per process; returns the build dir."""
    cmake = _tool("cmake", "cmake")
    configure = [
        cmake,
        "-S",
        str(TESTS_DIR),
        "-B",
        str(BUILD_DIR),
        "-G",
        "Ninja",
        f"-DCMAKE_MAKE_PROGRAM={_tool('ninja', 'ninja')}",
        f"-DPython_EXECUTABLE={sys.executable}",
    ]
    for command in (configure, [cmake, "--build", str(BUILD_DIR)]):
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return BUILD_DIR


@lru_cache(maxsize=None)
def load_test_engine() -> ctypes.CDLL:
    """Loads the test engine into this process (registers flavour `test`)."""
    import executorch_tensorrt  # noqa: F401  (the delegate must be loaded first)

    build_native_tests()
    library = ctypes.CDLL(str(TEST_ENGINE_LIBRARY), mode=os.RTLD_NOW | ctypes.RTLD_GLOBAL)
    if library.etrt_test_engine_registered() != 1:
        raise RuntimeError("the test engine did not register with the delegate")
    return library
