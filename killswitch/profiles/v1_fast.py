"""A fast decoder for the canonical form of a ``v1`` command.

Nearly every real delivery is exactly what an honest control plane emits: the
RFC 8785 form, keys sorted, no whitespace, no escapes. One compiled regular
expression recognises that form and captures every value, replacing the JSON
parse and a dozen Python-level type checks (``bench/core.py`` holds
``Listener.receive`` to within 25% of the bare signature check).

It only ever *narrows*: anything it does not recognise (an escape, a number
with an exponent, whitespace, another key order, a duplicate) returns None
and the caller takes the strict path in ``v1.py``, which decides. A
differential test checks that both paths give the same envelope whenever the
fast one answers.
"""

from __future__ import annotations

import re
from datetime import datetime

from killswitch.command import Command, CommandType

# Strings are matched as "anything but a quote" (the fastest loop in the regex
# engine); escapes and control characters are excluded for the whole message
# before matching (see decode_canonical).
_STR = rb'"([^"]+)"'
_TIME = rb'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d))"'
_INT = rb"(0|[1-9][0-9]{0,18})"

#: The canonical form, member by member, keys in RFC 8785 order.
_MEMBERS = [
    rb'{"cascade":(true|false)',
    rb'"command_id":' + _STR,
    rb'"command_type":"(TERMINATE|PAUSE|RESUME)"',
    rb'"expires_at":' + _TIME,
    rb'"grace_period_seconds":' + _INT,
    rb'"issued_at":' + _TIME,
    rb'"issued_by":' + _STR,
    rb'"key_id":' + _STR,
    rb'"nonce":' + _STR,
    rb'"reason":"([^"]*)"',
    rb'"sequence":' + _INT + rb'(,"signature":"([^"]+)")',  # group 12: the cut-out member
    rb'"signature_algorithm":' + _STR,
    rb'"target_asset_id":(?:null|' + _STR + rb")",
    rb'"target_instance_id":' + _STR,
    rb'"v":1}',
]
_CANONICAL = re.compile(rb",".join(_MEMBERS), re.DOTALL).fullmatch

_KINDS = {
    b"TERMINATE": CommandType.TERMINATE,
    b"PAUSE": CommandType.PAUSE,
    b"RESUME": CommandType.RESUME,
}
_CONTROL = bytes(range(32))
_INT_LIMIT = 2**63
_MAX_STR = 1024


def decode_canonical(raw: bytes) -> tuple[Command, str, bytes, bytes] | None:
    """(command, algorithm, signature, signed bytes without the domain prefix), or
    None when ``raw`` is not plainly canonical (the strict path then decides)."""
    if b"\\" in raw or len(raw.translate(None, _CONTROL)) != len(raw):
        return None  # an escape or a control character: the strict path decides
    match = _CANONICAL(raw)
    if match is None:
        return None
    (
        cascade, command_id, kind, expires, grace, issued, issued_by, key_id, nonce,
        reason, sequence, _member, signature, algorithm, asset, target,
    ) = match.groups()  # fmt: skip
    try:
        strings = [
            s.decode("utf-8")
            for s in (command_id, issued_by, key_id, nonce, reason, algorithm, target)
        ]
        asset_text = None if asset is None else asset.decode("utf-8")
        issued_at = datetime.fromisoformat(issued.decode("ascii"))
        expires_at = datetime.fromisoformat(expires.decode("ascii"))
    except ValueError:  # invalid UTF-8 or an impossible date: the strict path says which
        return None
    grace_value, sequence_value = int(grace), int(sequence)
    try:
        signature_bytes = bytes.fromhex(signature.decode("ascii"))
    except ValueError:
        return None
    # fromhex also takes upper case and skips spaces; the wire form allows neither.
    if len(signature) != 2 * len(signature_bytes) or not (
        signature.islower() or signature.isdigit()
    ):
        return None
    if (
        len(signature) > _MAX_STR
        or grace_value >= _INT_LIMIT
        or sequence_value >= _INT_LIMIT
        or max(map(len, strings)) > _MAX_STR
        or (asset_text is not None and len(asset_text) > _MAX_STR)
    ):
        return None
    command = object.__new__(Command)
    # One assignment instead of thirteen frozen __setattr__ calls (see killswitch._fast).
    object.__setattr__(
        command,
        "__dict__",
        {
            "command_id": strings[0],
            "command_type": _KINDS[kind],
            "target_instance_id": strings[6],
            "issued_by": strings[1],
            "issued_at": issued_at,
            "expires_at": expires_at,
            "nonce": strings[3],
            "reason": strings[4],
            "target_asset_id": asset_text,
            "cascade": cascade == b"true",
            "grace_period_seconds": grace_value,
            "key_id": strings[2],
            "sequence": sequence_value,
        },
    )
    start, end = match.span(12)
    return command, strings[5], signature_bytes, raw[:start] + raw[end:]
