"""The reference Listener: decision order, reasons, time rules, ordering, grace, watchdog."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import pytest
from core_support import (
    ASSET,
    INSTANCE,
    T0,
    make_command,
    make_listener,
    signing_key,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from killswitch import (
    WILDCARD,
    Accepted,
    AgentState,
    Algorithm,
    Command,
    CommandType,
    Decision,
    Input,
    InvalidTransition,
    Listener,
    MemoryStore,
    Policy,
    Reason,
    Rejected,
    TrustStore,
    from_posix,
    get_profile,
)

PAUSE, RESUME, TERMINATE = CommandType.PAUSE, CommandType.RESUME, CommandType.TERMINATE
KEY = signing_key()
V1 = get_profile("v1")
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def wire(command: Command) -> bytes:
    return V1.encode(command, KEY)


def deliver(listener: Listener, command: Command, now: float = T0) -> Decision:
    return listener.receive(wire(command), now=now)


def reason_of(decision: Decision) -> Reason | None:
    return decision.reason if isinstance(decision, Rejected) else None


def accepted(decision: Decision) -> Accepted:
    assert isinstance(decision, Accepted), decision
    return decision


# -- malformed input -------------------------------------------------------------------


@PROPERTY
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_are_malformed_and_never_raise(raw: bytes) -> None:
    listener = make_listener()
    decision = listener.receive(raw, now=T0)
    assert reason_of(decision) is Reason.MALFORMED
    assert listener.state is AgentState.RUNNING


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@PROPERTY
@given(st.sampled_from(sorted(V1.to_dict(wire(make_command())))), _json_values)
def test_any_value_in_any_field_never_raises_and_never_acts(field: str, value: Any) -> None:
    original = V1.to_dict(wire(make_command()))
    obj = {**original, field: value}
    try:
        raw = V1.from_dict(obj)  # canonical form, so only the value itself is wrong
    except UnicodeEncodeError:  # a lone surrogate has no canonical form
        raw = json.dumps(obj).encode()
    listener = make_listener()
    decision = listener.receive(raw, now=T0)
    if obj != original:
        assert isinstance(decision, Rejected)
        assert listener.state is AgentState.RUNNING


def test_oversized_message_is_malformed_unread() -> None:
    listener = make_listener(policy=Policy(max_message_bytes=100))
    decision = listener.receive(wire(make_command()), now=T0)
    assert reason_of(decision) is Reason.MALFORMED
    assert "100" in decision.detail  # type: ignore[union-attr]


def test_nothing_is_accepted_without_a_trust_anchor() -> None:
    for profile, algorithm in [
        ("v1", Algorithm.ED25519),
        ("v1", Algorithm.ES256),
        ("v1", Algorithm.RS256),
        ("seed", Algorithm.RS256),
        ("seed", Algorithm.ES256),
    ]:
        key = signing_key(algorithm)
        listener = Listener(INSTANCE, ASSET, TrustStore(), profile=profile)
        seq = 1 if profile == "v1" else None
        raw = get_profile(profile).encode(make_command(seq=seq), key)
        assert reason_of(listener.receive(raw, now=T0)) is Reason.UNKNOWN_KEY, profile
        assert listener.state is AgentState.RUNNING


# -- decision order --------------------------------------------------------------------


def _relabelled(command: Command, key_alg: Algorithm, key_id: str, claimed: str) -> bytes:
    other = signing_key(key_alg, key_id)
    return V1.from_dict({**V1.to_dict(V1.encode(command, other)), "signature_algorithm": claimed})


def test_decision_order_first_fault_wins() -> None:
    """A delivery with several faults is rejected for the first check it fails:
    structure, algorithm, key, signature, target, time, replay, ordering, state."""
    wrong = make_command(target="agent-2", issued=T0 - 10_000, lifetime=10_000)
    stranger = signing_key(key_id="stranger")
    forged = V1.to_dict(wire(wrong))
    forged["reason"] = "forged"
    cases = [
        (wire(wrong)[:-1], Reason.MALFORMED),
        (_relabelled(wrong, Algorithm.ED25519, "stranger", "HS256"), Reason.UNSUPPORTED_ALGORITHM),
        (V1.encode(wrong, stranger), Reason.UNKNOWN_KEY),
        (V1.from_dict(forged), Reason.BAD_SIGNATURE),
        (wire(wrong), Reason.NOT_FOR_THIS_AGENT),  # also expired and too long
        (wire(replace(wrong, target_instance_id=INSTANCE)), Reason.LIFETIME_TOO_LONG),
    ]
    for raw, expected in cases:
        assert reason_of(make_listener().receive(raw, now=T0)) is expected


def test_time_is_checked_before_replay_and_replay_before_ordering() -> None:
    listener = make_listener()
    first, second = make_command(PAUSE, seq=1), make_command(PAUSE, seq=2)
    accepted(deliver(listener, first))
    accepted(deliver(listener, second))
    assert reason_of(deliver(listener, first, T0 + 1)) is Reason.REPLAY  # also stale
    assert reason_of(deliver(listener, first, T0 + 330)) is Reason.EXPIRED  # also a replay


def test_ordering_is_checked_before_the_state_table() -> None:
    listener = make_listener()
    accepted(deliver(listener, make_command(TERMINATE, seq=5)))
    assert reason_of(deliver(listener, make_command(PAUSE, seq=3))) is Reason.STALE
    assert reason_of(deliver(listener, make_command(PAUSE, seq=6))) is Reason.ALREADY_TERMINATED


# -- targeting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "asset", "policy", "expected"),
    [
        (INSTANCE, ASSET, Policy(), None),
        (INSTANCE, None, Policy(), None),
        ("agent-2", ASSET, Policy(), Reason.NOT_FOR_THIS_AGENT),
        (INSTANCE, "asset-2", Policy(), Reason.NOT_FOR_THIS_AGENT),
        (WILDCARD, ASSET, Policy(), Reason.NOT_FOR_THIS_AGENT),
        (WILDCARD, ASSET, Policy(allow_wildcard=True), None),
        (WILDCARD, "asset-2", Policy(allow_wildcard=True), Reason.NOT_FOR_THIS_AGENT),
    ],
    ids=["exact", "no-asset", "other-instance", "other-asset", "wildcard-refused",
         "wildcard-allowed", "wildcard-other-asset"],
)  # fmt: skip
def test_targeting(target: str, asset: str | None, policy: Policy, expected: Reason | None) -> None:
    listener = make_listener(policy=policy)
    decision = deliver(listener, make_command(target=target, asset=asset))
    assert reason_of(decision) is expected
    assert listener.state is (AgentState.RUNNING if expected else AgentState.PAUSED)


def test_signature_is_checked_before_the_target() -> None:
    """A forged command for another agent is a bad signature, not just 'not for me'."""
    obj = V1.to_dict(wire(make_command(target="agent-2")))
    obj["reason"] = "forged"
    assert reason_of(make_listener().receive(V1.from_dict(obj), now=T0)) is Reason.BAD_SIGNATURE


# -- time ------------------------------------------------------------------------------


def below(x: float) -> float:
    return math.nextafter(x, -math.inf)


@pytest.mark.parametrize("skew", [0.0, 30.0, 7.5])
def test_validity_window_boundaries(skew: float) -> None:
    """Valid exactly when issued_at - skew <= now < expires_at + skew."""
    command = make_command(issued=T0, lifetime=300)
    policy = Policy(clock_skew_s=skew)
    cases = [
        (below(T0 - skew), Reason.NOT_YET_VALID),
        (T0 - skew, None),
        (T0 + 150, None),
        (below(T0 + 300 + skew), None),
        (T0 + 300 + skew, Reason.EXPIRED),
        (T0 + 10_000, Reason.EXPIRED),
    ]
    for now, expected in cases:
        assert reason_of(deliver(make_listener(policy=policy), command, now)) is expected, now


@pytest.mark.parametrize("max_lifetime", [300.0, 60.0])
def test_lifetime_boundaries(max_lifetime: float) -> None:
    policy = Policy(max_lifetime_s=max_lifetime)
    at_max = make_command(lifetime=max_lifetime)
    too_long = make_command(lifetime=max_lifetime + 1)
    barely_too_long = make_command(lifetime=max_lifetime + 0.001)
    assert reason_of(deliver(make_listener(policy=policy), at_max)) is None
    assert reason_of(deliver(make_listener(policy=policy), too_long)) is Reason.LIFETIME_TOO_LONG
    assert (
        reason_of(deliver(make_listener(policy=policy), barely_too_long))
        is Reason.LIFETIME_TOO_LONG
    )


def test_expiry_before_issue_is_malformed() -> None:
    command = make_command()
    backwards = replace(command, expires_at=command.issued_at)
    assert reason_of(deliver(make_listener(), backwards)) is Reason.MALFORMED


# -- replay ----------------------------------------------------------------------------


def test_replay_of_the_same_bytes() -> None:
    listener = make_listener()
    raw = wire(make_command())
    accepted(listener.receive(raw, now=T0))
    assert reason_of(listener.receive(raw, now=T0 + 1)) is Reason.REPLAY


def test_replay_of_the_same_nonce_under_a_new_id() -> None:
    listener = make_listener()
    accepted(deliver(listener, make_command(seq=1, nonce="n-1", command_id="c-1")))
    # Otherwise acceptable (newer sequence), so REPLAY is the only thing wrong with it.
    again = make_command(seq=2, nonce="n-1", command_id="c-2")
    assert reason_of(deliver(listener, again, T0 + 1)) is Reason.REPLAY


def test_replay_of_the_same_id_under_a_new_nonce() -> None:
    listener = make_listener()
    accepted(deliver(listener, make_command(seq=1, nonce="n-1", command_id="c-1")))
    again = make_command(seq=2, nonce="n-2", command_id="c-1")
    assert reason_of(deliver(listener, again, T0 + 1)) is Reason.REPLAY


def test_a_resume_refused_as_not_paused_still_orders_later_arrivals() -> None:
    """RESUME(5) while RUNNING changes nothing but is the operator's latest word:
    the older PAUSE(4) arriving after it is STALE, so both delivery orders end
    RUNNING, and the same RESUME again is a REPLAY."""
    listener = make_listener()
    resume = make_command(RESUME, seq=5)
    assert reason_of(deliver(listener, resume)) is Reason.NOT_PAUSED
    assert reason_of(deliver(listener, make_command(PAUSE, seq=4))) is Reason.STALE
    assert reason_of(deliver(listener, resume, T0 + 1)) is Reason.REPLAY
    assert listener.state is AgentState.RUNNING
    in_order = make_listener()
    accepted(deliver(in_order, make_command(PAUSE, seq=4)))
    accepted(deliver(in_order, resume))
    assert in_order.state is listener.state


def test_a_command_refused_as_already_terminated_is_not_remembered() -> None:
    listener = make_listener()
    accepted(deliver(listener, make_command(TERMINATE, seq=1)))
    pause = make_command(PAUSE, seq=2)
    assert reason_of(deliver(listener, pause)) is Reason.ALREADY_TERMINATED
    assert reason_of(deliver(listener, pause)) is Reason.ALREADY_TERMINATED


# -- ordering --------------------------------------------------------------------------


def test_stale_resume_does_not_unpause() -> None:
    listener = make_listener()
    accepted(deliver(listener, make_command(PAUSE, seq=2)))
    assert reason_of(deliver(listener, make_command(RESUME, seq=1))) is Reason.STALE
    assert reason_of(deliver(listener, make_command(RESUME, seq=2, nonce="x"))) is Reason.STALE
    assert listener.state is AgentState.PAUSED
    accepted(deliver(listener, make_command(RESUME, seq=3)))
    assert listener.state is AgentState.RUNNING


def test_stale_pause_does_not_pause() -> None:
    listener = make_listener()
    accepted(deliver(listener, make_command(PAUSE, seq=5)))
    accepted(deliver(listener, make_command(RESUME, seq=6)))
    assert reason_of(deliver(listener, make_command(PAUSE, seq=4))) is Reason.STALE
    assert listener.state is AgentState.RUNNING


def test_terminate_is_never_stale() -> None:
    listener = make_listener()
    accepted(deliver(listener, make_command(PAUSE, seq=9)))
    effect = accepted(deliver(listener, make_command(TERMINATE, seq=1))).effect
    assert effect.state is AgentState.TERMINATING


def test_seed_profile_orders_by_issued_at() -> None:
    key = signing_key(Algorithm.RS256)
    seed = get_profile("seed")
    listener = make_listener(key, profile="seed")
    pause = make_command(PAUSE, seq=None, issued=T0 + 10)
    resume = make_command(RESUME, seq=None, issued=T0)
    accepted(listener.receive(seed.encode(pause, key), now=T0 + 10))
    assert reason_of(listener.receive(seed.encode(resume, key), now=T0 + 11)) is Reason.STALE
    assert listener.state is AgentState.PAUSED


# -- state-table refusals --------------------------------------------------------------


def test_already_terminated_and_not_paused() -> None:
    listener = make_listener()
    assert reason_of(deliver(listener, make_command(RESUME, seq=1))) is Reason.NOT_PAUSED
    accepted(deliver(listener, make_command(TERMINATE, seq=2)))
    for kind in (PAUSE, RESUME, TERMINATE):
        decision = deliver(listener, make_command(kind, seq=3, nonce=f"n-{kind.value}"))
        assert reason_of(decision) is Reason.ALREADY_TERMINATED, kind
    assert listener.state is AgentState.TERMINATING
    listener.tick(T0 + 3600)
    assert listener.state is AgentState.TERMINATED
    late = make_command(PAUSE, seq=4, issued=T0 + 3600)
    assert reason_of(deliver(listener, late, T0 + 3600)) is Reason.ALREADY_TERMINATED


def test_pause_twice_is_accepted_and_idempotent() -> None:
    listener = make_listener()
    accepted(deliver(listener, make_command(PAUSE, seq=1)))
    effect = accepted(deliver(listener, make_command(PAUSE, seq=2))).effect
    assert effect.previous_state is AgentState.PAUSED
    assert not effect.changed


# -- grace period ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "granted"), [(600, 60.0), (61, 60.0), (60, 60.0), (10, 10.0), (0, 0.0)]
)
def test_grace_period_is_capped(asked: int, granted: float) -> None:
    listener = make_listener()
    now = T0 + 2.5
    effect = accepted(deliver(listener, make_command(TERMINATE, grace=asked), now)).effect
    assert effect.hard_kill_at == now + granted
    assert listener.hard_kill_at == now + granted


def test_grace_cap_follows_the_policy() -> None:
    listener = make_listener(policy=Policy(max_grace_s=5))
    effect = accepted(deliver(listener, make_command(TERMINATE, grace=30))).effect
    assert effect.hard_kill_at == T0 + 5


def test_grace_expiry_terminates() -> None:
    listener = make_listener()
    accepted(deliver(listener, make_command(TERMINATE, grace=10)))
    assert listener.tick(below(T0 + 10)) == []
    assert listener.state is AgentState.TERMINATING
    [effect] = listener.tick(T0 + 10)
    assert effect.cause is Input.GRACE_EXPIRED
    assert (effect.previous_state, effect.state) == (AgentState.TERMINATING, AgentState.TERMINATED)
    assert listener.tick(T0 + 11) == []


def test_cleanup_done_terminates_before_the_deadline() -> None:
    listener = make_listener()
    accepted(deliver(listener, make_command(TERMINATE, grace=10)))
    effect = listener.cleanup_done(T0 + 1)
    assert effect.cause is Input.CLEANUP_DONE
    assert listener.state is AgentState.TERMINATED
    assert listener.tick(T0 + 20) == []


@pytest.mark.parametrize("setup", ["running", "paused"])
def test_cleanup_done_without_terminate_fails_closed(setup: str) -> None:
    listener = make_listener()
    if setup == "paused":
        accepted(deliver(listener, make_command(PAUSE)))
    with pytest.raises(InvalidTransition) as caught:
        listener.cleanup_done(T0)
    assert caught.value.event is Input.CLEANUP_DONE
    assert listener.state is AgentState.TERMINATED
    assert listener.store.load().state is AgentState.TERMINATED


# -- watchdog --------------------------------------------------------------------------


def test_watchdog_is_off_by_default() -> None:
    listener = make_listener()
    assert listener.tick(T0 + 10**7) == []
    assert listener.state is AgentState.RUNNING


def test_watchdog_needs_a_start_time() -> None:
    with pytest.raises(ValueError, match="started_at"):
        make_listener(policy=Policy(watchdog_timeout_s=10))


def test_watchdog_halts_after_the_timeout() -> None:
    listener = make_listener(policy=Policy(watchdog_timeout_s=100), started_at=T0)
    assert listener.tick(below(T0 + 100)) == []
    assert listener.state is AgentState.RUNNING
    [effect] = listener.tick(T0 + 100)
    assert effect.cause is Input.WATCHDOG_EXPIRED
    assert listener.state is AgentState.PAUSED
    assert listener.tick(T0 + 500) == []


@pytest.mark.parametrize("how", ["verified-command", "heard"])
def test_watchdog_is_reset_by_hearing_the_control_plane(how: str) -> None:
    listener = make_listener(policy=Policy(watchdog_timeout_s=100), started_at=T0)
    if how == "heard":
        listener.heard(T0 + 50)
    else:
        # Authentic but refused by the state table: it still proves the link is alive.
        assert reason_of(deliver(listener, make_command(RESUME), T0 + 50)) is Reason.NOT_PAUSED
    assert listener.tick(T0 + 100) == []
    assert listener.tick(below(T0 + 150)) == []
    assert [e.cause for e in listener.tick(T0 + 150)] == [Input.WATCHDOG_EXPIRED]


def test_watchdog_is_not_reset_by_a_replayed_or_expired_recording() -> None:
    """An attacker who recorded an authentic command cannot keep a cut-off agent alive."""
    listener = make_listener(policy=Policy(watchdog_timeout_s=100), started_at=T0)
    pause = make_command(PAUSE, seq=1)
    accepted(deliver(listener, pause, T0 + 10))
    accepted(deliver(listener, make_command(RESUME, seq=2), T0 + 20))
    assert reason_of(deliver(listener, pause, T0 + 90)) is Reason.REPLAY
    late = make_command(RESUME, seq=3, issued=T0 - 400, lifetime=60)
    assert reason_of(deliver(listener, late, T0 + 95)) is Reason.EXPIRED
    assert [e.cause for e in listener.tick(T0 + 120)] == [Input.WATCHDOG_EXPIRED]


def test_watchdog_is_not_reset_by_a_forgery() -> None:
    listener = make_listener(policy=Policy(watchdog_timeout_s=100), started_at=T0)
    stranger = signing_key(key_id="stranger")
    forged = V1.encode(make_command(RESUME), stranger)
    assert reason_of(listener.receive(forged, now=T0 + 50)) is Reason.UNKNOWN_KEY
    assert reason_of(listener.receive(b"ping", now=T0 + 60)) is Reason.MALFORMED
    assert [e.cause for e in listener.tick(T0 + 100)] == [Input.WATCHDOG_EXPIRED]


def test_resume_after_a_watchdog_halt_restarts_the_count() -> None:
    listener = make_listener(policy=Policy(watchdog_timeout_s=100), started_at=T0)
    listener.tick(T0 + 100)
    accepted(deliver(listener, make_command(RESUME, issued=T0 + 120), T0 + 120))
    assert listener.state is AgentState.RUNNING
    assert listener.tick(below(T0 + 220)) == []
    assert [e.cause for e in listener.tick(T0 + 220)] == [Input.WATCHDOG_EXPIRED]


# -- cascade ---------------------------------------------------------------------------


def test_apply_cascade_changes_state_without_a_signature() -> None:
    listener = make_listener()
    effect = accepted(listener.apply_cascade(make_command(TERMINATE, grace=5), now=T0)).effect
    assert effect.via == "cascade"
    assert effect.hard_kill_at == T0 + 5
    assert listener.state is AgentState.TERMINATING


def test_apply_cascade_respects_replay() -> None:
    listener = make_listener()
    command = make_command(PAUSE)
    accepted(listener.apply_cascade(command, now=T0))
    assert reason_of(listener.apply_cascade(command, now=T0)) is Reason.REPLAY
    assert reason_of(deliver(listener, command)) is Reason.REPLAY


def test_apply_cascade_respects_staleness() -> None:
    listener = make_listener()
    accepted(deliver(listener, make_command(PAUSE, seq=5)))
    assert reason_of(listener.apply_cascade(make_command(RESUME, seq=3), now=T0)) is Reason.STALE
    assert listener.state is AgentState.PAUSED


# -- order independence ----------------------------------------------------------------

SCRIPT = [
    make_command(PAUSE, seq=1),
    make_command(RESUME, seq=2),
    make_command(PAUSE, seq=3),
    make_command(TERMINATE, seq=4, grace=20),
    make_command(RESUME, seq=5),
    make_command(PAUSE, seq=6),
]
SCRIPT_WIRE = [wire(c) for c in SCRIPT]
TERMINATE_AT = 3


@PROPERTY
@given(
    st.permutations(range(len(SCRIPT)))
    .flatmap(lambda order: st.lists(st.sampled_from(range(len(SCRIPT))), max_size=6)
             .map(lambda extra: [*order, *extra]))
    .flatmap(st.permutations)
)  # fmt: skip
def test_any_order_with_duplicates_ends_terminated(deliveries: list[int]) -> None:
    listener = make_listener()
    terminate_accepted = 0
    for step, index in enumerate(deliveries):
        decision = listener.receive(SCRIPT_WIRE[index], now=T0 + step)
        if isinstance(decision, Accepted) and index == TERMINATE_AT:
            terminate_accepted += 1
    assert terminate_accepted == 1
    assert listener.state is AgentState.TERMINATING
    listener.tick(T0 + 3600)
    assert listener.state is AgentState.TERMINATED


@PROPERTY
@given(st.lists(st.sampled_from(range(len(SCRIPT))), min_size=1, max_size=12))
def test_any_delivery_sequence_is_consistent_with_the_store(deliveries: list[int]) -> None:
    """Each command takes effect at most once; a rejection changes nothing; the store
    always holds the listener's state and one replay entry per remembered command
    (accepted, or a RESUME refused as NOT_PAUSED, which still orders later ones)."""
    store = MemoryStore()
    listener = make_listener(store=store)
    taken: set[int] = set()
    remembered: set[int] = set()
    for step, index in enumerate(deliveries):
        before = listener.state
        decision = listener.receive(SCRIPT_WIRE[index], now=T0 + step)
        if isinstance(decision, Accepted):
            assert index not in remembered
            taken.add(index)
            remembered.add(index)
        else:
            assert listener.state is before
            if decision.reason is Reason.NOT_PAUSED:
                assert index not in remembered
                remembered.add(index)
        assert store.load().state is listener.state
    assert len(store) == len(remembered)


def test_an_enormous_seed_grace_period_is_capped_not_stuck() -> None:
    """The seed profile leaves grace_period_seconds unsigned: an on-path attacker may
    write 10**400. The TERMINATE must still take effect with the capped deadline."""
    rsa = signing_key(Algorithm.RS256)
    listener = make_listener(rsa, profile="seed")
    seed = get_profile("seed")
    obj = json.loads(seed.encode(make_command(TERMINATE, seq=None), rsa))
    obj["grace_period_seconds"] = 10**400
    decision = listener.receive(json.dumps(obj).encode(), now=T0)
    assert accepted(decision).effect.state is AgentState.TERMINATING
    assert listener.hard_kill_at == T0 + 60


def test_a_commands_posix_times_are_its_timestamps_and_stay_out_of_its_value() -> None:
    """Command caches issued_at_s / expires_at_s (a cascade reads them at every
    agent); the cache must equal the fields and change neither equality nor repr."""
    command = make_command(CommandType.TERMINATE, issued=T0 + 0.25, lifetime=120.0)
    twin = make_command(CommandType.TERMINATE, issued=T0 + 0.25, lifetime=120.0)
    before = repr(command)
    assert command.issued_at_s == command.issued_at.timestamp() == T0 + 0.25
    assert command.expires_at_s == command.expires_at.timestamp() == T0 + 120.25
    assert command.issued_at_s == T0 + 0.25  # the cached value, read a second time
    assert command == twin and hash(command) == hash(twin)
    assert repr(command) == before
    later = replace(command, issued_at=from_posix(T0 + 1.0))
    assert later.issued_at_s == T0 + 1.0  # a copy computes its own
