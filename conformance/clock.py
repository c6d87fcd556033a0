"""The harness's time, in the two clock modes of an implementation under test.

``injected``: time is virtual. Every test example starts at :data:`ANCHOR`;
letting time pass is instant (:meth:`InjectedClock.wait` moves the clock and
the context then sends ``advance``). Boundaries can be hit exactly.

``wall``: the implementation reads its own clock, so timestamps are built from
the real time at the moment of delivery, boundary cases sit ``margin`` seconds
inside or outside a limit so clock jitter between harness and implementation
cannot flip a verdict, and letting time pass means really sleeping — only for
short waits (``max_wait``); a case that needs longer is UNSUPPORTED.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from conformance.adapter import ClockMode

#: Virtual start of every injected-clock example: 2026-01-01T00:00:00Z.
ANCHOR = 1_767_225_600.0


class ClockUnsupported(Exception):
    """The case would need the implementation's clock to move further than the
    harness may wait in wall mode. The case is UNSUPPORTED, never FAILED."""


@dataclass
class InjectedClock:
    """Virtual time, passed to the implementation with every call."""

    current: float = ANCHOR
    margin: float = 0.0
    mode: ClockMode = "injected"

    def reset(self) -> None:
        self.current = ANCHOR

    def now(self) -> float:
        return self.current

    def edge(self) -> float:
        """How far inside/outside a limit a boundary case sits: exactly on it."""
        return 0.0

    def wait(self, seconds: float) -> None:
        self.current += max(0.0, seconds)

    @property
    def sends_advance(self) -> bool:
        return True


@dataclass
class WallClock:
    """Real time; waits sleep, up to ``max_wait`` seconds per wait."""

    margin: float = 2.0
    max_wait: float = 5.0
    mode: ClockMode = "wall"

    def reset(self) -> None:
        pass

    def now(self) -> float:
        return time.time()

    def edge(self) -> float:
        return self.margin

    def wait(self, seconds: float) -> None:
        if seconds > self.max_wait:
            raise ClockUnsupported(
                f"needs the implementation's own clock to advance {seconds:g} s;"
                f" wall-clock waits are limited to {self.max_wait:g} s"
            )
        if seconds > 0:
            time.sleep(seconds)

    @property
    def sends_advance(self) -> bool:
        return False


Clock = InjectedClock | WallClock


def make_clock(mode: ClockMode, margin: float = 2.0, max_wait: float = 5.0) -> Clock:
    if mode == "wall":
        return WallClock(margin=margin, max_wait=max_wait)
    return InjectedClock()
