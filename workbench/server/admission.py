"""Backpressure for the synchronous detection routes: a bounded number of calls admitted, the rest told to wait.

A call is admitted while fewer than ``limit`` are queued or running in this process; otherwise it is
answered at once with 429 ``TooManyRequests`` and ``Retry-After`` (the official SDK and
:class:`workbench.remote.RemoteClient` retry after that many seconds), instead of piling up until connections
time out or drop.  Refused callers are spread over the coming seconds, at most ``limit`` told to come back in
the same second, so that a burst does not return as one burst.  Everything here runs on the event loop's
thread, so plain counters are enough.
"""
from __future__ import annotations

import math
import time

MAX_RETRY_AFTER = 60


class Admission:
    """How many synchronous calls may wait or run at once in this process, and when refused ones should retry."""

    def __init__(self, limit: int, clock=time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self.active = 0
        self.rejected = 0
        self._promised: dict[int, int] = {}  # whole second (of ``clock``) -> callers told to come back then

    def enter(self) -> bool:
        """Take a place if one is free (True), else count a rejection (False)."""
        if self.active >= self.limit:
            self.rejected += 1
            return False
        self.active += 1
        return True

    def leave(self) -> None:
        self.active -= 1

    def retry_after(self) -> int:
        """Whole seconds (1 to ``MAX_RETRY_AFTER``) after which a refused caller should try again."""
        now = self.clock()
        second = math.floor(now)
        for old in [s for s in self._promised if s <= second]:
            del self._promised[old]
        for wait in range(1, MAX_RETRY_AFTER + 1):
            if self._promised.get(second + wait, 0) < self.limit:
                self._promised[second + wait] = self._promised.get(second + wait, 0) + 1
                return wait
        return MAX_RETRY_AFTER
