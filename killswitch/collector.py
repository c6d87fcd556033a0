"""The cycle collector, paused while many long-lived objects are built.

Building a million-agent tree (killswitch.hierarchy) or running a simulation
over one (sim.runner) allocates in bursts that trigger full collections; each
rescans everything built so far and finds nothing to free, which more than
doubles the time. Pure bookkeeping of the interpreter: no I/O, no clock.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cycle collector for the block; restore its state after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
