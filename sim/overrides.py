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
import shlex
import tomllib
from collections.abc import Sequence
from typing import Any

#: One step of a key path: a name, optionally indexing an array of tables.
_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?")


class OverrideError(ValueError):
    """A ``--set`` item that cannot be applied; the message names it."""

    def __init__(self, item: str, message: str) -> None:
        super().__init__(f"--set {item}: {message}")


def set_options(overrides: Sequence[str]) -> str:
    """The ``--set`` options that repeat ``overrides`` on a shell command line."""
    return " ".join(f"--set {shlex.quote(item)}" for item in overrides)


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
        *path, (name, index) = _steps(item, key.strip())
        table: Any = data
        where = ""
        for step in path:
            table, where = _child(item, table, where, *step)
        value = parse_value(text.strip())
        if index is None:
            _as_table(item, table, where)[name] = value
        else:
            _array(item, table, where, name, index)[index] = value
    return data


def _child(item: str, table: Any, where: str, name: str, index: int | None) -> tuple[Any, str]:
    """The table ``name`` (or ``name[index]``) inside ``table`` at ``where``
    (created when missing, unless it is an array entry), and its path."""
    if index is None:
        return _as_table(item, table, where).setdefault(name, {}), _join(where, name)
    return _array(item, table, where, name, index)[index], f"{_join(where, name)}[{index}]"


def _as_table(item: str, table: Any, where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise OverrideError(item, f"{where} is no table")
    return table


def _array(item: str, table: Any, where: str, name: str, index: int) -> list[Any]:
    """The array of tables ``name`` in ``table``, which must have an entry ``index``."""
    items = _as_table(item, table, where).get(name)
    count = len(items) if isinstance(items, list) else 0
    if not isinstance(items, list) or index >= count:
        path = _join(where, name)
        tables = "table" if count == 1 else "tables"
        raise OverrideError(
            item, f"no {path}[{index}]: the scenario has {count} [[{path}]] {tables}"
        )
    return items


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name
