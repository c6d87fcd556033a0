"""Wire profiles: how a command becomes signed bytes and back."""

from __future__ import annotations

from killswitch.profiles.base import Envelope, MalformedCommand, Profile
from killswitch.profiles.seed import SeedProfile
from killswitch.profiles.v1 import V1Profile

PROFILES: dict[str, type[Profile]] = {"seed": SeedProfile, "v1": V1Profile}
DEFAULT_PROFILE = "v1"


def get_profile(name: str) -> Profile:
    """The profile called ``name``; a ValueError lists the known names otherwise."""
    try:
        return PROFILES[name]()
    except KeyError:
        raise ValueError(
            f"unknown profile {name!r}; known: {', '.join(sorted(PROFILES))}"
        ) from None


__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "Envelope",
    "MalformedCommand",
    "Profile",
    "SeedProfile",
    "V1Profile",
    "get_profile",
]
