"""The trace: a line is the bytes of ``json.dumps`` with sorted keys and compact
separators (the run's digest depends on them), and the digest is the SHA-256
of the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from sim.trace import Trace

FIELDS: list[dict[str, Any]] = [
    {"agent": "agent-7", "state": "TERMINATING"},
    {"why": 'a "quoted" reason', "via": "caf\u00e9 \u2603", "agents": 10101},
    {"durable": True, "op": None, "skew_s": -12.5, "until": 1e-7},
    {},
]


@pytest.mark.parametrize("t", [0.0, 12.3456789, 1e-7, 1234567.0000004, 120.0])
@pytest.mark.parametrize("fields", FIELDS)
def test_a_line_is_what_json_dumps_writes(t: float, fields: dict[str, Any]) -> None:
    trace = Trace()
    trace.emit(t, "some event", dict(fields))
    expected = {**fields, "t": round(t, 6), "ev": "some event"}
    assert trace._pending == [json.dumps(expected, sort_keys=True, separators=(",", ":"))]


def test_a_field_that_is_no_json_value_is_refused() -> None:
    with pytest.raises(TypeError, match="JSON value"):
        Trace().emit(1.0, "x", {"agent": object()})


def test_the_digest_is_the_sha256_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    trace = Trace(path)
    for i in range(5000):  # more than one batch
        trace.emit(i * 0.001, "tick", {"agent": f"agent-{i}", "n": i})
    digest = trace.digest
    trace.close()
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest
    lines = data.decode().splitlines()
    assert len(lines) == trace.lines == 5000
    assert json.loads(lines[1]) == {"agent": "agent-1", "n": 1, "ev": "tick", "t": 0.001}


def test_without_the_c_encoder_lines_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    import json.encoder

    from sim import trace

    with_c = trace._line_encoder()
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    without_c = trace._line_encoder()
    assert with_c is not without_c
    for fields in FIELDS:
        line = {**fields, "t": 1.5, "ev": "x"}
        assert with_c(line) == without_c(line)
