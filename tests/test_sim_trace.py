"""The trace: a line is compact JSON, the time (six decimals) and the event
first, then the fields in their order (the run's digest depends on the bytes);
a line writer gives the same bytes as ``emit``; the digest is the SHA-256 of
the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from sim.trace import Trace, line_writer

FIELDS: list[dict[str, Any]] = [
    {"agent": "agent-7", "state": "TERMINATING"},
    {"why": 'a "quoted" reason', "via": "caf\u00e9 \u2603", "agents": 10101},
    {"durable": True, "op": None, "skew_s": -12.5, "until": 1e-7},
    {},
]


@pytest.mark.parametrize("t", [0.0, 12.3456789, 1e-7, 1234567.0000004, 120.0])
@pytest.mark.parametrize("fields", FIELDS)
def test_a_line_is_time_event_then_fields_in_order(t: float, fields: dict[str, Any]) -> None:
    trace = Trace()
    trace.emit(t, "some event", dict(fields))
    expected = {"t": float(f"{t:.6f}"), "ev": "some event", **fields}
    dumped = json.dumps(expected, separators=(",", ":"))
    # The time is written fixed-point with six decimals, not as Python's float repr.
    assert trace._pending == [dumped.replace(f'"t":{expected["t"]!r}', f'"t":{t:.6f}', 1)]
    decoded = json.loads(trace._pending[0])
    assert decoded == expected
    assert list(decoded) == list(expected)


@pytest.mark.parametrize("t", [0.0, 12.3456789, 1234567.0000004])
@pytest.mark.parametrize("fields", FIELDS)
def test_a_line_writer_writes_what_emit_writes(t: float, fields: dict[str, Any]) -> None:
    by_emit, by_writer = Trace(), Trace()
    by_emit.emit(t, "some event", dict(fields))
    line_writer("some event", *fields)(by_writer, t, *fields.values())
    assert by_writer._pending == by_emit._pending
    assert by_writer.lines == 1


def test_a_line_writer_refuses_the_wrong_number_of_values() -> None:
    write = line_writer("halted", "agent", "state")
    with pytest.raises(TypeError):
        write(Trace(), 1.0, "agent-1")
    with pytest.raises(TypeError):
        write(Trace(), 1.0, "agent-1", "PAUSED", "extra")


def test_a_field_that_is_no_json_value_is_refused() -> None:
    with pytest.raises(TypeError, match="JSON value"):
        Trace().emit(1.0, "x", {"agent": object()})
    with pytest.raises(TypeError, match="JSON value"):
        line_writer("x", "agent")(Trace(), 1.0, object())


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
    assert lines[1] == '{"t":0.001000,"ev":"tick","agent":"agent-1","n":1}'


def test_without_the_c_encoder_lines_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    import json.encoder

    from sim import trace

    with_c = trace._json_encoder()
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    without_c = trace._json_encoder()
    assert with_c is not without_c
    for fields in FIELDS:
        assert with_c(fields) == without_c(fields)
    with pytest.raises(TypeError, match="JSON value"):
        without_c({"agent": object()})
