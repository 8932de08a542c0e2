"""TensorRT logger -> Python logging, and a build progress display on TTYs."""

from __future__ import annotations

import collections
import contextlib
import logging
import re
import sys
import time
from types import ModuleType
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional

TENSORRT_LOGGER_NAME = "executorch_tensorrt.tensorrt"
_LOG = logging.getLogger(TENSORRT_LOGGER_NAME)

_LEVELS = {
    "INTERNAL_ERROR": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARNING": logging.WARNING,
    "INFO": logging.INFO,
    "VERBOSE": logging.DEBUG,
}
_KEPT_ERRORS = 20
# The builder's report of the engine's weights (TensorRT and TensorRT-RTX, INFO).
_WEIGHTS_RE = re.compile(r"Total Weights Memory: ([0-9]+) bytes")


def make_logger(trt: ModuleType, quiet: bool = False) -> Any:
    """An ``ILogger`` of module ``trt`` (tensorrt or tensorrt_rtx) forwarding to
    the ``executorch_tensorrt.tensorrt`` Python logger with matching levels.

    The returned object's ``errors`` keeps the last error messages, for
    exceptions raised when a build fails. ``quiet`` logs everything at DEBUG:
    for support queries, whose refusals are answers rather than errors.
    """

    class _Logger(trt.ILogger):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: Deque[str] = collections.deque(maxlen=_KEPT_ERRORS)
            self.weight_bytes: Optional[int] = None  # from the build report, when logged

        def log(self, severity: Any, msg: str) -> None:
            # Never raise into TensorRT: it calls this from C++.
            try:
                level = _LEVELS.get(getattr(severity, "name", ""), logging.INFO)
                if level >= logging.ERROR:
                    self.errors.append(str(msg).strip())
                weights = _WEIGHTS_RE.search(str(msg))
                if weights:
                    self.weight_bytes = int(weights.group(1))
                if quiet:
                    level = logging.DEBUG
                if _LOG.isEnabledFor(level):
                    _LOG.log(level, "%s", msg)
            except Exception:  # pragma: no cover - defensive
                pass

    return _Logger()


# Builds that end sooner show no progress at all (most partitions of small models).
SHOW_PROGRESS_AFTER_SECONDS = 1.0


class _PhaseDisplay:
    """Shows TensorRT build phases with rich (or tqdm when rich is missing),
    drawing nothing until the build has run ``delay`` seconds."""

    def __init__(
        self, title: str, delay: Optional[float] = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._title = title
        self._delay = SHOW_PROGRESS_AFTER_SECONDS if delay is None else delay
        self._clock = clock
        self._started_at = clock()
        self._rich: Any = None
        self.drawing = False  # rich: Progress.start() happens only once the delay has passed
        self._bars: Dict[str, Any] = {}
        self._depth: Dict[str, int] = {}
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._rich = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=sys.stderr),
                transient=True,
            )
        except ImportError:
            self._rich = None

    def _remaining(self) -> float:
        return max(0.0, self._delay - (self._clock() - self._started_at))

    def _draw_when_due(self) -> None:
        if self._rich is not None and not self.drawing and self._remaining() == 0.0:
            self.drawing = True
            self._rich.start()

    def __enter__(self) -> "_PhaseDisplay":
        self._started_at = self._clock()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None and self.drawing:
            self._rich.stop()
        for bar in self._bars.values():
            if not isinstance(bar, int):
                bar.close()
        self._bars.clear()

    def start(self, name: str, parent: Optional[str], steps: int) -> None:
        depth = self._depth.get(parent, -1) + 1 if parent else 0
        self._depth[name] = depth
        label = "  " * depth + (name if depth else f"{self._title}: {name}")
        if self._rich is not None:
            self._bars[name] = self._rich.add_task(label, total=max(steps, 1))
            self._draw_when_due()
        else:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            # tqdm's delay: the bar appears only if the build is still running then.
            self._bars[name] = tqdm(
                total=max(steps, 1), desc=label, leave=False, file=sys.stderr, delay=self._remaining()
            )

    def step(self, name: str, step: int) -> None:
        bar = self._bars.get(name)
        if bar is None:
            return
        if self._rich is not None:
            self._rich.update(bar, completed=step + 1)
            self._draw_when_due()
        else:
            bar.n = step + 1
            bar.refresh()

    def finish(self, name: str) -> None:
        bar = self._bars.pop(name, None)
        self._depth.pop(name, None)
        if bar is None:
            return
        if self._rich is not None:
            self._rich.remove_task(bar)
        else:
            bar.close()


@contextlib.contextmanager
def build_progress(trt: ModuleType, config: Any, title: str = "TensorRT") -> Iterator[None]:
    """Attach a progress monitor to ``config`` while building, on TTYs only.

    Logs and CI output stay clean: nothing is drawn unless stderr is a
    terminal, nor for builds done within ``SHOW_PROGRESS_AFTER_SECONDS``.
    """
    monitor_base = getattr(trt, "IProgressMonitor", None)
    isatty = getattr(sys.stderr, "isatty", None)
    if monitor_base is None or not callable(isatty) or not isatty():
        yield
        return

    with _PhaseDisplay(title) as display:

        class _Monitor(monitor_base):  # type: ignore[misc,valid-type]
            def __init__(self) -> None:
                monitor_base.__init__(self)

            # TensorRT calls these from C++; a display glitch must not fail the build.
            def phase_start(self, phase_name: str, parent_phase: Optional[str], num_steps: int) -> None:
                with contextlib.suppress(Exception):
                    display.start(phase_name, parent_phase, num_steps)

            def step_complete(self, phase_name: str, step: int) -> bool:
                with contextlib.suppress(Exception):
                    display.step(phase_name, step)
                return True  # keep building

            def phase_finish(self, phase_name: str) -> None:
                with contextlib.suppress(Exception):
                    display.finish(phase_name)

        monitor = _Monitor()  # referenced until the build ends: TensorRT does not own it
        config.progress_monitor = monitor
        try:
            yield
        finally:
            config.progress_monitor = None


def format_errors(errors: List[str]) -> str:
    return "\n".join(f"  {line}" for line in errors) if errors else "  (TensorRT logged no error)"
