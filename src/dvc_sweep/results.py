"""The results of a sweep and the versioned JSON file that stores them (``sweep-results.json``).

The file is strict JSON: non-finite floats anywhere in it are written as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"``, and `read_results` turns those strings back
into floats in the metrics and in the numeric fields of the schema. The schema is
documented field by field in ``docs/results-schema.md``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from dvc_sweep import __version__
from dvc_sweep.errors import ResultsFileError

SCHEMA_VERSION = 1
DEFAULT_RESULTS_FILE = "sweep-results.json"

Status = Literal["success", "failed", "timeout", "not_run"]
STATUSES: tuple[str, ...] = get_args(Status)
BaselineSource = Literal["commit", "run", "missing"]
BASELINE_SOURCES: tuple[str, ...] = get_args(BaselineSource)

_NON_FINITE_TEXT = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@dataclass
class PointResult:
    """The outcome of one point of the sweep, run as one DVC experiment."""

    index: int
    name: str
    status: Status
    swept: dict[str, Any]
    overrides: list[str]
    rev: str | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    duration: float | None = None
    exit_status: int | None = None
    error: str | None = None
    log_tail: str | None = None
    log_path: str | None = None
    reused: bool = False


@dataclass
class Baseline:
    """The commit the sweep ran on, with its params and metrics."""

    commit: str
    params: dict[str, dict[str, Any]]
    metrics: dict[str, dict[str, Any]]
    source: BaselineSource
    name: str | None = None


@dataclass
class Shard:
    """The share of a sweep's points that one run took: shard `index` of `count`, from 1."""

    index: int
    count: int


@dataclass
class SweepResults:
    """Everything a sweep produced: the spec, the baseline and one result per point."""

    schema_version: int
    spec: dict[str, Any]
    baseline: Baseline
    points: list[PointResult]
    started_at: str
    finished_at: str | None
    wall_time: float | None
    jobs: int
    interrupted: bool = False
    tool_version: str = __version__
    dvc_version: str | None = None
    shard: Shard | None = None


# --- writing -------------------------------------------------------------------------------


def _encode_non_finite(value: object) -> object:
    """Return a copy of JSON-like data with NaN and the infinities replaced by strings."""
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {key: _encode_non_finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode_non_finite(item) for item in value]
    return value


def results_to_dict(results: SweepResults) -> dict[str, Any]:
    """Convert results to the plain data of the file, with non-finite floats as strings."""
    data: dict[str, Any] = {
        key: _encode_non_finite(value) for key, value in asdict(results).items()
    }
    return data


def dumps_results(results: SweepResults) -> str:
    """Serialize results to the text of a results file (strict JSON, trailing newline)."""
    return (
        json.dumps(results_to_dict(results), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    )


def write_results(results: SweepResults, path: Path) -> None:
    """Write results to ``path`` atomically: a reader sees the old file or the new one.

    The text goes to a temporary file in the same directory, which then replaces ``path``
    with `os.replace`. Missing parent directories are created.
    """
    text = dumps_results(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temp_path = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates the file with mode 0600; give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        temp_path.chmod(0o666 & ~umask)
        temp_path.replace(path)  # os.replace: atomic on POSIX and on Windows
    except BaseException:
        with contextlib.suppress(OSError):
            temp_path.unlink()
        raise


# --- reading -------------------------------------------------------------------------------

_REWRITE_HINT = (
    "the file is written by `dvc-sweep run`; run the sweep again to write a new one "
    "(finished experiments are reused)"
)


def read_results(path: Path) -> SweepResults:
    """Read a results file written by `write_results`.

    Raises `ResultsFileError` with the fix when the file is missing or unreadable, is not
    valid JSON (the message gives line and column), or has an unknown ``schema_version``.
    It also raises when required fields are missing or have the wrong type, and then lists
    all of them, each with its JSON path.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsFileError(
            f"results file not found: {path}",
            hint="run `dvc-sweep run` to create it, or pass the path of an existing results file",
        ) from None
    except UnicodeDecodeError as error:
        raise ResultsFileError(
            f"{path}: invalid UTF-8 at byte {error.start}", hint=_REWRITE_HINT
        ) from None
    except OSError as error:
        raise ResultsFileError(
            f"cannot read results file {path}: {error.strerror or error}",
            hint="check that the path names a readable file",
        ) from None

    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ResultsFileError(
            f"{path}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}",
            hint=_REWRITE_HINT,
        ) from None

    return results_from_dict(data, source=str(path))


def results_from_dict(data: object, *, source: str = "<results>") -> SweepResults:
    """Build results from the plain data of a results file; ``source`` names it in errors."""
    if not isinstance(data, dict):
        raise ResultsFileError(
            f"{source}: expected a JSON object at the top level, found {_json_type(data)}",
            hint=_REWRITE_HINT,
        )
    version = data.get("schema_version")
    if version is None:
        raise ResultsFileError(
            f"{source}: missing field 'schema_version'; this is not a dvc-sweep results file",
            hint="pass the sweep-results.json file that `dvc-sweep run` wrote",
        )
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise ResultsFileError(
            f"{source}: unknown schema_version {version!r}; this dvc-sweep "
            f"({__version__}) reads schema_version {SCHEMA_VERSION}",
            hint="read it with the dvc-sweep version that wrote it, or run the sweep again "
            "with this version",
        )

    checker = _Checker()
    results = checker.sweep_results(data)
    if checker.problems:
        listed = "\n".join(f"  {problem}" for problem in checker.problems)
        raise ResultsFileError(
            f"{source}: invalid results file ({len(checker.problems)} problems):\n{listed}",
            hint=_REWRITE_HINT,
        )
    return results


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _decode_non_finite(value: object) -> object:
    """Turn the strings "NaN", "Infinity" and "-Infinity" back into floats, recursively."""
    if isinstance(value, str):
        return _NON_FINITE_TEXT.get(value, value)
    if isinstance(value, dict):
        return {key: _decode_non_finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode_non_finite(item) for item in value]
    return value


class _Checker:
    """Field-by-field validation that collects every problem with its JSON path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def _field(
        self,
        data: dict[str, Any],
        key: str,
        where: str,
        kinds: tuple[type, ...],
        expected: str,
        *,
        required: bool = True,
        default: Any = None,
    ) -> Any:
        path = f"{where}.{key}" if where else key
        if key not in data:
            if required:
                self.problems.append(f"{path}: missing field")
            return default
        value = data[key]
        # bool is a subclass of int, but a boolean where a number belongs is an error.
        wrong_bool = isinstance(value, bool) and bool not in kinds
        if not isinstance(value, kinds) or wrong_bool:
            self.problems.append(f"{path}: expected {expected}, found {_json_type(value)}")
            return default
        return value

    def _str(self, data: dict[str, Any], key: str, where: str, *, nullable: bool = False) -> Any:
        kinds: tuple[type, ...] = (str, type(None)) if nullable else (str,)
        expected = "a string or null" if nullable else "a string"
        default = None if nullable else ""
        return self._field(
            data, key, where, kinds, expected, required=not nullable, default=default
        )

    def _number(self, data: dict[str, Any], key: str, where: str) -> float | None:
        value = self._field(
            data, key, where, (int, float, str, type(None)), "a number or null", required=False
        )
        if isinstance(value, str):
            if value in _NON_FINITE_TEXT:
                return _NON_FINITE_TEXT[value]
            self.problems.append(f"{where}.{key}: expected a number or null, found a string")
            return None
        return None if value is None else float(value)

    def _files(
        self, data: dict[str, Any], key: str, where: str, *, decode: bool
    ) -> dict[str, dict[str, Any]]:
        """Read a ``{file: {key: value}}`` mapping of params or metrics."""
        files = self._field(data, key, where, (dict,), "an object", required=True, default={})
        checked: dict[str, dict[str, Any]] = {}
        for file_name, file_data in files.items():
            content = file_data
            if not isinstance(content, dict):
                self.problems.append(
                    f"{where}.{key}[{file_name!r}]: expected an object, found {_json_type(content)}"
                )
                continue
            if decode:
                content = {name: _decode_non_finite(value) for name, value in content.items()}
            checked[file_name] = content
        return checked

    def baseline(self, data: dict[str, Any]) -> Baseline:
        where = "baseline"
        source = self._str(data, "source", where)
        if isinstance(source, str) and source and source not in BASELINE_SOURCES:
            self.problems.append(
                f"baseline.source: expected one of {', '.join(BASELINE_SOURCES)}, found {source!r}"
            )
        return Baseline(
            commit=self._str(data, "commit", where),
            params=self._files(data, "params", where, decode=False),
            metrics=self._files(data, "metrics", where, decode=True),
            source=source,
            name=self._str(data, "name", where, nullable=True),
        )

    def point(self, data: object, where: str) -> PointResult | None:
        if not isinstance(data, dict):
            self.problems.append(f"{where}: expected an object, found {_json_type(data)}")
            return None
        status = self._str(data, "status", where)
        if isinstance(status, str) and status and status not in STATUSES:
            self.problems.append(
                f"{where}.status: expected one of {', '.join(STATUSES)}, found {status!r}"
            )
        overrides = self._field(data, "overrides", where, (list,), "an array", default=[])
        if not all(isinstance(item, str) for item in overrides):
            self.problems.append(f"{where}.overrides: expected an array of strings")
        exit_status = self._field(
            data, "exit_status", where, (int, type(None)), "an integer or null", required=False
        )
        return PointResult(
            index=self._field(data, "index", where, (int,), "an integer", default=0),
            name=self._str(data, "name", where),
            status=status,
            swept=self._field(data, "swept", where, (dict,), "an object", default={}),
            overrides=list(overrides),
            rev=self._str(data, "rev", where, nullable=True),
            params=self._files(data, "params", where, decode=False),
            metrics=self._files(data, "metrics", where, decode=True),
            duration=self._number(data, "duration", where),
            exit_status=exit_status,
            error=self._str(data, "error", where, nullable=True),
            log_tail=self._str(data, "log_tail", where, nullable=True),
            log_path=self._str(data, "log_path", where, nullable=True),
            reused=self._field(
                data, "reused", where, (bool,), "a boolean", required=False, default=False
            ),
        )

    def sweep_results(self, data: dict[str, Any]) -> SweepResults:
        baseline_data = self._field(data, "baseline", "", (dict,), "an object", default=None)
        baseline = (
            self.baseline(baseline_data)
            if baseline_data is not None
            else Baseline(commit="", params={}, metrics={}, source="missing")
        )
        points_data = self._field(data, "points", "", (list,), "an array", default=[])
        points = [self.point(item, f"points[{i}]") for i, item in enumerate(points_data)]
        return SweepResults(
            schema_version=data["schema_version"],
            spec=self._field(data, "spec", "", (dict,), "an object", default={}),
            baseline=baseline,
            points=[point for point in points if point is not None],
            started_at=self._str(data, "started_at", ""),
            finished_at=self._str(data, "finished_at", "", nullable=True),
            wall_time=self._number(data, "wall_time", ""),
            jobs=self._field(data, "jobs", "", (int,), "an integer", default=0),
            interrupted=self._field(
                data, "interrupted", "", (bool,), "a boolean", required=False, default=False
            ),
            tool_version=self._str(data, "tool_version", "", nullable=True) or "unknown",
            dvc_version=self._str(data, "dvc_version", "", nullable=True),
            shard=self.shard(data.get("shard")),
        )

    def shard(self, data: Any) -> Shard | None:
        if data is None:
            return None
        valid = (
            isinstance(data, dict)
            and isinstance(data.get("index"), int)
            and isinstance(data.get("count"), int)
            and 1 <= data["index"] <= data["count"]
        )
        if not valid:
            self.problems.append(
                f"shard: expected an object {{index, count}} with 1 <= index <= count, got {data!r}"
            )
            return None
        return Shard(index=data["index"], count=data["count"])


# --- metrics -------------------------------------------------------------------------------


def flatten_file_metrics(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten the nested metrics of one file into dotted keys (``{"a": {"b": 1}}`` -> ``a.b``)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten_file_metrics(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def flatten_metrics(
    metrics: dict[str, dict[str, Any]], *, qualified: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Flatten the metrics of all files into one mapping of display key to value.

    A key is written bare (``avg_prec``) when it is unique across the files, and as
    ``FILE:KEY`` when several files contain it or when it is in ``qualified``. A report
    passes in ``qualified`` the keys that collide in any experiment, so that every
    experiment gets the same names.
    """
    per_file = {file: flatten_file_metrics(data) for file, data in metrics.items()}
    seen: dict[str, int] = {}
    for flat in per_file.values():
        for key in flat:
            seen[key] = seen.get(key, 0) + 1
    result: dict[str, Any] = {}
    for file, flat in per_file.items():
        for key, value in flat.items():
            name = f"{file}:{key}" if seen[key] > 1 or key in qualified else key
            result[name] = value
    return result


# --- merging shards ------------------------------------------------------------------------

_STATUS_PREFERENCE = {"success": 3, "failed": 2, "timeout": 2, "not_run": 0}


def merge_results(parts: list[tuple[str, SweepResults]]) -> SweepResults:
    """Combine the results files of the shards of one sweep into one.

    `parts` pairs each results file's name (for messages) with its content. All parts must
    come from the same spec and baseline commit. A point present in several parts keeps
    its best outcome (success over failed over not run). Raises ResultsFileError when the
    parts do not belong together or a shard is missing.
    """
    if not parts:
        raise ResultsFileError("no results files to merge")
    first_name, first = parts[0]
    for name, part in parts[1:]:
        if part.spec != first.spec:
            raise ResultsFileError(
                f"{name} comes from another sweep spec than {first_name}",
                hint="merge only the results of the shards of one sweep",
            )
        if part.baseline.commit != first.baseline.commit:
            raise ResultsFileError(
                f"{name} ran on commit {part.baseline.commit[:7]}, but {first_name} ran on "
                f"{first.baseline.commit[:7]}",
                hint="run every shard on the same commit, then merge",
            )

    seen: dict[int, str] = {}
    for name, part in parts:
        if part.shard is None:
            continue
        if part.shard.index in seen:
            raise ResultsFileError(
                f"{name} and {seen[part.shard.index]} are both shard {part.shard.index}",
                hint="pass each shard's results file once",
            )
        seen[part.shard.index] = name

    counts = {part.shard.count for _, part in parts if part.shard is not None}
    if len(counts) > 1:
        raise ResultsFileError(
            f"the results files split the sweep in different ways ({sorted(counts)} shards)",
            hint="merge the shards of one run of the matrix",
        )
    if counts:
        count = counts.pop()
        present = {part.shard.index for _, part in parts if part.shard is not None}
        missing = sorted(set(range(1, count + 1)) - present)
        if missing:
            raise ResultsFileError(
                f"shard {', '.join(str(index) for index in missing)} of {count} is missing",
                hint="pass the results file of every shard, or rerun the missing shards",
            )

    points: dict[int, PointResult] = {}
    for _, part in parts:
        for point in part.points:
            kept = points.get(point.index)
            rank = _STATUS_PREFERENCE.get(point.status, 0)
            if kept is None or rank > _STATUS_PREFERENCE.get(kept.status, 0):
                points[point.index] = point

    baselines = [part.baseline for _, part in parts if part.baseline.metrics]
    baseline = baselines[0] if baselines else first.baseline
    walls = [part.wall_time for _, part in parts if part.wall_time is not None]
    finished = [part.finished_at for _, part in parts if part.finished_at]
    return SweepResults(
        schema_version=SCHEMA_VERSION,
        spec=first.spec,
        baseline=baseline,
        points=[points[index] for index in sorted(points)],
        started_at=min(part.started_at for _, part in parts),
        finished_at=max(finished) if finished else None,
        wall_time=max(walls) if walls else None,
        jobs=sum(part.jobs for _, part in parts),
        interrupted=any(part.interrupted for _, part in parts),
        dvc_version=first.dvc_version,
    )
