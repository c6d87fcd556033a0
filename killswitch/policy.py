"""The listener's tunable rules. Defaults follow the seed and SPEC.md."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Policy:
    """Time, targeting and watchdog rules for one listener (see SPEC.md §5)."""

    #: Clock-skew leeway applied to ``issued_at`` (future) and ``expires_at`` (past).
    clock_skew_s: float = 30.0
    #: Largest accepted ``expires_at - issued_at`` (the seed issues 5-minute commands).
    max_lifetime_s: float = 300.0
    #: Whether ``target_instance_id = "*"`` may address this agent.
    allow_wildcard: bool = False
    #: Cap on the grace period, whatever the command asks for.
    max_grace_s: float = 60.0
    #: Dead-man's switch: halt (PAUSE) after this long without hearing the control plane.
    watchdog_timeout_s: float | None = None
    #: Largest accepted delivery, in bytes; anything larger is MALFORMED unread.
    max_message_bytes: int = 16 * 1024

    def __post_init__(self) -> None:
        if self.clock_skew_s < 0 or self.max_lifetime_s <= 0 or self.max_grace_s < 0:
            raise ValueError(f"policy values must be non-negative (lifetime positive): {self!r}")
        if self.watchdog_timeout_s is not None and self.watchdog_timeout_s <= 0:
            raise ValueError(f"watchdog_timeout_s must be positive, got {self.watchdog_timeout_s}")

    def acceptance_horizon(self, expires_at_s: float) -> float:
        """The POSIX time after which a command that expires at ``expires_at_s``
        can never be accepted again, so its replay-store entry may be dropped."""
        return expires_at_s + self.clock_skew_s
