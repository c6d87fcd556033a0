"""A deliberately naive kill-switch listener: the seed document's
``KillSwitchListener._handle_command`` logic as written, made synchronous.

Do not use this. It exists so the conformance suite has something to catch
(see ``tests/test_conformance_examples.py`` for what it must find). Like the
seed it: reads the wall clock itself; matches the target if the instance
*or* the wildcard *or* the asset matches; remembers command ids only, in
memory; checks expiry without leeway and never "not yet valid" or the
lifetime; trusts unsigned fields without type checks; has no size limit and
no ordering (a delayed RESUME un-pauses); keeps nothing across a restart.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding


class NaiveListener:
    """One agent's listener. ``state`` is RUNNING, PAUSED or TERMINATED."""

    def __init__(self, instance_id: str, asset_id: str | None, public_key_pem: str | None) -> None:
        self.instance_id = instance_id
        self.asset_id = asset_id
        self.public_key = (
            serialization.load_pem_public_key(public_key_pem.encode()) if public_key_pem else None
        )
        self.state = "RUNNING"
        self._processed_commands: set[str] = set()  # replay prevention, as in the seed

    def handle_json(self, data: str) -> None:
        """Parse and handle one command; errors are swallowed, as the seed does."""
        try:
            command = json.loads(data)
            command["issued_at"] = datetime.fromisoformat(command["issued_at"])
            command["expires_at"] = datetime.fromisoformat(command["expires_at"])
            self._handle_command(command)
        except Exception:
            pass

    def _handle_command(self, command: dict[str, Any]) -> None:
        if self.state == "TERMINATED":
            return  # the seed's process has exited
        if (
            command["target_instance_id"] != self.instance_id
            and command["target_instance_id"] != "*"
            and command.get("target_asset_id") != self.asset_id
        ):
            return
        if command["command_id"] in self._processed_commands:
            return
        if command["expires_at"] < datetime.now(UTC):
            return
        if not self._verify_signature(command):
            return
        self._processed_commands.add(command["command_id"])
        kind = command["command_type"]
        if kind == "TERMINATE":
            self.state = "TERMINATED"
        elif kind == "PAUSE":
            self.state = "PAUSED"
        elif kind == "RESUME" and self.state == "PAUSED":
            self.state = "RUNNING"

    def _verify_signature(self, command: dict[str, Any]) -> bool:
        parts = [
            f"command_id={command['command_id']}",
            f"command_type={command['command_type']}",
            f"target_instance_id={command['target_instance_id']}",
            f"issued_by={command['issued_by']}",
            f"issued_at={command['issued_at'].isoformat()}",
            f"nonce={command['nonce']}",
        ]
        message = "|".join(sorted(parts)).encode()
        signature = bytes.fromhex(command["signature"])
        key: Any = self.public_key  # as the seed: whatever key type, the wire picks the padding
        try:
            if command["signature_algorithm"] == "RS256":
                key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            elif command["signature_algorithm"] == "ES256":
                key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
            else:
                return False
            return True
        except InvalidSignature:
            return False
