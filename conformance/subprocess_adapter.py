"""Implementations in any language, as a subprocess speaking newline-delimited
JSON over stdin/stdout (diagnostics on stderr). Message reference:
``conformance/PROTOCOL.md``.

One process serves the whole run; each test example re-initialises it with
``init``. Every request has a deadline, enforced with ``selectors`` on both
pipes (a child that stops reading cannot block the harness either). A child
that crashes, hangs or prints something that is not a valid reply fails the
current case with the reason and is killed; the next case starts a new one.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import selectors
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conformance.adapter import (
    Capabilities,
    Config,
    ImplementationError,
    Observation,
    Unresponsive,
)

#: The longest reply line the harness reads (bytes, newline excluded): a longer
#: one is a protocol error, not something to buffer without end.
MAX_LINE = 16 * 1024 * 1024
#: Environment variable set in the implementation's process (see :func:`_kill_marked`).
RUN_TOKEN = "KILLSWITCH_CONFORM_RUN"


class Process:
    """One child process and its request/reply plumbing."""

    def __init__(self, argv: Sequence[str], timeout: float, stderr_path: Path) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self.stderr_path = stderr_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.generation = 0
        #: Where the current process's stderr starts in the log (the log holds
        #: every process's, one after the other; messages quote only the current one).
        self._stderr_start = 0
        self._buffer = bytearray()
        self._next_id = 0
        #: In the child's environment, inherited by whatever it starts: how
        #: :meth:`kill` finds descendants that left the process group (setsid daemons).
        self.token = f"{os.getpid()}-{secrets.token_hex(8)}"
        # One selector per pipe for the process's life: not one per request.
        self._selectors: dict[int, selectors.BaseSelector] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def ensure(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self.kill()
        try:
            with open(self.stderr_path, "ab") as stderr:
                self._stderr_start = os.fstat(stderr.fileno()).st_size
                self.proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    start_new_session=True,
                    env={**os.environ, RUN_TOKEN: self.token},
                )
        except OSError as exc:
            raise Unresponsive(f"could not start {shlex.join(self.argv)!r}: {exc}") from None
        assert self.proc.stdin is not None and self.proc.stdout is not None
        os.set_blocking(self.proc.stdin.fileno(), False)
        for pipe, event in (
            (self.proc.stdin, selectors.EVENT_WRITE),
            (self.proc.stdout, selectors.EVENT_READ),
        ):
            selector = selectors.DefaultSelector()
            selector.register(pipe.fileno(), event)
            self._selectors[pipe.fileno()] = selector
        self._buffer = bytearray()
        self.generation += 1

    def kill(self) -> None:
        for selector in self._selectors.values():
            selector.close()
        self._selectors.clear()
        proc, self.proc = self.proc, None
        if proc is None:
            return
        # The child leads its own process group (start_new_session): kill the group,
        # so what it started (``bash -c "listener ..."``, workers) dies with it,
        # even when the child itself has already exited.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:  # no such group left, or not ours: the child alone
            if proc.poll() is None:
                proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        _kill_marked(f"{RUN_TOKEN}={self.token}".encode())
        for pipe in (proc.stdin, proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass

    def stderr_tail(self, lines: int = 5) -> str:
        """The last non-blank lines the current process wrote on stderr."""
        try:
            with open(self.stderr_path, "rb") as log:
                size = os.fstat(log.fileno()).st_size
                log.seek(max(self._stderr_start, size - 64 * 1024))
                text = log.read().decode("utf-8", "replace")
        except OSError:
            return ""
        tail = [line for line in text.splitlines() if line.strip()][-lines:]
        return " | ".join(tail)

    def _died(self, what: str) -> ImplementationError:
        code = None
        if self.proc is not None:
            # Its stdout closed; give it a moment to finish exiting, for the exit code.
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.proc.wait(timeout=1.0)
        tail = self.stderr_tail()
        self.kill()
        detail = f" (exit code {code})" if code is not None else ""
        return ImplementationError(
            f"the implementation {what}{detail}" + (f"; stderr: {tail}" if tail else "")
        )

    # -- one request ---------------------------------------------------------------------

    def request(self, message: dict[str, Any], expect: str) -> dict[str, Any]:
        """Send ``message`` and return the reply of type ``expect`` (raises otherwise)."""
        self.ensure()
        self._next_id += 1
        ident = self._next_id
        line = (
            json.dumps({**message, "id": ident}, separators=(",", ":"), allow_nan=False).encode()
            + b"\n"
        )
        deadline = time.monotonic() + self.timeout
        self._write(line, deadline, message["type"])
        reply = self._read_line(deadline, message["type"])
        try:
            obj = json.loads(reply, parse_constant=_not_json)
        except _NotJSON as exc:
            raise self._garbage(reply, f"{exc} is not JSON (RFC 8259)") from None
        except ValueError:
            raise self._garbage(reply) from None
        if not isinstance(obj, dict):
            raise self._garbage(reply)
        if obj.get("type") == "error":
            text = obj.get("text", "")
            raise ImplementationError(f"{message['type']} answered with an error: {text}")
        if obj.get("in_reply_to") != ident or obj.get("type") != expect:
            raise self._garbage(reply, f"expected a {expect} with in_reply_to {ident}")
        return obj

    def _garbage(self, line: bytes, why: str = "not a JSON object") -> ImplementationError:
        shown = line[:120].decode("utf-8", "replace")
        self.kill()
        return ImplementationError(
            f"the implementation printed garbage on stdout ({why}): {shown!r}"
        )

    def _write(self, data: bytes, deadline: float, what: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        fd = self.proc.stdin.fileno()
        selector = self._selectors[fd]
        view = memoryview(data)
        while view:
            # The pipe has room almost always: write first, wait only when it is full.
            try:
                view = view[os.write(fd, view) :]
                continue
            except BlockingIOError:
                pass
            except OSError:  # BrokenPipeError included
                raise self._died(f"exited while {what} was being sent") from None
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                self.kill()
                raise Unresponsive(
                    f"{what}: the implementation stopped reading stdin ({self.timeout:g} s)"
                )

    def _read_line(self, deadline: float, what: str) -> bytes:
        """The next non-blank line on stdout. Linear in the line's length: chunks
        accumulate in a bytearray and only the newest is searched for a newline."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        selector = self._selectors[fd]
        buffer = self._buffer
        searched = 0  # no newline in buffer[:searched]
        while True:
            newline = buffer.find(b"\n", searched)
            if newline >= 0:
                line = bytes(buffer[:newline])
                del buffer[: newline + 1]
                searched = 0
                if not line.strip():
                    continue  # blank lines are ignored
                return line
            searched = len(buffer)
            if searched > MAX_LINE:
                self.kill()
                raise ImplementationError(
                    f"the implementation's reply to {what} is longer than {MAX_LINE} bytes"
                    f" (the protocol's limit for one line): {bytes(buffer[:120])!r}..."
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                self.kill()
                raise Unresponsive(f"no reply to {what} within {self.timeout:g} s (hung?)")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise self._died(f"exited before answering {what}")
            buffer += chunk


def _kill_marked(marker: bytes) -> None:
    """SIGKILL every process of ours whose environment holds ``marker``: the
    descendants of a child that detached from its process group (``setsid`` and a
    double fork), which killing the group misses. Linux only (``/proc``); a
    descendant that clears its environment is not found."""
    proc = Path("/proc")
    if not sys.platform.startswith("linux") or not proc.is_dir():
        return
    me = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours
            continue
        if marker in environ.split(b"\0"):
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)


class _NotJSON(ValueError):
    """A token Python's json module accepts but JSON does not: NaN, Infinity."""


def _not_json(token: str) -> Any:
    raise _NotJSON(token)


class SubprocessFactory:
    """``factory()`` for ``--cmd``: every call is a handle on the one shared process."""

    def __init__(self, command: str, *, timeout: float = 5.0, work_dir: Path) -> None:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ValueError(f"--cmd {command!r}: {exc}") from None
        if not argv:
            raise ValueError("--cmd is empty")
        self.command = command
        work_dir.mkdir(parents=True, exist_ok=True)
        self.process = Process(argv, timeout, work_dir / "implementation.stderr.log")
        try:
            self.capabilities = self._describe()
        except ImplementationError as exc:
            # No run follows: say what the process said, and leave nothing running.
            tail = self.process.stderr_tail()
            self.process.kill()
            if tail and "; stderr: " not in str(exc):
                raise type(exc)(f"{exc}; stderr: {tail}") from None
            raise
        except BaseException:
            self.process.kill()
            raise

    def _describe(self) -> Capabilities:
        reply = self.process.request({"type": "describe"}, "describe_ok")
        try:
            return Capabilities.from_json(reply.get("capabilities", {}), "describe_ok.capabilities")
        except ValueError as exc:
            raise ImplementationError(f"describe_ok: {exc}") from None

    def __call__(self) -> SubprocessImplementation:
        return SubprocessImplementation(self)

    def close(self) -> None:
        self.process.kill()


class SubprocessImplementation:
    """One instance (an ``init`` of the shared process) behind the in-process contract."""

    def __init__(self, factory: SubprocessFactory) -> None:
        self.factory = factory
        self.capabilities = factory.capabilities
        self._generation = -1

    @property
    def _process(self) -> Process:
        return self.factory.process

    def _send(self, message: dict[str, Any], expect: str) -> dict[str, Any]:
        if message["type"] != "init" and self._process.generation != self._generation:
            raise ImplementationError("the implementation process was restarted since init")
        return self._process.request(message, expect)

    def start(self, config: Config) -> None:
        self._process.ensure()
        self._generation = self._process.generation
        self._send({"type": "init", "config": config.to_json()}, "init_ok")

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        reply = self._send(
            {
                "type": "deliver",
                "raw_b64": base64.b64encode(raw).decode("ascii"),
                "now": now,
                "via": via,
                "to": to,
            },
            "deliver_ok",
        )
        # Values are checked by the context (conformance.context.Instance.deliver).
        return Observation(
            reply.get("accepted"),
            reply.get("reason"),
            reply.get("state"),  # type: ignore[arg-type]
            reply.get("hard_kill_at"),
        )

    def state(self, agent: str | None = None) -> str:
        return self._send({"type": "state", "agent": agent}, "state_ok").get("state")  # type: ignore[return-value]

    def advance(self, now: float) -> None:
        self._send({"type": "advance", "now": now}, "advance_ok")

    def restart(self) -> None:
        self._send({"type": "restart"}, "restart_ok")
