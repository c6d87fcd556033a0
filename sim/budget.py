"""How much work a scenario asks for, checked before it runs.

A scenario can be valid and still take hours: a poll every microsecond, a
million actions a second, a flood of forgeries (each one a real signature
check). Such a run is nearly always a typo, and the harness must not look
hung, so :func:`check_budget` estimates the recurring events a run will
schedule and refuses, naming the key that costs the most, anything over the
scenario's ``meta.max_events`` (10^8 by default: about five minutes of
simulation on the bench machine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.scenario import Scenario

#: Forged commands a run may receive: each is a real signature check (~60 us).
MAX_FORGERIES = 1_000_000


def _recurring(scenario: Scenario) -> list[tuple[str, float, float]]:
    """(key, its value, events it makes per agent over the run), for every
    source of events that repeats for as long as the run lasts."""
    end = scenario.meta.duration_s
    after_click = end - min(command.at_s for command in scenario.operator)
    transports = scenario.transports
    agents = scenario.agents
    sources = [("agents.actions_per_s", agents.actions_per_s, agents.actions_per_s * after_click)]
    listen = set(transports.listen)
    if "poll" in listen:
        interval = transports.poll.interval_s
        sources.append(("transports.poll.interval_s", interval, end / interval))
    if "file" in listen:
        check = transports.file.check_s
        sources.append(("transports.file.check_s", check, end / check))
    outages = {f.transport for f in scenario.faults if f.kind == "transport_outage"}
    for kind in ("sse", "websocket"):
        if kind not in listen:
            continue
        stream = transports.sse if kind == "sse" else transports.websocket
        drops = stream.drops_per_hour
        sources.append((f"transports.{kind}.drops_per_hour", drops, drops / 3600 * end))
        if kind in outages:
            # An endpoint that refuses at once is retried after the backoff
            # (at least the smaller of retry_s and backoff_max_s), again and again.
            gap = min(stream.retry_s, stream.backoff_max_s)
            sources.append((f"transports.{kind}.retry_s", stream.retry_s, end / gap))
    if agents.watchdog_s > 0:
        sources.append(("agents.watchdog_s", agents.watchdog_s, 4 * end / agents.watchdog_s))
    return sources


def check_budget(scenario: Scenario) -> None:
    """Raise ValueError, naming the costliest key, for a run over its budget
    (``meta.max_events``, which a scenario that means it may raise)."""
    size = scenario.topology.size()
    sources = _recurring(scenario)
    total = size * sum(per_agent for _key, _value, per_agent in sources)
    budget = scenario.meta.max_events
    if total > budget:
        key, value, _per_agent = max(sources, key=lambda source: source[2])
        raise ValueError(
            f"{key} = {value:g}: the run would schedule about {total:.3g} events"
            f" ({size:,} agents over {scenario.meta.duration_s:g} s), more than"
            f" meta.max_events = {budget:.3g}"
        )
    # The cap is on the run, not on each fault: every forgery costs the same
    # signature check whichever fault sent it, so two floods of 900,000 are as
    # slow as one of 1.8 million.
    floods = []
    for i, fault in enumerate(scenario.faults):
        if fault.kind != "forged_flood":
            continue
        lasts = min(fault.duration_s, max(0.0, scenario.meta.duration_s - fault.at_s))
        if fault.rate_per_s * lasts > 0:
            floods.append((f"faults[{i}].rate_per_s", fault.rate_per_s, lasts))
    forgeries = sum(rate * lasts for _key, rate, lasts in floods)
    if forgeries > MAX_FORGERIES:
        keys = ", ".join(key for key, _rate, _lasts in floods)
        each = " + ".join(f"{rate:g}/s for {lasts:g} s" for _key, rate, lasts in floods)
        together = "" if len(floods) == 1 else f" (forged_flood faults together: {forgeries:.3g})"
        raise ValueError(
            f"{keys}: {each} is more than {MAX_FORGERIES:,} forged commands{together},"
            " each a real signature check"
        )
