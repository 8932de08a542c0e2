"""The TensorRT build progress display: only on terminals, only for builds over a second."""

from __future__ import annotations

import io
import sys
import types

import pytest

from executorch_tensorrt.exporter.builders import trt_logging


class _Monitor:
    def __init__(self) -> None:
        pass


class _Config:
    progress_monitor = None


def _fake_trt() -> types.ModuleType:
    trt = types.ModuleType("fake_trt")
    trt.IProgressMonitor = _Monitor  # type: ignore[attr-defined]
    return trt


def test_no_monitor_and_no_output_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()  # isatty() is False
    monkeypatch.setattr(sys, "stderr", stream)
    config = _Config()
    seen = []
    with trt_logging.build_progress(_fake_trt(), config, "TensorRT engine 1/1"):
        seen.append(config.progress_monitor)
    assert seen == [None]
    assert stream.getvalue() == ""


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _phases(display: trt_logging._PhaseDisplay, clock: _Clock, seconds: float) -> None:
    display.start("Building", None, 4)
    for step in range(4):
        clock.now += seconds / 4
        display.step("Building", step)
    display.finish("Building")


@pytest.mark.parametrize("seconds, drawn", [(0.5, False), (0.99, False), (2.0, True)])
def test_display_starts_only_after_a_second(monkeypatch: pytest.MonkeyPatch, seconds: float, drawn: bool) -> None:
    pytest.importorskip("rich")
    stream = _Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    clock = _Clock()
    with trt_logging._PhaseDisplay("TensorRT", clock=clock) as display:
        _phases(display, clock, seconds)
        assert display.drawing is drawn
    if not drawn:
        assert stream.getvalue() == ""
