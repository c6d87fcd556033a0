"""The run's trace: one JSON object per line, and its SHA-256 digest.

Lines are written with sorted keys and times rounded to the microsecond, so
the bytes depend only on the scenario and the seed. The digest is computed as
lines are produced; the file is optional (Monte Carlo replications keep only
the digest).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import IO, Any

#: Built once: ``json.dumps`` with options builds a new encoder on every call
#: (a third of the time to encode a line). Same bytes as
#: ``json.dumps(obj, sort_keys=True, separators=(",", ":"))``.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), check_circular=False).encode


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

    def emit(self, t: float, event: str, **fields: Any) -> None:
        fields["t"] = round(t, 6)
        fields["ev"] = event
        pending = self._pending
        pending.append(_ENCODE(fields) + "\n")
        self.lines += 1
        if len(pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        chunk = "".join(self._pending)
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
