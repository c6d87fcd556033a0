"""Resolving a wire profile by name: ``seed``, ``v1``, or a user class ``module:Class``."""

from __future__ import annotations

from conformance.adapter import BadTarget, load_object
from killswitch import PROFILES, Profile, get_profile


def resolve_profile(name: str) -> Profile:
    """The profile called ``name`` (built-in) or the class at ``module:Class``.

    A BadTarget names what is wrong (unknown name, import failure, not a Profile).
    """
    if ":" not in name:
        try:
            return get_profile(name)
        except ValueError:
            known = ", ".join(sorted(PROFILES))
            raise BadTarget(
                f"unknown profile {name!r}; use one of {known} or module:Class"
            ) from None
    cls = load_object(name, what="profile")
    if not (isinstance(cls, type) and issubclass(cls, Profile)):
        raise BadTarget(f"profile {name!r} is not a subclass of killswitch.Profile")
    try:
        return cls()
    except Exception as exc:
        raise BadTarget(f"profile {name!r} could not be constructed: {exc}") from None


def profile_label(name: str) -> str:
    """A short name for reports (the class's ``name`` attribute for user classes)."""
    if ":" not in name:
        return name
    return f"{getattr(resolve_profile(name), 'name', name)} ({name})"
