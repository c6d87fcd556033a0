"""The run's trace: one JSON object per line, and its SHA-256 digest.

Lines are written with sorted keys and times rounded to the microsecond, so
the bytes depend only on the scenario and the seed. The digest is computed as
lines are produced; the file is optional (Monte Carlo replications keep only
the digest).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import IO, Any


def _line_encoder() -> Callable[[dict[str, Any]], str]:
    """One line's JSON: the bytes of ``json.dumps(obj, sort_keys=True,
    separators=(",", ":"))``. ``JSONEncoder.encode`` builds a new C encoder on
    every call (a third of the time to encode a line); this builds it once."""
    # The C encoder JSONEncoder itself uses (absent on a Python without _json).
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:
        encode: Callable[[dict[str, Any]], str] = json.JSONEncoder(
            sort_keys=True, separators=(",", ":"), check_circular=False
        ).encode
        return encode

    def refuse(obj: object) -> object:
        raise TypeError(f"a trace field must be a JSON value, not {type(obj).__name__}")

    # The arguments JSONEncoder.iterencode passes for these settings.
    chunks = c_make_encoder(
        None, refuse, encode_basestring_ascii, None, ":", ",", True, False, True
    )
    return lambda obj: "".join(chunks(obj, 0))


_ENCODE = _line_encoder()


#: Lines are hashed and written in batches of this many: SHA-256 over the
#: concatenation is the same as over the lines one by one, and cheaper.
_BATCH = 2048


class Trace:
    __slots__ = ("_digest", "_file", "_pending", "lines")

    def __init__(self, path: Path | None = None) -> None:
        self._digest = hashlib.sha256()
        self._file: IO[str] | None = path.open("w", encoding="utf-8") if path else None
        self._pending: list[str] = []
        self.lines = 0

    def emit(self, t: float, event: str, fields: dict[str, Any]) -> None:
        """One line: ``fields`` (taken over, not copied), the time and the event."""
        fields["t"] = round(t, 6)
        fields["ev"] = event
        pending = self._pending
        pending.append(_ENCODE(fields))
        self.lines += 1
        if len(pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        chunk = "\n".join(self._pending) + "\n"
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
