"""The run's trace: one JSON object per line, and its SHA-256 digest.

A line starts with the virtual time ``t`` (fixed-point, six decimals: the
microsecond) and the event name ``ev``, then the event's fields in the order
the model writes them, with compact separators. The bytes depend only on the
scenario and the seed. The digest is computed as lines are produced; the file
is optional (Monte Carlo replications keep only the digest).

Two ways to write a line: :meth:`Trace.emit` takes any fields, and
:func:`line_writer` makes a writer for one kind of line whose field names are
fixed, which formats a line from a ready template (a third of the cost): the
model writes a few such lines per agent, so at a million agents it matters.
Both give the same bytes for the same event and fields.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import IO, Any

#: Lines are hashed and written in batches of this many: SHA-256 over the
#: concatenation is the same as over the lines one by one, and cheaper.
_BATCH = 2048


def _refuse(obj: object) -> object:
    raise TypeError(f"a trace field must be a JSON value, not {type(obj).__name__}")


def _json_encoder() -> Callable[[Any], str]:
    """Compact JSON of one value, keys in the order given. ``JSONEncoder.encode``
    builds a new C encoder on every call (a third of the time to encode a
    line); this builds it once."""
    # The C encoder JSONEncoder itself uses (absent on a Python without _json).
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:
        return json.JSONEncoder(separators=(",", ":"), check_circular=False, default=_refuse).encode
    # The arguments JSONEncoder.iterencode passes for these settings.
    chunks = c_make_encoder(
        None, _refuse, encode_basestring_ascii, None, ":", ",", False, False, True
    )
    return lambda obj: "".join(chunks(obj, 0))


_ENCODE = _json_encoder()


def _value(value: Any) -> str:
    """One field's JSON. Most fields are strings (ids, states, transports)."""
    if value.__class__ is str:
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    return _ENCODE(value)


class Trace:
    __slots__ = ("_digest", "_file", "_flushed", "_pending")

    def __init__(self, path: Path | None = None) -> None:
        self._digest = hashlib.sha256()
        self._file: IO[str] | None = path.open("w", encoding="utf-8") if path else None
        self._pending: list[str] = []
        self._flushed = 0

    @property
    def lines(self) -> int:
        """Lines written so far."""
        return self._flushed + len(self._pending)

    def emit(self, t: float, event: str, fields: dict[str, Any]) -> None:
        """One line: the time, the event, then ``fields`` in their order."""
        body = _ENCODE(fields)
        head = '{"t":%.6f,"ev":%s' % (t, encode_basestring_ascii(event))  # noqa: UP031
        self._append(head + "}" if body == "{}" else head + "," + body[1:])

    def _append(self, line: str) -> None:
        pending = self._pending
        pending.append(line)
        if len(pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        chunk = "\n".join(self._pending) + "\n"
        self._flushed += len(self._pending)
        self._pending.clear()
        self._digest.update(chunk.encode())
        if self._file is not None:
            self._file.write(chunk)

    @property
    def digest(self) -> str:
        self._flush()
        return self._digest.hexdigest()

    def close(self) -> None:
        self._flush()
        if self._file is not None:
            self._file.close()
            self._file = None


def line_writer(event: str, *keys: str) -> Callable[..., None]:
    """A writer of ``event`` lines with fields ``keys``:
    ``write(trace, t, *values)`` writes what ``trace.emit(t, event, dict(zip(keys,
    values)))`` would, from a template made once."""
    template = (
        '{"t":%.6f,"ev":'
        + encode_basestring_ascii(event)
        + "".join(f",{encode_basestring_ascii(key)}:%s" for key in keys)
        + "}"
    )

    def write(trace: Trace, t: float, *values: Any) -> None:
        try:  # most lines hold only strings: encoded by one C function each
            line = template % (t, *map(encode_basestring_ascii, values))
        except TypeError:  # a value that is no string (or a wrong number of values)
            line = template % (t, *[_value(v) for v in values])
        pending = trace._pending
        pending.append(line)
        if len(pending) >= _BATCH:
            trace._flush()

    return write
