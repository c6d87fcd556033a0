"""Strict loading of nested TOML tables into frozen dataclasses.

Every error names the file, the key path and what was expected, and unknown
keys are errors, not ignored: a typo in a chaos scenario must not silently
run the wrong experiment.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


class ScenarioError(ValueError):
    """A scenario file is broken: ``where`` is ``file: key.path``."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source = source
        self.path = path
        self.message = message
        where = f"{source}: {path}" if path else source
        super().__init__(f"{where}: {message}")


class FieldError(ValueError):
    """A dataclass's own check (``__post_init__`` or ``check_table``) blaming one
    ``key`` of its table (or, at the top, a key path such as ``operator[2].via``):
    the loader reports it at that key's path, not the table's, so the message
    points at the value to change."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is list:
        return f"a list of {_type_name(get_args(tp)[0])}"
    if origin is tuple:
        return "a list of " + ", ".join(_type_name(a) for a in get_args(tp))
    if tp is type(None):
        return "nothing"
    if dataclasses.is_dataclass(tp):
        return f"a table ({getattr(tp, '__name__', tp)})"
    return {float: "a number", int: "an integer", bool: "true or false", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def load(cls: type[T], data: Any, source: str, path: str = "") -> T:
    """Build dataclass ``cls`` from ``data`` (a TOML table), strictly."""
    return typing.cast(T, _convert(cls, data, source, path))


def _convert(tp: Any, value: Any, source: str, path: str) -> Any:
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _load_dataclass(tp, value, source, path)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, source, path)
            except ScenarioError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise ScenarioError(source, path, f"expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in get_args(tp):
            raise ScenarioError(source, path, f"expected {_type_name(tp)}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ScenarioError(source, path, f"expected {_type_name(tp)}, got {value!r}")
        (item,) = get_args(tp)
        return [_convert(item, v, source, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        items = get_args(tp)
        if not isinstance(value, list) or len(value) != len(items):
            raise ScenarioError(source, path, f"expected {_type_name(tp)}, got {value!r}")
        return tuple(
            _convert(t, v, source, f"{path}[{i}]")
            for i, (t, v) in enumerate(zip(items, value, strict=True))
        )
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ScenarioError(source, path, f"expected a number, got {value!r}")
        if not math.isfinite(value):  # TOML has inf and nan: a run to inf never ends
            raise ScenarioError(source, path, f"expected a finite number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(source, path, f"expected an integer, got {value!r}")
        return value
    if tp in (bool, str):
        if not isinstance(value, tp):
            raise ScenarioError(source, path, f"expected {_type_name(tp)}, got {value!r}")
        return value
    if tp is Any:
        return value
    raise TypeError(f"schema bug: unsupported type {tp!r} at {path}")


def _load_dataclass(cls: type, value: Any, source: str, path: str) -> Any:
    if not isinstance(value, dict):
        raise ScenarioError(source, path, f"expected {_type_name(cls)}, got {value!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ScenarioError(
            source, where, f"unknown key; expected one of: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, field in fields.items():
        where = _join(path, name)
        if name in value:
            kwargs[name] = _convert(hints[name], value[name], source, where)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ScenarioError(source, where, f"missing; expected {_type_name(hints[name])}")
    # A class whose defaults must not stand in for a key the file left out (a
    # distribution without its parameters is no distribution) checks which
    # keys were written: __post_init__ cannot tell a default from a value.
    check_table = getattr(cls, "check_table", None)
    try:
        if check_table is not None:
            check_table(kwargs)
        instance = cls(**kwargs)
    except FieldError as exc:
        raise ScenarioError(source, _join(path, exc.key), exc.message) from None
    except ValueError as exc:  # __post_init__ cross-field checks
        raise ScenarioError(source, path, str(exc)) from None
    return instance
