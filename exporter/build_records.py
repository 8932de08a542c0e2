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
from typing import Iterator, List, Optional


@dataclass(frozen=True)
class EngineBuildRecord:
    digest: str  # sha256 of the delegate blob
    builder: str
    flavour: str
    engine_bytes: int
    weight_bytes: int  # the builder's report, else the partition's constants
    num_profiles: int
    seconds: float


_records: contextvars.ContextVar[Optional[List[EngineBuildRecord]]] = contextvars.ContextVar(
    "executorch_tensorrt_build_records", default=None
)
# How many engines the partitioner planned, for "engine 2/3" in progress displays.
_expected: contextvars.ContextVar[int] = contextvars.ContextVar("executorch_tensorrt_expected_engines", default=0)


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


def engine_label() -> str:
    """``TensorRT engine 2/3`` for the engine being built now (``TensorRT`` outside a collection)."""
    records = _records.get()
    if records is None or not _expected.get():
        return "TensorRT"
    return f"TensorRT engine {len(records) + 1}/{_expected.get()}"


def record_build(record: EngineBuildRecord) -> None:
    records = _records.get()
    if records is not None:
        records.append(record)
