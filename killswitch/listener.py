"""The reference kill-switch listener, sans-IO.

It never reads a clock, opens a socket or sleeps: the caller passes ``now``
(POSIX seconds) and the raw bytes that arrived, and gets a
:class:`~killswitch.decision.Decision` back. The checks run in the order of
SPEC.md §6, cheapest structural checks first, and nothing about the command
is acted on before its signature verified. Nothing that arrives can raise out
of :meth:`Listener.receive`: an unexpected error is a rejection (fail closed).
"""

from __future__ import annotations

from killswitch._fast import build
from killswitch.command import WILDCARD, Command, CommandType
from killswitch.decision import Accepted, Decision, Effect, Reason, Rejected
from killswitch.keys import TrustStore
from killswitch.policy import Policy
from killswitch.profiles import DEFAULT_PROFILE, MalformedCommand, Profile, get_profile
from killswitch.states import AgentState, Input, Refuse, StateMachine
from killswitch.store import AgentRecord, MemoryStore, StateStore

_INPUT_FOR = {
    CommandType.PAUSE: Input.PAUSE,
    CommandType.RESUME: Input.RESUME,
    CommandType.TERMINATE: Input.TERMINATE,
}


class Listener:
    """One agent's kill-switch listener.

    ``store`` decides what survives a restart: with a
    :class:`~killswitch.store.SqliteStore`, a new ``Listener`` on the same file
    resumes in the stored state and still rejects replays. ``started_at`` is
    when the watchdog starts counting (required if the policy enables it).
    """

    # Slots: a simulated tree holds one listener per agent, up to a million.
    __slots__ = (
        "_last_heard",
        "_machine",
        "_record",
        "asset_id",
        "instance_id",
        "policy",
        "profile",
        "store",
        "trust",
    )

    def __init__(
        self,
        instance_id: str,
        asset_id: str | None,
        trust: TrustStore,
        policy: Policy | None = None,
        store: StateStore | None = None,
        profile: Profile | str = DEFAULT_PROFILE,
        *,
        started_at: float | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.asset_id = asset_id
        self.trust = trust
        self.policy = policy or Policy()
        self.store: StateStore = store if store is not None else MemoryStore()
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self._record = self.store.load()
        self._machine = StateMachine(self._record.state)
        if self.policy.watchdog_timeout_s is not None and started_at is None:
            raise ValueError(
                "a watchdog policy needs started_at (when the listener starts counting)"
            )
        self._last_heard = started_at

    @property
    def state(self) -> AgentState:
        return self._machine.state

    @property
    def hard_kill_at(self) -> float | None:
        return self._record.hard_kill_at

    def receive(self, raw: bytes, *, now: float, via: str = "") -> Decision:
        """Decide about one delivery. Never raises."""
        try:
            return self._receive(raw, now, via)
        except MalformedCommand as exc:
            return Rejected(Reason.MALFORMED, str(exc))
        except Exception as exc:  # fail closed: an unforeseen input changes nothing
            return Rejected(Reason.MALFORMED, f"unexpected {type(exc).__name__}: {exc}")

    def _receive(self, raw: bytes, now: float, via: str) -> Decision:
        if len(raw) > self.policy.max_message_bytes:
            return Rejected(
                Reason.MALFORMED, f"{len(raw)} bytes exceeds {self.policy.max_message_bytes}"
            )
        envelope = self.profile.decode(raw)
        failure = self.profile.verify(envelope, self.trust)
        if failure is not None:
            return Rejected(failure)
        command = envelope.command
        if not self._is_for_me(command):
            return Rejected(Reason.NOT_FOR_THIS_AGENT, command.target_instance_id)
        policy = self.policy
        issued, expires = command.issued_at.timestamp(), command.expires_at.timestamp()
        if expires <= issued:
            return Rejected(Reason.MALFORMED, "expires_at is not after issued_at")
        if expires - issued > policy.max_lifetime_s:
            return Rejected(
                Reason.LIFETIME_TOO_LONG, f"{expires - issued:g} s > {policy.max_lifetime_s:g} s"
            )
        if issued - policy.clock_skew_s > now:
            return Rejected(Reason.NOT_YET_VALID)
        if now >= expires + policy.clock_skew_s:
            return Rejected(Reason.EXPIRED)
        store = self.store
        store.prune(now)
        if store.is_seen(command.command_id, command.nonce):
            return Rejected(Reason.REPLAY)
        # Authentic, for this agent, within its validity window and never seen: only
        # the control plane can have sent it just now, so it feeds the watchdog. (An
        # expired or replayed command could come from an attacker's recording.)
        self._last_heard = now
        return self._apply(command, issued, now, via, expires + policy.clock_skew_s)

    def apply_cascade(self, command: Command, *, now: float, via: str = "cascade") -> Decision:
        """Apply a command that this agent's parent already verified and accepted.

        Signature, target and time were checked by the parent; ordering, replay
        and the state table still apply, so a cascaded RESUME older than a
        direct PAUSE is STALE and a repeated cascade has one effect.
        """
        try:
            if self.store.is_seen(command.command_id, command.nonce):
                return Rejected(Reason.REPLAY)
            horizon = max(now, self.policy.acceptance_horizon(command.expires_at_s))
            return self._apply(command, command.issued_at_s, now, via, horizon)
        except Exception as exc:
            return Rejected(Reason.MALFORMED, f"unexpected {type(exc).__name__}: {exc}")

    def _is_for_me(self, command: Command) -> bool:
        target = command.target_instance_id
        asset = command.target_asset_id
        if asset is not None and asset != self.asset_id:
            return False
        if target == self.instance_id:
            return True
        return target == WILDCARD and self.policy.allow_wildcard

    def _apply(
        self, command: Command, issued: float, now: float, via: str, drop_after: float
    ) -> Decision:
        record = self._record
        kind = command.command_type
        if kind is not CommandType.TERMINATE and _is_stale(command, issued, record):
            return Rejected(Reason.STALE)
        # Everything that can fail is computed before the state changes.
        hard_kill_at = record.hard_kill_at
        if kind is CommandType.TERMINATE:
            # min() on the int first: a seed command may carry 10**400 (unsigned field).
            hard_kill_at = now + float(min(command.grace_period_seconds, self.policy.max_grace_s))
        sequence = record.last_sequence
        if command.sequence is not None:
            sequence = command.sequence if sequence is None else max(sequence, command.sequence)
        last_issued = (
            issued if record.last_issued_at is None else max(record.last_issued_at, issued)
        )
        machine = self._machine
        previous = machine.state
        cause = _INPUT_FOR[kind]
        outcome = machine.fire(cause)
        if isinstance(outcome, Refuse):
            if outcome.reason is Reason.NOT_PAUSED:
                # An authentic, in-order RESUME for a running agent changes nothing,
                # but it is the operator's latest word: an older PAUSE arriving after
                # it must be STALE, so every delivery order ends in the same state.
                self._commit(command, drop_after, record, previous, sequence, last_issued)
            return Rejected(outcome.reason)
        self._record = build(
            AgentRecord,
            state=outcome,
            last_sequence=sequence,
            last_issued_at=last_issued,
            hard_kill_at=hard_kill_at,
        )
        try:
            self.store.accept(command.command_id, command.nonce, drop_after, self._record)
        except Exception:
            # The store could not commit (disk full, database locked). A halting
            # command still halts: failing closed means stopping, and repeating a
            # halt is harmless. A RESUME is not applied: the caller gets a
            # rejection and the state stays the one the store still has.
            if kind is CommandType.RESUME:
                machine.state = previous
                self._record = record
                raise
        effect = build(
            Effect,
            cause=cause,
            previous_state=previous,
            state=outcome,
            command=command,
            hard_kill_at=hard_kill_at,
            via=via,
        )
        return build(Accepted, effect=effect, accepted=True)

    def _commit(
        self,
        command: Command,
        drop_after: float,
        record: AgentRecord,
        state: AgentState,
        sequence: int | None,
        last_issued: float,
    ) -> None:
        """Remember a command and advance the ordering watermark without a state change."""
        self._record = build(
            AgentRecord,
            state=state,
            last_sequence=sequence,
            last_issued_at=last_issued,
            hard_kill_at=record.hard_kill_at,
        )
        try:
            self.store.accept(command.command_id, command.nonce, drop_after, self._record)
        except Exception:
            self._record = record
            raise

    def heard(self, now: float) -> None:
        """The transport heard the control plane (a heartbeat): feed the watchdog."""
        self._last_heard = now

    def tick(self, now: float) -> list[Effect]:
        """Let time pass without a message: watchdog and grace-deadline transitions."""
        effects: list[Effect] = []
        timeout = self.policy.watchdog_timeout_s
        last = self._last_heard
        if (
            timeout is not None
            and last is not None
            and now - last >= timeout
            and self.state is AgentState.RUNNING
        ):
            effects.append(self._fire(Input.WATCHDOG_EXPIRED, "watchdog"))
        kill_at = self._record.hard_kill_at
        if self.state is AgentState.TERMINATING and kill_at is not None and now >= kill_at:
            effects.append(self._fire(Input.GRACE_EXPIRED, "grace"))
        return effects

    def cleanup_done(self, now: float) -> Effect:
        """The runtime finished cleanup before the grace deadline.

        Raises :class:`~killswitch.states.InvalidTransition` (after moving to
        TERMINATED) if the agent was not terminating: that is a runtime bug.
        """
        return self._fire(Input.CLEANUP_DONE, "runtime")

    def _fire(self, event: Input, via: str) -> Effect:
        machine = self._machine
        previous = machine.state
        try:
            outcome = machine.fire(event)
        finally:
            record = self._record
            if machine.state is not record.state:
                self._record = record = build(
                    AgentRecord,
                    state=machine.state,
                    last_sequence=record.last_sequence,
                    last_issued_at=record.last_issued_at,
                    hard_kill_at=record.hard_kill_at,
                )
                self.store.save(record)
        assert isinstance(outcome, AgentState), "runtime inputs are never refused"
        return build(
            Effect,
            cause=event,
            previous_state=previous,
            state=outcome,
            command=None,
            hard_kill_at=record.hard_kill_at,
            via=via,
        )


def _is_stale(command: Command, issued: float, record: AgentRecord) -> bool:
    """Older than the last accepted command: by sequence where both have one, else by time."""
    if command.sequence is not None and record.last_sequence is not None:
        return command.sequence <= record.last_sequence
    return record.last_issued_at is not None and issued < record.last_issued_at
