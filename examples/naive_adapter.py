"""The naive listener under the conformance suite: a wall-clock adapter (about 25 lines).

killswitch conform --impl examples/naive_adapter.py:factory
"""

from naive_listener import NaiveListener

from conformance.adapter import Capabilities, Config, Observation


class NaiveAdapter:
    capabilities = Capabilities(
        clock="wall", profiles=("seed",), algorithms=("RS256",), features=frozenset({"pause"})
    )

    def start(self, config: Config) -> None:
        self.config = config
        pem = config.trusted_keys[0].public_pem if config.trusted_keys else None
        self.listener = NaiveListener(config.instance_id, config.asset_id, pem)

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        self.listener.handle_json(raw.decode("utf-8", "replace"))
        return Observation(accepted=None, reason=None, state=self.listener.state)

    def state(self, agent: str | None = None) -> str:
        return self.listener.state

    def restart(self) -> None:
        self.start(self.config)  # nothing survives: the listener keeps everything in memory

    def advance(self, now: float) -> None:
        pass  # never called in wall-clock mode


def factory() -> NaiveAdapter:
    return NaiveAdapter()
