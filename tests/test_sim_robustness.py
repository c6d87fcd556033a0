"""Bad scenario values end in a clear error, never in a traceback or a run that
does not end: every scenario the file format accepts runs to its end.

Hypothesis changes a few keys of a small scenario (and adds faults and links)
to values chosen to hurt: zero, negative, tiny, huge, inf, nan, parameters a
distribution does not take. The command line's sequence is replayed (load,
check the selectors, run): either a ScenarioError names the problem, or the
run finishes. Each failure found this way is now a named case in
tests/test_sim_schema.py; this test looks for the next one.
"""

from __future__ import annotations

import math
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.runner import build_hierarchy, check_selectors, run_once
from sim.scenario import FaultKind, Scenario
from sim.schema import ScenarioError, load

BASE: dict[str, Any] = {
    "meta": {"duration_s": 60},
    "topology": {"kind": "balanced", "fanout": 2, "depth": 1},
    "transports": {"listen": ["sse", "poll", "file"]},
    "operator": [{"at_s": 10, "command": "TERMINATE"}, {"at_s": 12, "command": "PAUSE"}],
}

# Pools of hurtful values, by what a key means. Durations stay short of what
# makes an accepted run slow (huge values are refused by the event budget,
# tested in tests/test_sim_schema.py).
TIMES = [-5.0, 0.0, 1e-9, 0.05, 3.0, 45.0, 1e9, math.inf, math.nan]
DURATIONS = [-5.0, 0.0, 1.0, 30.0, 120.0, math.inf, math.nan]
RATES = [-1.0, 0.0, 0.5, 10.0, 1e9]
PROBABILITIES = [-0.5, 0.0, 0.3, 1.0, 2.0]
INTS = [-1, 0, 1, 3, 10**12]
DISTS: list[Any] = [
    {"dist": "constant", "value": 0},
    {"dist": "constant", "value": 1e9},
    {"dist": "constant", "value": -1},
    {"dist": "uniform", "low": 0, "high": 1e6},
    {"dist": "uniform", "low": 5, "high": 1},
    {"dist": "exponential", "mean": 1e-9},
    {"dist": "lognormal", "median": 1e-9, "sigma": 20},
    {"dist": "lognormal", "median": 5, "sigma": 1e6},
    {"dist": "uniform", "mean": 3},
    "fast",
]
LISTEN = [
    ["sse"],
    ["poll"],
    ["file"],
    ["websocket", "file"],
    ["sse", "websocket", "poll", "file"],
    [],
    ["sse", "sse"],
]
SSE_TIMES = ("retry_s", "backoff_max_s", "heartbeat_s", "read_timeout_s")
WS_TIMES = ("ping_s", "pong_timeout_s", "retry_s", "backoff_max_s")
AGENT_TIMES = ("clock_skew_leeway_s", "max_lifetime_s", "max_grace_s", "watchdog_s")

#: (table, key) -> the values tried there.
KEYS: dict[tuple[str, str], list[Any]] = {
    ("meta", "duration_s"): DURATIONS,
    ("topology", "fanout"): [0, 1, 3],
    ("topology", "depth"): [-1, 0, 2],
    ("control_plane", "mode"): ["ack", "seed", "other"],
    ("control_plane", "cascade"): ["agent", "control_plane", "both"],
    ("control_plane", "profile"): ["v1", "seed"],
    ("control_plane", "algorithm"): ["Ed25519", "ES256", "RS256"],
    ("control_plane", "signing_s"): DISTS,
    ("control_plane", "durable_pending"): [True, False, 1],
    ("transports", "listen"): LISTEN,
    **{("transports.sse", k): TIMES for k in SSE_TIMES},
    ("transports.sse", "jitter"): RATES,
    ("transports.sse", "drops_per_hour"): RATES,
    ("transports.sse", "resume"): [True, False],
    ("transports.sse", "connect_s"): DISTS,
    **{("transports.websocket", k): TIMES for k in WS_TIMES},
    ("transports.websocket", "drops_per_hour"): RATES,
    **{("transports.poll", k): TIMES for k in ("interval_s", "jitter_s", "timeout_s")},
    ("transports.file", "check_s"): TIMES,
    **{("network", k): DISTS for k in ("latency", "reorder_delay", "cascade_latency")},
    **{("network", k): PROBABILITIES for k in ("loss", "duplicate", "reorder")},
    ("agents", "store"): ["memory", "durable"],
    ("agents", "verify_s"): DISTS,
    ("agents", "cleanup_s"): DISTS,
    ("agents", "halt_check"): ["any", "paused_only"],
    ("agents", "actions_per_s"): RATES,
    ("agents", "action_cost"): RATES,
    **{("agents", k): TIMES for k in AGENT_TIMES},
    ("agents", "rejoin"): [True, False],
    ("operator[0]", "at_s"): TIMES,
    ("operator[0]", "grace_s"): INTS,
    ("operator[0]", "lifetime_s"): [-5.0, 0.0, 300.0, 1e9],
    ("operator[0]", "target"): ["root", "agent-1", "nobody"],
    ("operator[0]", "via"): ["network", "file"],
    ("operator[1]", "command"): ["PAUSE", "RESUME", "TERMINATE"],
    ("operator[1]", "at_s"): TIMES,
}

FAULT_KEYS: dict[str, list[Any]] = {
    "at_s": TIMES,
    "duration_s": TIMES,
    "agents": [["all"], ["root"], ["leaves"], ["depth:1"], ["nobody"], []],
    "transport": ["sse", "websocket", "poll", "file"],
    "skew_s": [-1e12, -45.0, 0.0, 400.0, 1e12],
    "drift_ppm": [-1e9, 0.0, 1e9],
    "cleanup_s": DISTS,
    "hang": [True, False],
    "distribute_s": DISTS,
    "revoke_old_after_s": [-1.0, 0.0, 5.0],
    "field_name": ["cascade", "signature", "command_id", "grace_period_seconds", "nonexistent"],
    "field_value": [False, "x", 3600, 10**30],
    "rate_per_s": RATES,
    "latency": DISTS,
    "loss": PROBABILITIES,
}
LINK_KEYS: dict[str, list[Any]] = {
    "agents": [["all"], ["leaves"], ["nobody"], []],
    "latency": DISTS,
    "loss": PROBABILITIES,
    "duplicate": PROBABILITIES,
    "reorder": PROBABILITIES,
    "reorder_delay": DISTS,
}


def _some(pool: dict[Any, list[Any]], most: int) -> st.SearchStrategy[list[tuple[Any, Any]]]:
    """Up to ``most`` (key, value) pairs, each value from its key's pool."""
    pair = st.sampled_from(sorted(pool, key=str)).flatmap(
        lambda key: st.tuples(st.just(key), st.sampled_from(pool[key]))
    )
    return st.lists(pair, max_size=most)


def _base() -> dict[str, Any]:
    return {
        "meta": dict(BASE["meta"]),
        "topology": dict(BASE["topology"]),
        "transports": dict(BASE["transports"]),
        "operator": [dict(op) for op in BASE["operator"]],
    }


def _put(data: dict[str, Any], table: str, key: str, value: Any) -> dict[str, Any]:
    """Set ``table.key`` (``operator[i]`` names a click) in ``data``."""
    if table.startswith("operator["):
        target = data["operator"][int(table[9])]
    else:
        target = data
        for part in table.split("."):
            target = target.setdefault(part, {})
    target[key] = value
    return data


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    data = _base()
    for (table, key), value in draw(_some(KEYS, 4)):
        _put(data, table, key, value)
    kinds = st.sampled_from(FaultKind.__args__)  # type: ignore[attr-defined]
    for kind in draw(st.lists(kinds, max_size=2)):
        data.setdefault("faults", []).append({"kind": kind, **dict(draw(_some(FAULT_KEYS, 3)))})
    if draw(st.booleans()):
        link = {"name": "region", "agents": ["leaves"], **dict(draw(_some(LINK_KEYS, 2)))}
        data.setdefault("network", {})["links"] = [link]
    return data


#: A run here takes milliseconds; one that has not ended after this long is
#: looping (e.g. a zero interval rescheduling itself at one instant). Not a
#: speed limit: a hang detector, so that the test fails instead of hanging.
HANG_S = 20


class Hang(Exception):
    pass


@contextmanager
def _ends_within(seconds: float) -> Iterator[None]:
    def hung(_signum: int, _frame: object) -> None:
        raise Hang(f"the run did not end within {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios(), st.integers(min_value=0, max_value=2**32))
def test_an_accepted_scenario_runs_to_its_end(data: dict[str, Any], seed: int) -> None:
    _accepted_runs_end(data, seed)


def _accepted_runs_end(data: dict[str, Any], seed: int = 1) -> None:
    """The command line's sequence: refused with a ScenarioError, or run to the end."""
    try:
        scenario = load(Scenario, data, "fuzz.toml")
        check_selectors(scenario, build_hierarchy(scenario.topology, seed), "fuzz.toml")
    except ScenarioError as exc:
        assert str(exc).startswith("fuzz.toml")
        return
    with _ends_within(HANG_S):
        result = run_once(scenario, seed)
    assert result.virtual_s == scenario.meta.duration_s


# Every hurtful value of every key, one at a time (the property above mixes them).
@pytest.mark.parametrize(("table", "key"), sorted(KEYS))
def test_every_hurtful_value_of_every_key_is_refused_or_runs(table: str, key: str) -> None:
    for value in KEYS[(table, key)]:
        _accepted_runs_end(_put(_base(), table, key, value))


@pytest.mark.parametrize("kind", FaultKind.__args__)  # type: ignore[attr-defined]
def test_every_hurtful_value_of_every_fault_key_is_refused_or_runs(kind: str) -> None:
    for key, values in FAULT_KEYS.items():
        for value in values:
            data = _base()
            data["faults"] = [{"kind": kind, "duration_s": 20, key: value}]
            _accepted_runs_end(data)
