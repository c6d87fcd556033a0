"""The agent state table (killswitch/states.py): every pair, totality, finality, fail closed."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from killswitch import TRANSITIONS, AgentState, Input, InvalidTransition, Reason, StateMachine
from killswitch.states import COMMAND_INPUTS, Refuse

S, I = AgentState, Input  # noqa: E741 - the table reads better with one-letter aliases

#: The lifecycle as issue 2 and the seed describe it, written out independently of
#: the implementation's table: a change to either shows up here.
EXPECTED: dict[tuple[AgentState, Input], AgentState | Refuse] = {
    (S.RUNNING, I.PAUSE): S.PAUSED,
    (S.RUNNING, I.RESUME): Refuse(Reason.NOT_PAUSED),
    (S.RUNNING, I.TERMINATE): S.TERMINATING,
    (S.RUNNING, I.WATCHDOG_EXPIRED): S.PAUSED,  # dead-man's switch halts the agent
    (S.PAUSED, I.PAUSE): S.PAUSED,  # idempotent
    (S.PAUSED, I.RESUME): S.RUNNING,
    (S.PAUSED, I.TERMINATE): S.TERMINATING,
    (S.PAUSED, I.WATCHDOG_EXPIRED): S.PAUSED,
    (S.TERMINATING, I.PAUSE): Refuse(Reason.ALREADY_TERMINATED),
    (S.TERMINATING, I.RESUME): Refuse(Reason.ALREADY_TERMINATED),
    (S.TERMINATING, I.TERMINATE): Refuse(Reason.ALREADY_TERMINATED),
    (S.TERMINATING, I.CLEANUP_DONE): S.TERMINATED,
    (S.TERMINATING, I.GRACE_EXPIRED): S.TERMINATED,
    (S.TERMINATING, I.WATCHDOG_EXPIRED): S.TERMINATING,
    (S.TERMINATED, I.PAUSE): Refuse(Reason.ALREADY_TERMINATED),
    (S.TERMINATED, I.RESUME): Refuse(Reason.ALREADY_TERMINATED),
    (S.TERMINATED, I.TERMINATE): Refuse(Reason.ALREADY_TERMINATED),
    (S.TERMINATED, I.WATCHDOG_EXPIRED): S.TERMINATED,
    (S.TERMINATED, I.CLEANUP_DONE): S.TERMINATED,
    (S.TERMINATED, I.GRACE_EXPIRED): S.TERMINATED,
}

ALL_PAIRS = list(itertools.product(AgentState, Input))
MISSING = [pair for pair in ALL_PAIRS if pair not in TRANSITIONS]


def _pair_id(pair: tuple[AgentState, Input]) -> str:
    return f"{pair[0].name}-{pair[1].name}"


def test_table_is_the_documented_lifecycle() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=_pair_id)
def test_every_state_input_pair_behaves_as_the_table_says(
    pair: tuple[AgentState, Input],
) -> None:
    state, event = pair
    machine = StateMachine(state)
    if pair not in TRANSITIONS:
        with pytest.raises(InvalidTransition):
            machine.fire(event)
        assert machine.state is AgentState.TERMINATED
        return
    entry = TRANSITIONS[pair]
    outcome = machine.fire(event)
    assert outcome == entry
    if isinstance(entry, Refuse):
        assert machine.state is state, "a refusal must leave the state unchanged"
    else:
        assert machine.state is entry


@pytest.mark.parametrize("state", list(AgentState), ids=lambda s: s.name)
@pytest.mark.parametrize("event", [i for i in Input if i in COMMAND_INPUTS], ids=lambda i: i.name)
def test_command_inputs_have_an_entry_in_every_state(state: AgentState, event: Input) -> None:
    assert (state, event) in TRANSITIONS
    StateMachine(state).fire(event)  # must not raise


def test_command_inputs_are_exactly_the_operator_commands() -> None:
    assert {Input.PAUSE, Input.RESUME, Input.TERMINATE} == COMMAND_INPUTS


@pytest.mark.parametrize("event", list(Input), ids=lambda i: i.name)
def test_terminated_is_final(event: Input) -> None:
    machine = StateMachine(AgentState.TERMINATED)
    with contextlib.suppress(InvalidTransition):  # a missing pair also ends in TERMINATED
        machine.fire(event)
    assert machine.state is AgentState.TERMINATED


def test_no_table_entry_leaves_terminated() -> None:
    leaving = [
        (event, target)
        for (state, event), target in TRANSITIONS.items()
        if state is AgentState.TERMINATED
        and target is not AgentState.TERMINATED
        and not isinstance(target, Refuse)
    ]
    assert leaving == []


def test_some_pairs_are_missing_so_fail_closed_is_exercised() -> None:
    assert (AgentState.RUNNING, Input.CLEANUP_DONE) in MISSING
    assert (AgentState.PAUSED, Input.GRACE_EXPIRED) in MISSING


@pytest.mark.parametrize("pair", MISSING, ids=_pair_id)
@pytest.mark.parametrize("method", ["fire", "lookup"])
def test_missing_pair_raises_naming_state_and_input_and_fails_closed(
    pair: tuple[AgentState, Input], method: str
) -> None:
    state, event = pair
    machine = StateMachine(state)
    with pytest.raises(InvalidTransition) as caught:
        getattr(machine, method)(event)
    assert caught.value.state is state
    assert caught.value.event is event
    assert state.name in str(caught.value)
    assert event.name in str(caught.value)
    assert machine.state is AgentState.TERMINATED


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(AgentState)), st.lists(st.sampled_from(list(Input)), max_size=30))
def test_any_input_sequence_follows_the_table_and_never_leaves_terminated(
    start: AgentState, events: list[Input]
) -> None:
    machine = StateMachine(start)
    terminated = start is AgentState.TERMINATED
    for event in events:
        before = machine.state
        entry = TRANSITIONS.get((before, event))
        try:
            machine.fire(event)
        except InvalidTransition:
            assert entry is None
            assert machine.state is AgentState.TERMINATED
        else:
            expected = before if isinstance(entry, Refuse) else entry
            assert machine.state is expected
        terminated = terminated or machine.state is AgentState.TERMINATED
        if terminated:
            assert machine.state is AgentState.TERMINATED
