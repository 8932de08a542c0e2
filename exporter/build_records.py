"""What each engine build produced, collected for the caller of the lowering.

``preprocess`` runs deep inside ExecuTorch's lowering and can hand back only
the delegate bytes. ``save``/``export`` need more per engine (weight size for
the budget split, sizes and times for the summary), so ``preprocess`` records
it here, keyed by a digest of the bytes it returns.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple


@dataclass(frozen=True)
class RangeEngineRecord:
    """One engine of a delegate (several with ``batch_engines="per_range"``)."""

    ranges: str  # the engine's input shape ranges, e.g. "input_0 [1, 4]..[8, 4]"
    engine_bytes: int
    execution_memory_bytes: int  # -1: known only at load


@dataclass(frozen=True)
class EngineBuildRecord:
    digest: str  # sha256 of the delegate blob
    builder: str
    flavour: str
    engine_bytes: int
    weight_bytes: int  # the builder's report, else the partition's constants
    num_profiles: int
    seconds: float
    engines: Tuple[RangeEngineRecord, ...] = ()  # in blob order; engine_bytes is their sum


_records: contextvars.ContextVar[Optional[List[EngineBuildRecord]]] = contextvars.ContextVar(
    "executorch_tensorrt_build_records", default=None
)
# How many engines the partitioner planned, for "engine 2/3" in progress displays.
_expected: contextvars.ContextVar[int] = contextvars.ContextVar("executorch_tensorrt_expected_engines", default=0)
# (k, n): the delegate being built is its k-th engine of n (batch_engines="per_range").
_range: contextvars.ContextVar[Tuple[int, int]] = contextvars.ContextVar("executorch_tensorrt_range", default=(1, 1))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def collect_builds() -> Iterator[List[EngineBuildRecord]]:
    records: List[EngineBuildRecord] = []
    token = _records.set(records)
    expected = _expected.set(0)
    try:
        yield records
    finally:
        _records.reset(token)
        _expected.reset(expected)


def expect_engines(count: int) -> None:
    _expected.set(count)


@contextlib.contextmanager
def building_range_engine(index: int, count: int) -> Iterator[None]:
    """Labels the builds inside as engine ``index + 1`` of the delegate's ``count``."""
    token = _range.set((index + 1, count))
    try:
        yield
    finally:
        _range.reset(token)


def engine_label() -> str:
    """``TensorRT engine 2/3`` for the delegate being built now (``TensorRT``
    outside a collection), with ``, range 1/4`` when it has several engines."""
    records = _records.get()
    k, n = _range.get()
    suffix = f", range {k}/{n}" if n > 1 else ""
    if records is None or not _expected.get():
        return f"TensorRT{suffix}"
    return f"TensorRT engine {len(records) + 1}/{_expected.get()}{suffix}"


def record_build(record: EngineBuildRecord) -> None:
    records = _records.get()
    if records is not None:
        records.append(record)
