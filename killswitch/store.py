"""Where a listener keeps what must outlive one delivery: seen commands and agent state.

Two implementations of one protocol: :class:`MemoryStore` (lost on restart,
as the seed's ``_processed_commands`` set) and :class:`SqliteStore` (durable:
a replay after a restart is still a replay, and PAUSED/TERMINATED survive).

The replay part is bounded by time, not by count: an entry is dropped only
once its command could no longer be accepted anyway (after ``expires_at``
plus the clock-skew leeway), so forgetting it can never re-open a replay.
"""

from __future__ import annotations

import heapq
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from killswitch.states import AgentState


@dataclass(frozen=True)
class AgentRecord:
    """The durable part of one agent's state."""

    state: AgentState = AgentState.RUNNING
    #: Highest ``sequence`` accepted so far (profiles that carry one).
    last_sequence: int | None = None
    #: Latest ``issued_at`` (POSIX seconds) accepted so far.
    last_issued_at: float | None = None
    #: For TERMINATING: when the runtime must hard-kill.
    hard_kill_at: float | None = None


class StateStore(Protocol):
    """What the listener needs from storage. All methods are synchronous and local."""

    def is_seen(self, command_id: str, nonce: str) -> bool:
        """True if a command with this id, or this nonce, was accepted and not yet dropped."""

    def accept(self, command_id: str, nonce: str, drop_after: float, record: AgentRecord) -> None:
        """Remember the command and store the new agent record, atomically."""

    def save(self, record: AgentRecord) -> None:
        """Store the agent record (for transitions that no command caused)."""

    def load(self) -> AgentRecord:
        """The stored agent record (a fresh RUNNING record if none)."""

    def prune(self, now: float) -> int:
        """Drop entries whose ``drop_after`` is before ``now``; return how many."""

    def __len__(self) -> int:
        """How many replay entries are held."""


class MemoryStore:
    """In-memory store. Lost on restart; bounded by pruning on every call that passes time."""

    __slots__ = ("_heap", "_ids", "_nonces", "_record")

    def __init__(self) -> None:
        self._ids: dict[str, float] = {}
        self._nonces: dict[str, float] = {}
        self._heap: list[tuple[float, str, str]] = []
        self._record = AgentRecord()

    def is_seen(self, command_id: str, nonce: str) -> bool:
        return command_id in self._ids or nonce in self._nonces

    def accept(self, command_id: str, nonce: str, drop_after: float, record: AgentRecord) -> None:
        self._ids[command_id] = drop_after
        self._nonces[nonce] = drop_after
        heapq.heappush(self._heap, (drop_after, command_id, nonce))
        self._record = record

    def save(self, record: AgentRecord) -> None:
        self._record = record

    def load(self) -> AgentRecord:
        return self._record

    def prune(self, now: float) -> int:
        heap = self._heap
        dropped = 0
        while heap and heap[0][0] < now:
            _, command_id, nonce = heapq.heappop(heap)
            self._ids.pop(command_id, None)
            self._nonces.pop(nonce, None)
            dropped += 1
        return dropped

    def __len__(self) -> int:
        return len(self._heap)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    command_id TEXT PRIMARY KEY,
    nonce TEXT NOT NULL UNIQUE,
    drop_after REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS seen_drop_after ON seen(drop_after);
CREATE TABLE IF NOT EXISTS agent (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    state TEXT NOT NULL,
    last_sequence INTEGER,
    last_issued_at REAL,
    hard_kill_at REAL
);
"""


class SqliteStore:
    """Durable store in one SQLite file; every accepted command is committed before
    the listener reports it, so a crash right after acceptance cannot forget it."""

    __slots__ = ("_db", "_next_drop", "path")

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        # WAL + synchronous=NORMAL is durable against process crashes (the case we
        # model); a power cut could lose the last transaction. FULL doubles the cost.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT MIN(drop_after) FROM seen").fetchone()
        self._next_drop: float | None = row[0]

    def is_seen(self, command_id: str, nonce: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM seen WHERE command_id = ? OR nonce = ? LIMIT 1", (command_id, nonce)
        ).fetchone()
        return row is not None

    def accept(self, command_id: str, nonce: str, drop_after: float, record: AgentRecord) -> None:
        db = self._db
        db.execute("BEGIN")
        try:
            db.execute(
                "INSERT INTO seen(command_id, nonce, drop_after) VALUES (?, ?, ?)",
                (command_id, nonce, drop_after),
            )
            self._write_record(record)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if self._next_drop is None or drop_after < self._next_drop:
            self._next_drop = drop_after

    def save(self, record: AgentRecord) -> None:
        self._write_record(record)

    def _write_record(self, record: AgentRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO agent(id, state, last_sequence, last_issued_at, hard_kill_at)"
            " VALUES (0, ?, ?, ?, ?)",
            (record.state.value, record.last_sequence, record.last_issued_at, record.hard_kill_at),
        )

    def load(self) -> AgentRecord:
        row = self._db.execute(
            "SELECT state, last_sequence, last_issued_at, hard_kill_at FROM agent WHERE id = 0"
        ).fetchone()
        if row is None:
            return AgentRecord()
        return AgentRecord(AgentState(row[0]), row[1], row[2], row[3])

    def prune(self, now: float) -> int:
        if self._next_drop is None or self._next_drop >= now:
            return 0  # the common case costs no query
        dropped = self._db.execute("DELETE FROM seen WHERE drop_after < ?", (now,)).rowcount
        row = self._db.execute("SELECT MIN(drop_after) FROM seen").fetchone()
        self._next_drop = row[0]
        return int(dropped)

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM seen").fetchone()[0])
