"""Read and check report inputs: the simulator's ``results.json`` and the
conformance suite's ``conformance.json``, told apart by their ``schema`` field.

Every problem a user can cause (a missing or truncated file, a file from a
newer killswitch, a run with no replications) raises :class:`ReportInputError`
naming the file and, where it helps, the field, so the CLI prints one line and
exits 2 instead of failing later inside a plot.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Schema kinds this version reads, and the newest version of each.
SIM_KIND = "killswitch.sim"
CONFORMANCE_KIND = "killswitch.conformance"
SUPPORTED = {SIM_KIND: 1, CONFORMANCE_KIND: 1}
_SCHEMA_RE = re.compile(r"^(?P<kind>[A-Za-z0-9_.-]+)/(?P<version>\d+)$")


class ReportInputError(ValueError):
    """A report input the renderer cannot use; the message says where and why."""

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = str(path)
        self.message = message


@dataclass(frozen=True)
class SimInput:
    """One checked ``results.json``. ``label`` is unique among the inputs of a report."""

    path: Path
    data: dict[str, Any]
    label: str

    @property
    def name(self) -> str:
        return str(self.data["scenario"]["name"])

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.data["summary"])

    @property
    def first_run(self) -> dict[str, Any]:
        return dict(self.data.get("first_run") or {})

    @property
    def sla(self) -> dict[str, float]:
        return {str(k): float(v) for k, v in self.data["sla"].items()}

    @property
    def passed(self) -> bool:
        return bool(self.data["passed"])


@dataclass(frozen=True)
class ConformanceInput:
    """One checked ``conformance.json``."""

    path: Path
    data: dict[str, Any]
    label: str

    @property
    def cases(self) -> list[dict[str, Any]]:
        return list(self.data["cases"])

    @property
    def passed(self) -> bool:
        if "passed" in self.data:
            return bool(self.data["passed"])
        if isinstance(self.data.get("exit_code"), int):
            return bool(self.data["exit_code"] == 0)
        return not any(str(c.get("verdict")) == "FAIL" for c in self.cases)


Input = SimInput | ConformanceInput


#: File names looked for when a folder is given (a run's --out folder).
INPUT_NAMES = ("results.json", "conformance.json")


def resolve(path: Path) -> Path:
    """A run's folder stands for the results.json or conformance.json inside it."""
    if path.is_dir():
        for name in INPUT_NAMES:
            if (path / name).is_file():
                return path / name
    return path


def read_json(path: Path) -> dict[str, Any]:
    """The file's top-level JSON object, or a clear error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportInputError(path, "no such file") from None
    except IsADirectoryError:
        raise ReportInputError(
            path, "is a folder without results.json or conformance.json"
        ) from None
    except UnicodeDecodeError:
        raise ReportInputError(path, "not UTF-8 text; expected a JSON results file") from None
    except OSError as exc:
        raise ReportInputError(path, f"cannot read: {exc.strerror}") from None
    if not text.strip():
        raise ReportInputError(path, "empty file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = "" if text.rstrip().endswith(("}", "]")) else " (truncated?)"
        raise ReportInputError(
            path, f"not valid JSON{hint}: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise ReportInputError(path, f"expected a JSON object, found {type(data).__name__}")
    return data


def schema_of(path: Path, data: dict[str, Any]) -> str:
    """The schema kind (``killswitch.sim`` or ``killswitch.conformance``) after
    checking that this version can read it."""
    schema = data.get("schema")
    if schema is None:
        raise ReportInputError(
            path, 'no "schema" field: not a killswitch results.json or conformance.json'
        )
    match = _SCHEMA_RE.match(str(schema))
    known = ", ".join(f"{k}/{v}" for k, v in SUPPORTED.items())
    if match is None or match["kind"] not in SUPPORTED:
        raise ReportInputError(path, f"unknown schema {schema!r}; this version reads {known}")
    kind, version = match["kind"], int(match["version"])
    newest = SUPPORTED[kind]
    if version > newest:
        raise ReportInputError(
            path,
            f"schema {schema} was written by a newer killswitch; this version reads"
            f" {kind}/{newest} (upgrade killswitch to render it)",
        )
    if version < 1:
        raise ReportInputError(path, f"unknown schema version {schema!r}")
    return kind


def _require(path: Path, data: dict[str, Any], dotted: str, kind: type | tuple[type, ...]) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ReportInputError(path, f"missing field {dotted!r}")
        value = value[part]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
        expected = (
            kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        )
        raise ReportInputError(
            path, f"field {dotted!r} should be {expected}, found {type(value).__name__}"
        )
    return value


def _check_distribution(path: Path, where: str, d: Any) -> None:
    if not isinstance(d, dict) or not isinstance(d.get("n"), int):
        raise ReportInputError(path, f"field {where!r} should be an object with a count 'n'")
    if d["n"] > 0:
        for key in ("p50", "p90", "p99", "p999", "max"):
            if not isinstance(d.get(key), int | float):
                raise ReportInputError(path, f"field '{where}.{key}' should be a number")


def check_sim(path: Path, data: dict[str, Any]) -> None:
    _require(path, data, "scenario.name", str)
    _require(path, data, "sla", dict)
    _require(path, data, "expectations", list)
    _require(path, data, "passed", bool)
    runs = _require(path, data, "runs", list)
    replications = _require(path, data, "replications", int)
    summary_runs = _require(path, data, "summary.runs", int)
    if replications < 1 or summary_runs < 1 or not runs:
        raise ReportInputError(path, "holds no runs (0 replications): nothing to report")
    for dotted in ("summary.phases", "summary.by_transport", "summary.compliance"):
        _require(path, data, dotted, dict)
    for phase, d in data["summary"]["phases"].items():
        _check_distribution(path, f"summary.phases.{phase}", d)
    # by_link is absent from results written before [[network.links]] existed.
    groupings = ["by_transport"] + (["by_link"] if "by_link" in data["summary"] else [])
    for grouping in groupings:
        _require(path, data, f"summary.{grouping}", dict)
        for group, phases in data["summary"][grouping].items():
            where = f"summary.{grouping}.{group}"
            if not isinstance(phases, dict):
                raise ReportInputError(path, f"field '{where}' should be object")
            for phase, d in phases.items():
                _check_distribution(path, f"{where}.{phase}", d)
    for key in ("met", "n"):
        _require(path, data, f"summary.compliance.{key}", int)
    _require(path, data, "summary.compliance.rate", (int, float))
    _require(path, data, "summary.compliance.wilson95", list)
    for i, outcome in enumerate(data["expectations"]):
        if not isinstance(outcome, dict) or not {"name", "passed"} <= outcome.keys():
            raise ReportInputError(path, f"expectations[{i}] needs 'name' and 'passed'")


def check_conformance(path: Path, data: dict[str, Any]) -> None:
    cases = _require(path, data, "cases", list)
    if not cases:
        raise ReportInputError(path, "holds no cases: nothing to report")
    for i, case in enumerate(cases):
        if not isinstance(case, dict) or not isinstance(case.get("id"), str):
            raise ReportInputError(path, f"cases[{i}] needs a string 'id'")
        if not isinstance(case.get("verdict"), str):
            raise ReportInputError(path, f"cases[{i}] ({case['id']}) needs a string 'verdict'")


def _unique(label: str, taken: set[str]) -> str:
    candidate, n = label, 2
    while candidate in taken:
        candidate, n = f"{label}-{n}", n + 1
    taken.add(candidate)
    return candidate


def implementation_name(data: dict[str, Any]) -> str:
    """The declared name of the implementation, else its --impl/--cmd target."""
    impl = data.get("implementation")
    if isinstance(impl, dict):
        caps = impl.get("capabilities")
        declared = caps.get("name") if isinstance(caps, dict) else None
        return str(declared or impl.get("name") or impl.get("target") or "implementation")
    return str(impl or "implementation")


def load_inputs(paths: list[Path]) -> list[Input]:
    """Read every input, in order; labels are the scenario or implementation names,
    made unique ("baseline", "baseline-2") for plots and sections."""
    if not paths:
        raise ReportInputError("report", "no input files given")
    taken: set[str] = set()
    out: list[Input] = []
    for given in paths:
        path = resolve(given)
        data = read_json(path)
        kind = schema_of(path, data)
        if kind == SIM_KIND:
            check_sim(path, data)
            label = _unique(_slug(data["scenario"]["name"]), taken)
            out.append(SimInput(path, data, label))
        else:
            check_conformance(path, data)
            profile = data.get("profile")
            name = implementation_name(data) + (f"-{profile}" if profile else "")
            label = _unique(_slug(name), taken)
            out.append(ConformanceInput(path, data, label))
    return out


def _slug(name: str) -> str:
    """A file-name-safe label."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    return slug or "run"
