"""State stores: MemoryStore and SqliteStore behave alike; only SqliteStore survives a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from core_support import T0, make_command, make_listener, signing_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from killswitch import (
    Accepted,
    AgentRecord,
    AgentState,
    CommandType,
    Listener,
    MemoryStore,
    Reason,
    Rejected,
    SqliteStore,
    StateStore,
    get_profile,
)

PAUSE, RESUME, TERMINATE = CommandType.PAUSE, CommandType.RESUME, CommandType.TERMINATE
V1 = get_profile("v1")
KEY = signing_key()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    durable = SqliteStore(tmp_path / "agent.db")
    yield durable
    durable.close()


def wire(kind: CommandType, seq: int, **kw: object) -> bytes:
    return V1.encode(make_command(kind, seq=seq, **kw), KEY)  # type: ignore[arg-type]


def reason_of(decision: object) -> Reason | None:
    return decision.reason if isinstance(decision, Rejected) else None


# -- the StateStore protocol, for both implementations ----------------------------------


def test_fresh_store_is_running_and_empty(store: StateStore) -> None:
    assert store.load() == AgentRecord()
    assert store.load().state is AgentState.RUNNING
    assert len(store) == 0
    assert not store.is_seen("c", "n")


def test_accept_remembers_id_and_nonce_separately(store: StateStore) -> None:
    record = AgentRecord(AgentState.PAUSED, 3, T0, None)
    store.accept("c-1", "n-1", T0 + 330, record)
    assert store.is_seen("c-1", "other-nonce")
    assert store.is_seen("other-id", "n-1")
    assert not store.is_seen("c-2", "n-2")
    assert store.load() == record
    assert len(store) == 1


def test_save_and_load_round_trip_every_field(store: StateStore) -> None:
    record = AgentRecord(AgentState.TERMINATING, 2**53 - 1, T0 + 0.25, T0 + 60.5)
    store.save(record)
    assert store.load() == record
    store.save(AgentRecord(AgentState.TERMINATED))
    assert store.load() == AgentRecord(AgentState.TERMINATED)


def test_prune_drops_only_entries_past_drop_after(store: StateStore) -> None:
    for i, drop_after in enumerate([T0 + 10, T0 + 20, T0 + 30]):
        store.accept(f"c-{i}", f"n-{i}", drop_after, AgentRecord())
    assert store.prune(T0 + 10) == 0  # drop_after == now: not yet past
    assert store.prune(T0 + 20) == 1
    assert not store.is_seen("c-0", "n-0")
    assert store.is_seen("c-1", "n-1")
    assert store.is_seen("c-2", "n-2")
    assert len(store) == 2
    assert store.prune(T0 + 1000) == 2
    assert len(store) == 0


def test_prune_keeps_the_agent_record(store: StateStore) -> None:
    record = AgentRecord(AgentState.PAUSED, 1, T0, None)
    store.accept("c", "n", T0, record)
    store.prune(T0 + 1)
    assert store.load() == record


# A model of the replay part: id -> (nonce, drop_after).
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("accept"), st.integers(0, 5), st.integers(0, 50)),
        st.tuples(st.just("prune"), st.integers(0, 60), st.just(0)),
        st.tuples(st.just("seen"), st.integers(0, 5), st.just(0)),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ops)
def test_memory_and_sqlite_stores_agree(ops: list[tuple[str, int, int]]) -> None:
    memory, durable = MemoryStore(), SqliteStore(":memory:")
    model: dict[int, float] = {}
    try:
        for op, n, t in ops:
            if op == "accept":
                if n in model:  # the listener never accepts a seen command twice
                    continue
                model[n] = float(t)
                for s in (memory, durable):
                    s.accept(f"c-{n}", f"n-{n}", float(t), AgentRecord(AgentState.PAUSED, n))
            elif op == "prune":
                gone = [k for k, drop in model.items() if drop < t]
                for k in gone:
                    del model[k]
                assert memory.prune(float(t)) == durable.prune(float(t)) == len(gone)
            else:
                expected = n in model
                assert memory.is_seen(f"c-{n}", "x") == durable.is_seen(f"c-{n}", "x") == expected
                assert memory.is_seen("x", f"n-{n}") == durable.is_seen("x", f"n-{n}") == expected
            assert len(memory) == len(durable) == len(model)
            assert memory.load() == durable.load()
    finally:
        durable.close()


# -- bounded replay memory through the listener ------------------------------------------


def test_entry_is_dropped_only_when_the_command_could_not_be_accepted_anyway(
    store: StateStore,
) -> None:
    listener = make_listener(store=store)
    raw = wire(PAUSE, 1)  # issued T0, expires T0 + 300, skew 30: horizon T0 + 330
    assert isinstance(listener.receive(raw, now=T0), Accepted)
    for now in (T0 + 1, T0 + 299, T0 + 329.999):
        assert reason_of(listener.receive(raw, now=now)) is Reason.REPLAY
    assert len(store) == 1
    assert reason_of(listener.receive(raw, now=T0 + 330)) is Reason.EXPIRED
    # Any later delivery prunes; the forgotten command is still refused, as EXPIRED.
    assert reason_of(listener.receive(wire(PAUSE, 2, issued=T0 + 400), now=T0 + 400)) is None
    assert not store.is_seen(make_command(PAUSE, seq=1).command_id, "-")
    assert len(store) == 1
    assert reason_of(listener.receive(raw, now=T0 + 400)) is Reason.EXPIRED


# -- restarts ----------------------------------------------------------------------------


def restart(path: Path, old: Listener | None = None) -> Listener:
    """A new Listener process on the same database file."""
    if old is not None:
        assert isinstance(old.store, SqliteStore)
        old.store.close()
    return make_listener(store=SqliteStore(path))


def test_sqlite_replay_is_rejected_after_restart(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    first = restart(db)
    pause = wire(PAUSE, 2)
    assert isinstance(first.receive(pause, now=T0), Accepted)
    second = restart(db, first)
    assert second.state is AgentState.PAUSED
    assert reason_of(second.receive(pause, now=T0 + 5)) is Reason.REPLAY
    second.store.close()  # type: ignore[attr-defined]


def test_sqlite_keeps_ordering_after_restart(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    first = restart(db)
    assert isinstance(first.receive(wire(PAUSE, 2), now=T0), Accepted)
    second = restart(db, first)
    assert reason_of(second.receive(wire(RESUME, 1), now=T0 + 1)) is Reason.STALE
    assert second.state is AgentState.PAUSED
    assert isinstance(second.receive(wire(RESUME, 3), now=T0 + 2), Accepted)
    third = restart(db, second)
    assert third.state is AgentState.RUNNING
    third.store.close()  # type: ignore[attr-defined]


def test_sqlite_keeps_termination_after_restart(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    first = restart(db)
    decision = first.receive(wire(TERMINATE, 1, grace=20), now=T0)
    assert isinstance(decision, Accepted)
    second = restart(db, first)
    assert second.state is AgentState.TERMINATING
    assert second.hard_kill_at == T0 + 20
    assert second.tick(T0 + 19) == []
    assert [e.state for e in second.tick(T0 + 20)] == [AgentState.TERMINATED]
    third = restart(db, second)
    assert third.state is AgentState.TERMINATED
    later = wire(RESUME, 9, issued=T0 + 30)
    assert reason_of(third.receive(later, now=T0 + 30)) is Reason.ALREADY_TERMINATED
    third.store.close()  # type: ignore[attr-defined]


def test_memory_store_forgets_on_restart() -> None:
    """Documents the seed's weakness (its ``_processed_commands`` is an in-memory set):
    after a restart the same signed command is accepted again."""
    pause = wire(PAUSE, 1)
    first = make_listener(store=MemoryStore())
    assert isinstance(first.receive(pause, now=T0), Accepted)
    restarted = make_listener(store=MemoryStore())
    assert restarted.state is AgentState.RUNNING
    assert isinstance(restarted.receive(pause, now=T0 + 5), Accepted)


class FailingStore(MemoryStore):
    """A store whose writes fail (disk full, database locked, ...)."""

    def accept(self, command_id: str, nonce: str, drop_after: float, record: AgentRecord) -> None:
        raise OSError("disk full")


@pytest.mark.parametrize("kind", [PAUSE, TERMINATE])
def test_a_failed_write_still_halts(kind: CommandType) -> None:
    """Failing closed means stopping: if the store cannot commit, a PAUSE or
    TERMINATE still takes effect in memory (repeating a halt is harmless)."""
    store = FailingStore()
    listener = make_listener(store=store)
    decision = listener.receive(wire(kind, 1), now=T0)
    assert isinstance(decision, Accepted)
    assert listener.state is decision.effect.state
    assert listener.state.halted
    assert (listener.hard_kill_at is not None) == (kind is TERMINATE)


def test_a_failed_write_does_not_resume() -> None:
    """A RESUME is applied only once committed: otherwise the agent stays halted."""

    class FailsOnResume(MemoryStore):
        fail = False

        def accept(
            self, command_id: str, nonce: str, drop_after: float, record: AgentRecord
        ) -> None:
            if self.fail:
                raise OSError("disk full")
            super().accept(command_id, nonce, drop_after, record)

    store = FailsOnResume()
    listener = make_listener(store=store)
    assert isinstance(listener.receive(wire(PAUSE, 1), now=T0), Accepted)
    store.fail = True
    decision = listener.receive(wire(RESUME, 2), now=T0 + 1)
    assert isinstance(decision, Rejected)
    assert listener.state is AgentState.PAUSED
    assert store.load().state is AgentState.PAUSED
