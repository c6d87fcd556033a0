"""Which SPEC.md requirements (KS-nnn) each conformance case checks.

One table, so a change in SPEC.md's numbering is a change here only.
Per-field tamper cases (``KS-SIG-TAMPER-<field>``) are looked up by family:
``KS-SIG-TAMPER-SIGNED`` for the six fields every built-in profile signs,
``KS-SIG-TAMPER`` for the rest (KS-071, a profile limitation of ``seed``).
"""

from __future__ import annotations

REQUIREMENTS: dict[str, tuple[str, ...]] = {
    # Level 1: local kill, finality, robustness
    "KS-L1-KILL": ("KS-220", "KS-264", "KS-023"),
    "KS-L1-KILL-60S": ("KS-264", "KS-106", "KS-107", "KS-026"),
    "KS-STATE-TERMINATE-FINAL": ("KS-022", "KS-023"),
    "KS-STATE-TERMINATE-DEADLINE": ("KS-023", "KS-026", "KS-004"),
    "KS-TARGET-INSTANCE": ("KS-012",),
    "KS-TARGET-ASSET": ("KS-012",),
    "KS-TIME-NAIVE": ("KS-011", "KS-105"),
    "KS-ROBUST-BYTES": ("KS-003", "KS-004"),
    "KS-ROBUST-JSON": ("KS-003", "KS-040", "KS-062"),
    "KS-ROBUST-TYPES": ("KS-003", "KS-015", "KS-040", "KS-061"),
    # Level 2: remote, verified
    "KS-VALID-ACCEPT": ("KS-120", "KS-030", "KS-040", "KS-060"),
    "KS-TRUST-NONE": ("KS-006",),
    "KS-SIG-TAMPER-SIGNED": ("KS-120", "KS-041", "KS-065"),
    "KS-TRANSPORT-VERIFIED": ("KS-222", "KS-226", "KS-120"),
    "KS-TRANSPORT-RULES": ("KS-222", "KS-226", "KS-120", "KS-006", "KS-012", "KS-069", "KS-102"),
    "KS-SIG-WRONG-KEY": ("KS-120", "KS-043", "KS-069"),
    "KS-SIG-MUTATE": ("KS-120", "KS-030", "KS-068"),
    "KS-SIG-BER": ("KS-042",),
    "KS-ALG-NONE": ("KS-042", "KS-069"),
    "KS-ALG-HMAC": ("KS-042", "KS-069"),
    "KS-ALG-SWITCH": ("KS-042", "KS-043", "KS-069"),
    "KS-CANON-TIMESTAMPS": ("KS-040", "KS-041", "KS-063"),
    "KS-TARGET-WILDCARD": ("KS-013", "KS-012"),
    "KS-TARGET-WILDCARD-ALLOWED": ("KS-012",),
    "KS-TIME-EXPIRED": ("KS-101", "KS-102"),
    "KS-TIME-NOT-YET-VALID": ("KS-100", "KS-102"),
    "KS-TIME-LIFETIME": ("KS-104", "KS-102"),
    "KS-TIME-BOUNDARY": ("KS-100", "KS-101", "KS-104"),
    "KS-TIME-EXPIRES-LATER": ("KS-101",),
    "KS-ROBUST-HUGE": ("KS-123", "KS-003"),
    "KS-TIMING": ("KS-262", "KS-263"),
    "KS-VECTORS": ("KS-120", "KS-100", "KS-101", "KS-104", "KS-012"),
    "KS-REASONS": ("KS-122",),
    # Level 3: full
    "KS-STATE-TERMINATE-RESTART": ("KS-022", "KS-144"),
    "KS-STATE-PAUSE-RESUME": ("KS-024",),
    "KS-STATE-STALE-RESUME": ("KS-160", "KS-161", "KS-165"),
    "KS-STATE-PAUSE-RESTART": ("KS-144", "KS-020"),
    "KS-STATE-MACHINE": ("KS-021", "KS-022", "KS-024", "KS-140", "KS-144", "KS-165"),
    "KS-ORDER-PERMUTE": ("KS-165", "KS-162"),
    "KS-REPLAY-DUPLICATE": ("KS-140",),
    "KS-REPLAY-TRANSPORTS": ("KS-140", "KS-226", "KS-228"),
    "KS-REPLAY-NONCE": ("KS-140",),
    "KS-REPLAY-COMMAND-ID": ("KS-140",),
    "KS-REPLAY-RESTART": ("KS-144",),
    "KS-REPLAY-WINDOW": ("KS-142", "KS-143"),
    "KS-REPLAY-NOT-RECORDED": ("KS-141", "KS-004", "KS-100"),
    "KS-VECTORS-REPLAY": ("KS-120", "KS-140", "KS-161"),
    "KS-WATCHDOG": ("KS-181", "KS-182", "KS-184"),
    "KS-WATCHDOG-OFF": ("KS-180",),
    "KS-WATCHDOG-FED": ("KS-183", "KS-181"),
    "KS-WATCHDOG-NOT-FED": ("KS-183", "KS-121", "KS-004"),
    "KS-CASCADE-TERMINATE": ("KS-201", "KS-202", "KS-206"),
    "KS-CASCADE-PAUSE": ("KS-203",),
    # H: hardened (v1 rules)
    "KS-SIG-TAMPER": ("KS-071", "KS-065"),
    "KS-KEY-UNKNOWN": ("KS-069",),
    "KS-KEY-ROTATION": ("KS-070", "KS-043"),
    "KS-KEY-REVOKED": ("KS-070", "KS-069"),
    "KS-SIG-NONCANONICAL": ("KS-067", "KS-068"),
    "KS-CANON-DELIMITER": ("KS-072", "KS-065"),
    "KS-CANON-RESPELL": ("KS-063", "KS-065", "KS-071"),
    "KS-VECTORS-ENCODING": ("KS-067", "KS-068"),
}

#: Fields the seed's six-part signed string covers: tampering with them is an
#: L2 failure in every built-in profile; the other fields are KS-071 (H).
SIGNED_IN_EVERY_PROFILE = frozenset(
    {"command_id", "command_type", "target_instance_id", "issued_by", "issued_at", "nonce"}
)


def requirements_for(case_id: str) -> tuple[str, ...]:
    if case_id in REQUIREMENTS:
        return REQUIREMENTS[case_id]
    prefix = "KS-SIG-TAMPER-"
    if case_id.startswith(prefix):
        field = case_id[len(prefix) :]
        return REQUIREMENTS[
            "KS-SIG-TAMPER-SIGNED" if field in SIGNED_IN_EVERY_PROFILE else "KS-SIG-TAMPER"
        ]
    return ()
