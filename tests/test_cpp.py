"""Runs the GoogleTest suite (tests/cpp) through ctest, with the programs it
needs exported by the Python exporter."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Dict

from native_build import _tool


def test_cpp_suite_passes(native_build_dir: Path, test_programs: Dict[str, Path]) -> None:
    env = dict(os.environ, ETTRT_TEST_PROGRAMS=str(test_programs["add_relu"].parent))
    result = subprocess.run(
        [_tool("cmake", "ctest"), "--test-dir", str(native_build_dir), "--output-on-failure", "--timeout", "120"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # "100% tests passed out of 25" (ctest 4) or "..., 0 tests failed out of 25".
    summary = re.search(r"(\d+)% tests passed(?:, (\d+) tests failed)? out of (\d+)", output)
    assert summary is not None, output
    assert summary.group(1) == "100" and summary.group(2) in (None, "0"), output
    assert int(summary.group(3)) >= 20, f"expected the whole C++ suite, ctest ran {summary.group(3)}"
