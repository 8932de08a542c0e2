"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

# tests/engine, on the path through pyproject.toml's pytest `pythonpath`.
from test_engine_builder import TestEngineBuilder

REPO_ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------
# Exporter: the CPU test-engine builder (tests/engine/test_engine_builder.py)
# ---------------------------------------------------------------------------


@pytest.fixture
def test_engine_builder() -> Iterator[TestEngineBuilder]:
    """Registers the test-engine builder as ``engine_builder="test"`` for one test."""
    from executorch_tensorrt.exporter import register_engine_builder, unregister_engine_builder

    builder = TestEngineBuilder()
    register_engine_builder("test", builder)
    try:
        yield builder
    finally:
        unregister_engine_builder("test")


@pytest.fixture
def examples_dir() -> Path:
    return REPO_ROOT / "examples"


# ---------------------------------------------------------------------------
# Native delegate: test engine and exported programs (tests/native_fixtures.py)
# ---------------------------------------------------------------------------

from native_fixtures import native_build_dir, test_engine, test_programs  # noqa: E402,F401
