"""Bulk work without the cyclic garbage collector's full scans.

Folding or importing many events keeps every event and its model alive
while allocating more, and CPython's cyclic collector then rescans the
growing heap again and again: the benchmark found it was 36-64% of import
and rebuild time. Nothing the ledger builds needs the cycle collector to be
freed promptly (reference counting frees it), so bulk operations pause it
and run one collection at the end.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for a bulk operation (nesting-safe)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def bulk(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `func` with the cyclic collector paused."""

    @functools.wraps(func)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with collector_paused():
            return func(*args, **kwargs)

    return run
