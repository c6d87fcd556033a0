"""``--set KEY=VALUE``: change one key of a scenario for one run, without a copy.

The scenario files end with "the same file with cascade = "both" gives ...":
``killswitch sim run partition_heal --set control_plane.cascade=both`` is that
run. KEY is the key's path as error messages print it (``network.loss``,
``transports.poll.interval_s``, ``faults[0].at_s``); VALUE is a TOML value
(``0.1``, ``true``, ``["sse"]``, ``{dist = "constant", value = 2}``), and a
bare word that is no TOML value is a string (``both``). Overrides apply to the
parsed file before it is checked, so a wrong key or value gets the usual error
naming the key; the results record them and the reproduce line repeats them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from typing import Any

#: One step of a key path: a name, optionally indexing an array of tables.
_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?")


class OverrideError(ValueError):
    """A ``--set`` item that cannot be applied; the message names it."""

    def __init__(self, item: str, message: str) -> None:
        super().__init__(f"--set {item}: {message}")


def parse_value(text: str) -> Any:
    """A TOML value, or the text itself when it is none (``both``, ``sse``)."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def _steps(item: str, key: str) -> list[tuple[str, int | None]]:
    steps = []
    for part in key.split("."):
        match = _STEP.fullmatch(part)
        if match is None:
            raise OverrideError(
                item, f"{part!r} is no key (use e.g. network.loss or faults[0].at_s)"
            )
        name, index = match.groups()
        steps.append((name, None if index is None else int(index)))
    return steps


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``data`` (a parsed scenario file) with each ``KEY=VALUE`` of ``overrides``
    set, in order; missing tables on the way are created, arrays are not."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise OverrideError(item, "expected KEY=VALUE, e.g. network.loss=0.1")
        steps = _steps(item, key.strip())
        table: Any = data
        where = ""
        for depth, (name, index) in enumerate(steps):
            where = f"{where}.{name}" if where else name
            last = depth == len(steps) - 1 and index is None
            if not isinstance(table, dict):
                raise OverrideError(item, f"{where.rsplit('.', 1)[0]} is no table")
            if last:
                table[name] = parse_value(text.strip())
                break
            if index is None:
                table = table.setdefault(name, {})
                continue
            items = table.get(name)
            if not isinstance(items, list) or index >= len(items):
                count = len(items) if isinstance(items, list) else 0
                tables = "table" if count == 1 else "tables"
                raise OverrideError(
                    item, f"no {where}[{index}]: the scenario has {count} [[{where}]] {tables}"
                )
            where = f"{where}[{index}]"
            if depth == len(steps) - 1:
                items[index] = parse_value(text.strip())
            else:
                table = items[index]
    return data
