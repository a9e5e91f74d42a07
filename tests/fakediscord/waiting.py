"""Waiting for a condition on the fake's state without sleeping for fixed times."""

# ruff: noqa: ASYNC109 - the waiting helpers take a timeout like asyncio.wait_for, which reads best in tests

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: How often a condition is re-checked between state changes (for conditions on things the fake cannot see).
POLL_INTERVAL = 0.02


class Waiters:
    """Conditions re-checked whenever the fake's state changes (and every ``POLL_INTERVAL``)."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def notify(self) -> None:
        self._changed.set()

    async def wait(self, check: Callable[[], T | None], timeout: float, describe: Callable[[], str]) -> T:
        """Return the first truthy result of ``check``; TimeoutError with ``describe()``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._changed.clear()
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout:g}s waiting for {describe()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(POLL_INTERVAL, remaining))
