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

# The pattern runs over the decoded text (one UTF-8 decode for the whole
# message instead of one per field). Strings exclude quotes and control
# characters; the signature is "anything but a quote" (the fastest loop in the
# regex engine) and is checked by bytes.fromhex below. re.ASCII: \d is 0-9 only.
_STR = r'"([^"\x00-\x1f]+)"'
_TIME = r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d))"'
_INT = r"(0|[1-9][0-9]{0,18})"

#: The canonical form, member by member, keys in RFC 8785 order.
_MEMBERS = [
    r'{"cascade":(true|false)',
    r'"command_id":' + _STR,
    r'"command_type":"(TERMINATE|PAUSE|RESUME)"',
    r'"expires_at":' + _TIME,
    r'"grace_period_seconds":' + _INT,
    r'"issued_at":' + _TIME,
    r'"issued_by":' + _STR,
    r'"key_id":' + _STR,
    r'"nonce":' + _STR,
    r'"reason":"([^"\x00-\x1f]*)"',
    r'"sequence":' + _INT + r',"signature":"([^"]+)"',
    r'"signature_algorithm":' + _STR,
    r'"target_asset_id":(?:null|' + _STR + r")",
    r'"target_instance_id":' + _STR,
    r'"v":1}',
]
_CANONICAL = re.compile(",".join(_MEMBERS), re.DOTALL | re.ASCII).fullmatch
_SIGNATURE_MEMBER = b',"signature":"'

_KINDS = {kind.value: kind for kind in CommandType}
_INT_LIMIT = 2**63
_MAX_STR = 1024


def decode_canonical(raw: bytes) -> tuple[Command, str, bytes, bytes] | None:
    """(command, algorithm, signature, signed bytes without the domain prefix), or
    None when ``raw`` is not plainly canonical (the strict path then decides)."""
    if b"\\" in raw:
        return None  # an escape: the strict path decodes it
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    match = _CANONICAL(text)
    if match is None:
        return None
    (
        cascade, command_id, kind, expires, grace, issued, issued_by, key_id, nonce,
        reason, sequence, signature, algorithm, asset, target,
    ) = match.groups()  # fmt: skip
    try:
        issued_at = datetime.fromisoformat(issued)
        expires_at = datetime.fromisoformat(expires)
        signature_bytes = bytes.fromhex(signature)
    except ValueError:  # an impossible date, or not hex: the strict path says which
        return None
    grace_value, sequence_value = int(grace), int(sequence)
    # fromhex also takes upper case and skips spaces; the wire form allows neither.
    # (A round trip is cheaper than str.islower, which looks up every character.)
    if signature_bytes.hex() != signature:
        return None
    if (
        len(signature) > _MAX_STR
        or grace_value >= _INT_LIMIT
        or sequence_value >= _INT_LIMIT
        or max(len(command_id), len(issued_by), len(key_id), len(nonce), len(reason)) > _MAX_STR
        or max(len(algorithm), len(target), len(asset or "")) > _MAX_STR
    ):
        return None
    command = object.__new__(Command)
    # One assignment instead of thirteen frozen __setattr__ calls (see killswitch._fast).
    object.__setattr__(
        command,
        "__dict__",
        {
            "command_id": command_id,
            "command_type": _KINDS[kind],
            "target_instance_id": target,
            "issued_by": issued_by,
            "issued_at": issued_at,
            "expires_at": expires_at,
            "nonce": nonce,
            "reason": reason,
            "target_asset_id": asset,
            "cascade": cascade == "true",
            "grace_period_seconds": grace_value,
            "key_id": key_id,
            "sequence": sequence_value,
        },
    )
    # No string can hold a quote here, so the first such member is the signature's.
    start = raw.find(_SIGNATURE_MEMBER)
    end = start + len(_SIGNATURE_MEMBER) + len(signature) + 1
    return command, algorithm, signature_bytes, raw[:start] + raw[end:]
