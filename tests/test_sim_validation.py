"""Scenario values that used to be accepted and then ran another experiment than
the one written (a fault that hits nobody, a command nobody reads, a latency
of zero, a threshold no run can meet): each is now refused before anything
runs, naming the file, the key path and what was expected."""

from __future__ import annotations

import pytest

from sim.rng import Dist
from sim.scenario import Scenario, load_scenario, parse_scenario
from sim.schema import ScenarioError

#: One click; everything else takes its default (a balanced tree of depth 2).
CLICK = """
[[operator]]
at_s = 10
command = "TERMINATE"
"""


def error_for(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "broken.toml")
    assert caught.value.source == "broken.toml"
    return caught.value


def loads(text: str) -> Scenario:
    return parse_scenario(text, "fine.toml")


# -- 4. distributions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dist", "path", "message"),
    [
        ("{}", "network.latency.dist", "missing; expected 'constant'"),
        ("{value = 2}", "network.latency.dist", "missing"),
        ('{dist = "constant"}', "network.latency.value", "a constant distribution needs value"),
        ('{dist = "uniform", low = 1}', "network.latency.high", "needs low and high"),
        ('{dist = "uniform", high = 1}', "network.latency.low", "needs low and high"),
        ('{dist = "exponential"}', "network.latency.mean", "needs mean"),
        ('{dist = "lognormal", median = 1}', "network.latency.sigma", "needs median and sigma"),
        ('{dist = "lognormal", sigma = 1}', "network.latency.median", "needs median and sigma"),
        # A parameter of another distribution, even a zero one, is refused.
        ('{dist = "uniform", low = 1, high = 2, mean = 0}', "network.latency", "not mean"),
        ('{dist = "constant", value = 1, sigma = 0}', "network.latency", "not sigma"),
    ],
)
def test_a_distribution_names_itself_and_all_its_parameters(
    dist: str, path: str, message: str
) -> None:
    err = error_for(f"[network]\nlatency = {dist}\n" + CLICK)
    assert err.path == path
    assert message in err.message


def test_an_empty_latency_with_set_is_refused() -> None:
    # The auditor's case: it meant zero latency.
    with pytest.raises(ScenarioError) as caught:
        load_scenario("baseline", ["network.latency={}"])
    assert caught.value.path == "network.latency.dist"


def test_a_nested_distribution_names_its_full_path() -> None:
    fault = '[[faults]]\nkind = "slow_cleanup"\ncleanup_s = {dist = "uniform", low = 3}\n'
    assert error_for(fault + CLICK).path == "faults[0].cleanup_s.high"


def test_every_distribution_written_in_full_loads() -> None:
    text = (
        "[network]\n"
        'latency = {dist = "lognormal", median = 0.05, sigma = 0.5}\n'
        'reorder_delay = {dist = "exponential", mean = 2}\n'
        'cascade_latency = {dist = "constant", value = 0}\n'
        '[agents]\ncleanup_s = {dist = "uniform", low = 1, high = 5}\n'
    )
    scenario = loads(text + CLICK)
    assert scenario.network.latency == Dist("lognormal", median=0.05, sigma=0.5)
    assert scenario.network.reorder_delay == Dist("exponential", mean=2.0)
    assert scenario.network.cascade_latency == Dist.const(0.0)
    assert scenario.agents.cleanup_s == Dist("uniform", low=1.0, high=5.0)
