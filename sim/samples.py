"""One run's phase durations, grouped the way the summary aggregates them.

A run produces one set of SLA phase durations per (operator command, agent)
pair. The summary wants them by phase, by phase and transport, (for ``total``
and ``time_to_halt``) by phase and depth, and, when the scenario gives some
agents their own ``[[network.links]]``, by phase and link. Grouping them where the
run happens, into compact arrays, keeps what a Monte Carlo worker sends back
small and the parent's share of the work (unpickling, aggregating) short: the
parent shares the CPUs with the workers.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sim.observe import is_moot

#: Phases also grouped by the agent's depth in the tree.
BY_DEPTH = ("time_to_halt", "total")
#: Phases whose absence from a pair is counted (Samples.missing), and what that
#: absence is called wherever it is shown.
MISSING = {"delivery": "never delivered", "total": "never finished"}


def _values(groups: dict[Any, array[float]], key: Any) -> array[float]:
    values = groups.get(key)
    if values is None:
        values = groups[key] = array("d")
    return values


def _group(groups: dict[Any, dict[str, array[float]]], key: Any) -> dict[str, array[float]]:
    group = groups.get(key)
    if group is None:
        group = groups[key] = {}
    return group


@dataclass(slots=True)
class Samples:
    """Durations in seconds (rounded to the microsecond, as in the rows), each
    group in the order the pairs were added."""

    phases: dict[str, array[float]] = field(default_factory=dict)
    by_transport: dict[str, dict[str, array[float]]] = field(default_factory=dict)
    by_depth: dict[int, dict[str, array[float]]] = field(default_factory=dict)
    by_link: dict[str, dict[str, array[float]]] = field(default_factory=dict)
    #: (command, agent) pairs added, moot ones aside: the SLA's pairs.
    pairs: int = 0
    #: Pairs that never halted their agent, RESUME excepted (it halts nothing).
    never_effective: int = 0
    #: Pairs refused because the agent was already there (sim.observe.is_moot).
    moot: int = 0
    #: Of ``pairs``: how many have no ``delivery`` (never delivered) and no
    #: ``total`` (never finished). Percentiles over all pairs count them as later
    #: than any limit.
    missing: dict[str, int] = field(default_factory=dict)

    def add(
        self,
        kind: str,
        via: str | None,
        depth: int,
        durations: Mapping[str, float],
        link: str | None = None,
        moot: bool = False,
    ) -> None:
        """One pair: its command kind, how it was delivered (None: never), its
        agent's depth, its phase durations, its agent's link group (None: the
        scenario has no ``[[network.links]]``, nothing is grouped by link) and
        whether it was moot (then it is only counted: its durations are no SLA
        samples, and a p99 over all pairs must not be diluted by them)."""
        if moot:  # no SLA sample: its phases would dilute the percentiles
            self.moot += 1
            return
        self.pairs += 1
        if "time_to_halt" not in durations and kind != "RESUME":
            self.never_effective += 1
        for phase in MISSING:
            if phase not in durations:
                self.missing[phase] = self.missing.get(phase, 0) + 1
        if not durations:
            return
        # Inlined lookups: a million-agent run adds a million pairs.
        phases = self.phases
        transport = _group(self.by_transport, via or "none")
        at_depth = None
        at_link = None if link is None else _group(self.by_link, link)
        for phase, value in durations.items():
            values = phases.get(phase)
            if values is None:
                values = phases[phase] = array("d")
            values.append(value)
            values = transport.get(phase)
            if values is None:
                values = transport[phase] = array("d")
            values.append(value)
            if phase in BY_DEPTH:
                if at_depth is None:
                    at_depth = _group(self.by_depth, depth)
                _values(at_depth, phase).append(value)
            if at_link is not None:
                _values(at_link, phase).append(value)

    @classmethod
    def of_rows(cls, rows: list[dict[str, Any]]) -> Samples:
        """The samples of rows as :class:`~sim.runner.RunResult` carries them."""
        samples = cls()
        for row in rows:
            phases = row["phases"]
            samples.add(
                row["kind"],
                row["via"],
                row["depth"],
                phases,
                row.get("link"),
                row.get(
                    "moot", "total" not in phases and is_moot(row["kind"], row.get("rejected"))
                ),
            )
        return samples
