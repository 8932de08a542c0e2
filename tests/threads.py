"""Runs test bodies on threads, each joined with a timeout, so a deadlock
fails the test instead of hanging it."""

from __future__ import annotations

import threading
from typing import Callable, List

JOIN_TIMEOUT_S = 120


def run_threads(count: int, body: Callable[[int], int]) -> List[int]:
    """Runs body(i) on `count` threads; returns each thread's failure count."""
    failures = [-1] * count
    errors: List[BaseException] = []

    def run(index: int) -> None:
        try:
            failures[index] = body(index)
        except BaseException as err:  # noqa: BLE001  (reported below)
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_S)
        assert not thread.is_alive(), f"a thread did not finish in {JOIN_TIMEOUT_S} s (deadlock?)"
    assert errors == []
    return failures
