"""killswitch: the sans-IO protocol core.

Commands, wire profiles (``seed``, ``v1``), keys and trust stores, the agent
state table, the reference :class:`Listener` and cascade planning over a
:class:`Hierarchy`. Nothing here reads a clock, draws randomness, sleeps or
opens a socket: time (``now``), keys and seeds are passed in. See SPEC.md.
"""

from __future__ import annotations

from killswitch.command import WILDCARD, Command, CommandType, from_posix
from killswitch.decision import Accepted, Decision, Effect, Reason, Rejected
from killswitch.hierarchy import Hierarchy, HierarchyError, PlanStep, add_agent, cascade_plan
from killswitch.keys import (
    Algorithm,
    SigningKey,
    TrustStore,
    VerifyingKey,
    derive_distinct_key,
    derive_signing_key,
)
from killswitch.listener import Listener
from killswitch.policy import Policy
from killswitch.profiles import PROFILES, Envelope, MalformedCommand, Profile, get_profile
from killswitch.states import TRANSITIONS, AgentState, Input, InvalidTransition, StateMachine
from killswitch.store import AgentRecord, MemoryStore, SqliteStore, StateStore

__all__ = [
    "PROFILES",
    "TRANSITIONS",
    "WILDCARD",
    "Accepted",
    "AgentRecord",
    "AgentState",
    "Algorithm",
    "Command",
    "CommandType",
    "Decision",
    "Effect",
    "Envelope",
    "Hierarchy",
    "HierarchyError",
    "Input",
    "InvalidTransition",
    "Listener",
    "MalformedCommand",
    "MemoryStore",
    "PlanStep",
    "Policy",
    "Profile",
    "Reason",
    "Rejected",
    "SigningKey",
    "SqliteStore",
    "StateMachine",
    "StateStore",
    "TrustStore",
    "VerifyingKey",
    "add_agent",
    "cascade_plan",
    "derive_distinct_key",
    "derive_signing_key",
    "from_posix",
    "get_profile",
]
