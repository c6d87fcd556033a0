"""The run's one source of randomness, and the latency/duration distributions.

Every random draw in a run comes from one :class:`random.Random` seeded from
the run seed, in a fixed order, so the same scenario and seed give the same
trace byte for byte. Replication and swarm seeds are derived from a master
seed by hashing, so replication ``i`` does not depend on how many others ran
or on which process ran it.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Literal

from sim.schema import FieldError


def derive_seed(master: int, *labels: object) -> int:
    """A 63-bit seed derived from ``master`` and ``labels`` (stable across machines)."""
    text = "\0".join([str(master), *map(str, labels)]).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") >> 1


#: Lognormal draws are ``median * exp(sigma * z)``: at sigma 20 a 5-sigma draw is
#: already e^100 times the median, and exp overflows past e^709.
MAX_SIGMA = 20.0


DistKind = Literal["constant", "uniform", "exponential", "lognormal"]

#: The parameters each distribution takes, all of them required in a scenario.
PARAMETERS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "uniform": ("low", "high"),
    "exponential": ("mean",),
    "lognormal": ("median", "sigma"),
}


@dataclass(frozen=True)
class Dist:
    """A distribution of durations in seconds, written in TOML as an inline table:
    ``{dist = "constant", value = 0.05}``, ``{dist = "uniform", low = 1, high = 5}``,
    ``{dist = "exponential", mean = 2}``, ``{dist = "lognormal", median = 0.05, sigma = 0.5}``.
    """

    #: No default: a table that forgot to name its distribution would otherwise
    #: silently become a constant 0 (``latency = {}`` meaning no latency at all).
    dist: DistKind
    value: float = 0.0
    low: float = 0.0
    high: float = 0.0
    mean: float = 0.0
    median: float = 0.0
    sigma: float = 0.0

    @classmethod
    def check_table(cls, given: dict[str, object]) -> None:
        """The keys a scenario wrote (sim.schema calls this before construction):
        only the distribution's own parameters, and every one of them. A
        parameter left out would otherwise take its default 0, a typo'd
        ``{dist = "constant"}`` becoming a zero delay."""
        needs = PARAMETERS[str(given["dist"])]
        extra = sorted(set(given) - {"dist", *needs})
        if extra:
            raise ValueError(
                f"a {given['dist']} distribution takes {', '.join(needs)}, not {', '.join(extra)}"
            )
        for name in needs:
            if name not in given:
                raise FieldError(
                    name, f"missing; a {given['dist']} distribution needs {' and '.join(needs)}"
                )

    def __post_init__(self) -> None:
        needs = PARAMETERS[self.dist]
        given = {
            name
            for name in ("value", "low", "high", "mean", "median", "sigma")
            if getattr(self, name)
        }
        extra = given - set(needs)
        if extra:
            takes, got = ", ".join(needs), ", ".join(sorted(extra))
            raise ValueError(f"a {self.dist} distribution takes {takes}, not {got}")
        if any(getattr(self, n) < 0 for n in needs):
            raise ValueError(f"distribution parameters must be non-negative: {self}")
        if self.dist == "uniform" and self.low > self.high:
            raise ValueError(f"uniform needs low <= high, got low={self.low} high={self.high}")
        if self.dist in ("exponential", "lognormal") and (self.mean or self.median) <= 0:
            raise ValueError(f"a {self.dist} distribution needs a positive {needs[0]}")
        if self.sigma > MAX_SIGMA:
            raise ValueError(
                f"a lognormal sigma above {MAX_SIGMA:g} is no duration (sigma {self.sigma:g}"
                " would overflow the draw)"
            )

    def sample(self, rng: random.Random) -> float:
        kind = self.dist
        if kind == "constant":
            return self.value
        if kind == "uniform":
            return rng.uniform(self.low, self.high)
        if kind == "exponential":
            return rng.expovariate(1.0 / self.mean)
        return self.median * rng.lognormvariate(0.0, self.sigma)

    @classmethod
    def const(cls, value: float) -> Dist:
        return cls("constant", value=value)
