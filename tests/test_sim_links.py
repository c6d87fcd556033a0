"""Per-agent network links ([[network.links]]) and the degrade fault: the file
format refuses what it cannot mean, each agent's messages go through its own
link (and only through it), a degrade fault changes a link for exactly its
window, and the results group the phases by link.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from string import Template

import pytest
from click.testing import CliRunner

from killswitch_cli.main import main
from sim.aggregate import Summary
from sim.runner import RunResult, build_hierarchy, check_selectors, run_once
from sim.scenario import Scenario, load_scenario, parse_scenario
from sim.schema import ScenarioError
from sim.swarm import draw_faults

#: 13 agents: agent-0; agent-1..3 under it; agent-3's subtree is agent-3 and
#: agent-10..12. Constant latency and signing, so that with control-plane
#: cascade over SSE an agent's delivery phase is exactly its link's latency.
TREE = """
[meta]
duration_s = 120

[topology]
kind = "balanced"
fanout = 3
depth = 2

[control_plane]
cascade = "control_plane"
signing_s = {dist = "constant", value = 0.0}

[transports]
listen = ["$listen"]

[network]
latency = {dist = "constant", value = 0.05}

[agents]
cleanup_s = {dist = "constant", value = 1}

$extra

[[operator]]
at_s = $click
command = "TERMINATE"
"""
REGION = {"agent-3", "agent-10", "agent-11", "agent-12"}
EU_LINK = """
[[network.links]]
name = "eu"
agents = ["subtree:agent-3"]
latency = {dist = "constant", value = 2.0}
"""


def scenario(extra: str, click: float = 30, listen: str = "sse") -> Scenario:
    text = Template(TREE).substitute(extra=extra, click=click, listen=listen)
    return parse_scenario(text, "links.toml")


def deliveries(result: RunResult) -> dict[str, float]:
    return {row["agent"]: row["phases"]["delivery"] for row in result.rows}


def delivered_in(result: RunResult, agents: Iterable[str]) -> set[float]:
    times = deliveries(result)
    return {times[a] for a in agents}


def error_for(extra: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        scenario(extra)
    return caught.value


# -- the file format ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "path", "message"),
    [
        ('[[network.links]]\nagents = ["all"]\nloss = 0.1', "network.links[0].name", "missing"),
        ('[[network.links]]\nname = "x"\nloss = 0.1', "network.links[0].agents", "missing"),
        (
            '[[network.links]]\nname = "x"\nagents = []\nloss = 0.1',
            "network.links[0]",
            "at least one agent selector",
        ),
        ('[[network.links]]\nname = "x"\nagents = ["all"]', "network.links[0]", "at least one of"),
        (
            '[[network.links]]\nname = "x"\nagents = ["all"]\nloss = 2',
            "network.links[0]",
            "loss is a probability",
        ),
        (
            '[[network.links]]\nname = "x"\nagents = ["all"]\nlatncy = 2',
            "network.links[0].latncy",
            "unknown key",
        ),
        (
            '[[network.links]]\nname = "default"\nagents = ["all"]\nloss = 0.1',
            "network",
            "'default' is taken",
        ),
        (EU_LINK + EU_LINK, "network", "'eu' is taken"),
        ('[[faults]]\nkind = "degrade"\nduration_s = 5', "faults[0]", "latency, loss or both"),
        ('[[faults]]\nkind = "degrade"\nloss = -0.1', "faults[0]", "loss is a probability"),
    ],
)
def test_broken_links_and_degrade_faults_are_refused_naming_the_key(
    extra: str, path: str, message: str
) -> None:
    err = error_for(extra)
    assert err.path == path
    assert message in err.message


def test_a_link_selector_that_matches_nothing_names_the_link() -> None:
    bad = scenario('[[network.links]]\nname = "x"\nagents = ["subtree:agent-99"]\nloss = 0.1')
    with pytest.raises(ScenarioError) as caught:
        check_selectors(bad, build_hierarchy(bad.topology, 1), "links.toml")
    assert caught.value.path == "network.links[0].agents"
    assert "matches nothing" in caught.value.message


def test_the_cli_reports_a_broken_link_as_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    extra = '[[network.links]]\nname = "x"\nagents = ["nobody"]\nloss = 0.1'
    path.write_text(Template(TREE).substitute(extra=extra, click=30, listen="sse"))
    result = CliRunner().invoke(main, ["sim", "run", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "network.links[0].agents" in result.output
    assert "Traceback" not in result.output


# -- the model ---------------------------------------------------------------------


def test_each_agent_uses_its_own_links_latency() -> None:
    result = run_once(scenario(EU_LINK), 1)
    times = deliveries(result)
    assert {times[a] for a in REGION} == {2.0}
    assert {t for a, t in times.items() if a not in REGION} == {0.05}
    assert {row["agent"]: row["link"] for row in result.rows} == {
        a: "eu" if a in REGION else "default" for a in times
    }


def test_a_link_leaves_the_keys_it_does_not_set_to_network() -> None:
    # Only loss is set: the latency stays [network]'s for the region as well.
    lossy = '[[network.links]]\nname = "vpn"\nagents = ["subtree:agent-3"]\nloss = 0.0\n'
    times = deliveries(run_once(scenario(lossy), 1))
    assert set(times.values()) == {0.05}


def test_a_lossy_link_loses_only_its_own_agents_polls() -> None:
    # Polling only, every poll of the region lost: the others terminate, it never hears.
    cut = '[[network.links]]\nname = "vpn"\nagents = ["subtree:agent-3"]\nloss = 1.0\n'
    result = run_once(scenario(cut, listen="poll"), 1)
    halted = {row["agent"] for row in result.rows if "time_to_halt" in row["phases"]}
    assert halted == {row["agent"] for row in result.rows} - REGION
    assert result.counters["poll_failed"] > 0


def test_an_agent_in_several_links_is_in_the_last_one() -> None:
    both = EU_LINK + (
        '[[network.links]]\nname = "edge"\nagents = ["agent-12"]\n'
        'latency = {dist = "constant", value = 0.5}\n'
    )
    result = run_once(scenario(both), 1)
    times = deliveries(result)
    assert times["agent-12"] == 0.5
    assert delivered_in(result, REGION - {"agent-12"}) == {2.0}
    assert next(r["link"] for r in result.rows if r["agent"] == "agent-12") == "edge"


def test_a_link_that_repeats_network_changes_no_random_draw() -> None:
    # Links draw from the run's one generator in the same order as [network]:
    # a link equal to the default link gives the very same trace.
    base = load_scenario("baseline")[0]
    same = parse_scenario(
        load_scenario("baseline")[1]
        + '\n[[network.links]]\nname = "same"\nagents = ["subtree:agent-1"]\n'
        'latency = {dist = "lognormal", median = 0.05, sigma = 0.5}\n',
        "same.toml",
    )
    for seed in (1, 2, 3):
        assert run_once(same, seed).digest == run_once(base, seed).digest


DEGRADE = """
[[faults]]
kind = "degrade"
at_s = $start
duration_s = $duration
agents = ["subtree:agent-3"]
latency = {dist = "constant", value = $latency}
"""


def degrade(start: float, duration: float, latency: float) -> str:
    return Template(DEGRADE).substitute(start=start, duration=duration, latency=latency)


@pytest.mark.parametrize(
    ("click", "region_delivery"),
    [(24.5, 0.05), (25.0, 3.0), (34.5, 3.0), (35.0, 0.05), (60.0, 0.05)],
)
def test_a_degrade_fault_changes_the_link_for_its_window_only(
    click: float, region_delivery: float
) -> None:
    result = run_once(scenario(degrade(25, 10, 3.0), click=click), 1)
    assert delivered_in(result, REGION) == {region_delivery}
    assert {t for a, t in deliveries(result).items() if a not in REGION} == {0.05}


def test_a_degrade_fault_keeps_the_agents_link_group_and_other_keys() -> None:
    # The region's link (latency 2 s, group "eu") takes the degraded latency for
    # the window and returns to 2 s, still reported as "eu", afterwards.
    during = run_once(scenario(EU_LINK + degrade(25, 10, 3.0), click=30), 1)
    after = run_once(scenario(EU_LINK + degrade(25, 10, 3.0), click=40), 1)
    assert delivered_in(during, REGION) == {3.0}
    assert delivered_in(after, REGION) == {2.0}
    assert {r["link"] for r in during.rows if r["agent"] in REGION} == {"eu"}


@pytest.mark.parametrize(("click", "region_delivery"), [(30.0, 1.0), (40.0, 3.0), (70.0, 0.05)])
def test_overlapping_degrade_faults_the_later_wins_while_it_lasts(
    click: float, region_delivery: float
) -> None:
    # A: 20-60 s at 3 s; B: 25-35 s at 1 s. B's end must restore A, not the link.
    faults = degrade(20, 40, 3.0) + degrade(25, 10, 1.0)
    result = run_once(scenario(faults, click=click), 1)
    assert delivered_in(result, REGION) == {region_delivery}


def test_a_degrade_fault_without_duration_lasts_to_the_end(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    result = run_once(scenario(degrade(25, 0, 3.0), click=100), 1, trace)
    assert delivered_in(result, REGION) == {3.0}
    text = trace.read_text()
    assert '"ev":"degrade","agents":4,"until":null' in text
    assert "degrade_over" not in text


def test_a_degraded_loss_applies_to_polls_and_acknowledgements() -> None:
    lossy = '[[faults]]\nkind = "degrade"\nat_s = 0\nagents = ["subtree:agent-3"]\nloss = 1.0\n'
    result = run_once(scenario(lossy, listen="poll"), 1)
    halted = {row["agent"] for row in result.rows if "time_to_halt" in row["phases"]}
    assert halted.isdisjoint(REGION)
    assert halted


def test_links_and_degrade_faults_are_deterministic() -> None:
    region = load_scenario("degraded_region")[0]
    assert run_once(region, 7).digest == run_once(region, 7).digest
    assert run_once(region, 7).digest != run_once(region, 8).digest


# -- results -------------------------------------------------------------------------


def test_results_group_every_phase_by_link() -> None:
    sc = scenario(EU_LINK)
    summary = Summary(sc.sla)
    for seed in (1, 2):
        summary.add(run_once(sc, seed))
    by_link = summary.to_json()["by_link"]
    assert set(by_link) == {"default", "eu"}
    assert by_link["eu"]["delivery"]["n"] == 2 * len(REGION)
    assert by_link["eu"]["delivery"]["max"] == 2.0
    assert by_link["default"]["delivery"]["n"] == 2 * (13 - len(REGION))
    assert by_link["eu"]["total"]["within_max"] == 2 * len(REGION)
    phases = summary.to_json()["phases"]
    for phase, d in phases.items():
        assert sum(by_link[link][phase]["n"] for link in by_link) == d["n"]


def test_without_links_nothing_is_grouped_by_link() -> None:
    sc = scenario("")
    result = run_once(sc, 1)
    assert all("link" not in row for row in result.rows)
    summary = Summary(sc.sla)
    summary.add(result)
    assert summary.to_json()["by_link"] == {}


def test_the_summary_table_prints_delivery_and_total_per_link(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["sim", "run", "degraded_region", "--out", str(tmp_path), "--no-report"]
    )
    assert result.exit_code == 0, result.output
    for label in ("default: delivery", "default: total", "eu-west: delivery", "eu-west: total"):
        assert label in result.output


def test_the_summary_table_prints_a_run_in_which_nothing_was_measured(tmp_path: Path) -> None:
    # Signing outlasts the run: no command is ever issued, no phase has a sample.
    path = tmp_path / "never.toml"
    path.write_text(
        '[meta]\nduration_s = 60\n[control_plane]\nsigning_s = {dist = "constant", value = 1e6}\n'
        '[[operator]]\nat_s = 10\ncommand = "TERMINATE"\n[expect]\nall_halted_within_s = 30\n'
    )
    result = CliRunner().invoke(main, ["sim", "run", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "FAIL all_halted_within_s" in result.output


# -- swarm -------------------------------------------------------------------------


def test_swarm_draws_valid_degrade_faults() -> None:
    base = load_scenario("baseline")[0]
    drawn = [f for seed in range(300) for f in draw_faults(seed, base) if f.kind == "degrade"]
    assert drawn
    assert all(f.latency is not None and f.loss is not None and 0 <= f.loss <= 0.5 for f in drawn)


# -- reports -----------------------------------------------------------------------


def test_the_report_shows_the_phases_by_link_and_checks_them_on_load(tmp_path: Path) -> None:
    from reports.load import ReportInputError, load_inputs
    from reports.render import render_reports

    out = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["sim", "run", "degraded_region", "--replications", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    section = html[html.index("By network link") :]
    assert "eu-west" in section[: section.index("</table>")]
    plot = out / "plots" / "degraded_region-cdf_time_to_halt_by_link.svg"
    assert "eu-west (n=12" in plot.read_text() and "default (n=27" in plot.read_text()
    assert "by link" in html[: html.index("By network link")]  # the plot is on the page
    report = json.loads((out / "report.json").read_text())
    (entry,) = report["inputs"]
    assert set(entry["by_link"]) == {"default", "eu-west"}

    data = json.loads((out / "results.json").read_text())
    data["summary"]["by_link"]["eu-west"]["delivery"]["n"] = "many"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    with pytest.raises(ReportInputError) as caught:
        load_inputs([broken])
    assert "summary.by_link.eu-west.delivery" in str(caught.value)

    # Results from before links existed have no by_link: still rendered, no section.
    del data["summary"]["by_link"]
    older = tmp_path / "older.json"
    older.write_text(json.dumps(data))
    render_reports([older], tmp_path / "older", ("html",))
    assert "By network link" not in (tmp_path / "older" / "report.html").read_text()
    assert not list((tmp_path / "older" / "plots").glob("*by_link*"))
