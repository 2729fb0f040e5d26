"""Read a sweep spec (``sweep.yaml``), validate it and turn it into a frozen `SweepSpec`.

The spec grammar follows W&B Sweeps, with keys that address DVC params::

    name: rf-grid
    method: grid                      # grid | random
    metric: {name: avg_prec, goal: maximize}
    parameters:
      train.n_est: [100, 200]         # shorthand for {values: [...]}
      train.max_depth: {min: 4, max: 12, step: 4}
      other.yaml:aug.p: {values: [0.1, 0.9]}
      +train.new_key: {values: [1, 2]}
    max_experiments: 50
    seed: 0
    jobs: 2
    timeout: 20m

The spec and the params files are read with ruamel.yaml's round-trip loader, which follows
YAML 1.2 as DVC does: ``1e-3`` is a float, ``on`` and ``no`` stay strings and ``010`` is
the integer 10. Every problem found is collected and raised at once as `SpecErrorGroup`, each
with the ``file:line:column`` where it is.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import math
import posixpath
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, cast

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from dvc_sweep.errors import SpecError, SpecErrorGroup

DEFAULT_PARAMS_FILE = "params.yaml"
DEFAULT_NAME = "sweep"
DEFAULT_METHOD = "grid"
# A grid without max_experiments may have at most this many points, so that a typo such
# as a step of 0.001 instead of 0.1 fails at once instead of queueing thousands of runs.
DEFAULT_GRID_MAX_EXPERIMENTS = 1000
# Random search with a `{min, max, step}` range picks from the expanded range, so the
# range is limited to this many values. Larger ranges need q_uniform, which lists nothing.
MAX_RANGE_VALUES = 100_000

TOP_LEVEL_KEYS = (
    "name",
    "method",
    "metric",
    "parameters",
    "max_experiments",
    "seed",
    "jobs",
    "timeout",
)
METHODS = ("grid", "random")
GOALS = ("maximize", "minimize")

# Distribution name -> the fields it accepts besides `distribution` itself.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "categorical": ("values", "probabilities"),
    "constant": ("value",),
    "uniform": ("min", "max"),
    "int_uniform": ("min", "max"),
    "log_uniform": ("min", "max"),
    "normal": ("mu", "sigma"),
    "q_uniform": ("min", "max", "q"),
    "q_log_uniform": ("min", "max", "q"),
    "q_normal": ("mu", "sigma", "q"),
}
# W&B's name for a log-uniform distribution whose bounds are values, not logarithms.
DISTRIBUTION_ALIASES = {
    "log_uniform_values": "log_uniform",
    "q_log_uniform_values": "q_log_uniform",
}
PARAMETER_FIELDS = (
    "values",
    "value",
    "probabilities",
    "distribution",
    "min",
    "max",
    "step",
    "mu",
    "sigma",
    "q",
)

# Hydra 1.3's override grammar (OverrideLexer.g4) accepts a key made of dot-separated
# parts: each part is an identifier that may also contain `$` and `-`, or an unsigned
# integer (a list index). A single part must be an identifier.
_KEY_PART = r"(?:[A-Za-z_$][A-Za-z0-9_$-]*|0|[1-9][0-9]*)"
_KEY_RE = re.compile(rf"[A-Za-z_$][A-Za-z0-9_$-]*|{_KEY_PART}(?:\.{_KEY_PART})+")
# Experiment names become git ref components (refs/exps/.../NAME-INDEX). This subset of
# what `git check-ref-format` accepts needs no quoting anywhere.
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_TIMEOUT_RE = re.compile(
    r"(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s?)?"
)
# Dict keys inside a parameter value are written unquoted in the override (Hydra does not
# accept quoted dict keys), so they must be identifiers that Hydra reads as strings.
_DICT_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
HYDRA_KEYWORDS = frozenset({"true", "false", "null", "inf", "nan"})


@dataclass(frozen=True)
class ParamKey:
    """The address of one DVC param: a params file and a dotted key inside it."""

    file: str
    path: str
    add: bool

    @property
    def display(self) -> str:
        """The key as shown to users: ``train.n_est``, or ``other.yaml:aug.p``."""
        if self.file == DEFAULT_PARAMS_FILE:
            return self.path
        return f"{self.file}:{self.path}"

    @property
    def override_target(self) -> str:
        """The left side of ``=`` in a ``-S`` override: ``[FILE:][++]path``.

        DVC splits the file off at the first ``:``, so any ``+`` goes after it. An added key
        uses Hydra's ``++`` (add or override), because a single ``+`` fails when the key
        already exists in the params file.
        """
        prefix = "" if self.file == DEFAULT_PARAMS_FILE else f"{self.file}:"
        return f"{prefix}{'++' if self.add else ''}{self.path}"


@dataclass(frozen=True)
class MetricSpec:
    """The metric that ranks the points, and whether higher or lower is better."""

    name: str
    file: str | None
    goal: Literal["maximize", "minimize"]
    line: int | None = dataclasses.field(default=None, compare=False)
    """1-based position of the metric's name in the spec file, for later errors."""
    column: int | None = dataclasses.field(default=None, compare=False)


@dataclass(frozen=True)
class Parameter:
    """One swept param: either a list of values or a random distribution.

    `values` is set for grid parameters and for categorical random parameters. For a grid
    `{min, max, step}` range it holds the expanded range and `min`, `max`, `step` are kept
    for reference. `distribution` is None for lists of values, otherwise one of
    `DISTRIBUTIONS`; `plan.py` documents how each one is drawn and which bounds are
    inclusive.
    """

    key: ParamKey
    values: tuple[Any, ...] | None
    probabilities: tuple[float, ...] | None
    distribution: str | None
    line: int
    column: int
    min: int | float | None = None
    max: int | float | None = None
    step: int | float | None = None
    mu: int | float | None = None
    sigma: int | float | None = None
    q: int | float | None = None


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec, ready to be planned."""

    name: str
    method: Literal["grid", "random"]
    metric: MetricSpec | None
    parameters: tuple[Parameter, ...]
    max_experiments: int
    seed: int | None
    jobs: int | None
    timeout: float | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        """Convert to plain data for the results file (floats may be inf or NaN)."""
        parameters = []
        for parameter in self.parameters:
            entry: dict[str, Any] = {
                "key": parameter.key.display,
                "file": parameter.key.file,
                "path": parameter.key.path,
                "add": parameter.key.add,
            }
            for field in dataclasses.fields(parameter):
                if field.name in ("key", "line", "column"):
                    continue
                value = getattr(parameter, field.name)
                if value is None:
                    continue
                entry[field.name] = list(value) if isinstance(value, tuple) else value
            parameters.append(entry)
        metric = None
        if self.metric is not None:
            metric = {"name": self.metric.name, "file": self.metric.file, "goal": self.metric.goal}
        return {
            "name": self.name,
            "method": self.method,
            "metric": metric,
            "parameters": parameters,
            "max_experiments": self.max_experiments,
            "seed": self.seed,
            "jobs": self.jobs,
            "timeout": self.timeout,
            "source": self.source,
        }


def _plain(node: object) -> Any:
    """Convert ruamel's round-trip types to plain Python values (bool before int)."""
    if isinstance(node, CommentedMap):
        return {_plain(key): _plain(value) for key, value in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(item) for item in node]
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def parse_param_key(raw: str) -> ParamKey:
    """Split a spec key ``[+][FILE:][+]path`` into a `ParamKey` (not validated)."""
    add = raw.startswith("+")
    rest = raw[1:] if add else raw
    file, _, path = rest.rpartition(":")
    if path.startswith("+"):
        add = True
        path = path[1:]
    file = posixpath.normpath(file) if file else DEFAULT_PARAMS_FILE
    return ParamKey(file=file, path=path, add=add)


def unsupported_value_reason(value: object) -> str | None:
    """Return why `value` cannot be passed to DVC through ``-S``, or None if it can.

    Hydra reads dict keys unquoted, OmegaConf treats the string ``???`` as a missing value,
    ruamel.yaml does not keep U+0085, and an argv element cannot contain NUL or unpaired
    surrogates.
    """
    if value is None or isinstance(value, (bool, int, float)):
        return None
    if isinstance(value, str):
        if value == "???":
            return "the string '???' is OmegaConf's marker for a missing value"
        if "\x00" in value:
            return "strings cannot contain a NUL character"
        if "\x85" in value:
            # Seen with ruamel.yaml 0.19 as used by DVC 3.67: NEL is folded into a space or
            # a line break when the params file is written and read back.
            return "strings cannot contain U+0085 (NEL): DVC's YAML writer changes it"
        if any(0xD800 <= ord(char) <= 0xDFFF for char in value):
            return "strings cannot contain unpaired surrogate characters"
        return None
    if isinstance(value, (list, tuple)):
        for item in value:
            reason = unsupported_value_reason(item)
            if reason:
                return reason
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if (
                not isinstance(key, str)
                or not _DICT_KEY_RE.fullmatch(key)
                or key.lower() in HYDRA_KEYWORDS
            ):
                return (
                    f"dict key {key!r} cannot be written in a -S override: keys must be "
                    "identifiers (letters, digits, '_', '-'; not starting with a digit) "
                    "other than true, false, null, inf or nan"
                )
            reason = unsupported_value_reason(item)
            if reason:
                return reason
        return None
    return f"values of type {type(value).__name__} are not supported"


def _type_category(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return type(value).__name__


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and _is_number(value) and math.isfinite(value)


def parse_timeout(value: object) -> float | None:
    """Convert a timeout (``90``, ``"90s"``, ``"20m"``, ``"1h30m"``) to seconds.

    Raise TypeError or ValueError when the value is not a positive duration.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        match = _TIMEOUT_RE.fullmatch(value.strip())
        if not value.strip() or match is None:
            raise ValueError(value)
        hours, minutes, plain_seconds = (float(match.group(unit) or 0) for unit in ("h", "m", "s"))
        seconds = hours * 3600 + minutes * 60 + plain_seconds
    else:
        raise TypeError(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(value)
    return seconds


def range_count(start: float, stop: float, step: float) -> int:
    """Count the values of the range start, start+step, ... up to stop inclusive."""
    span = Decimal(repr(stop)) - Decimal(repr(start))
    return int(span / Decimal(repr(step))) + 1


def expand_range(start: float, stop: float, step: float) -> tuple[int | float, ...]:
    """Expand an inclusive range, with decimal arithmetic so 0.1 steps stay 0.1, 0.2, 0.3.

    The values are ints when start, stop and step are all ints, floats otherwise.
    """
    count = range_count(start, stop, step)
    if all(isinstance(bound, int) for bound in (start, stop, step)):
        return tuple(int(start) + index * int(step) for index in range(count))
    first, increment = Decimal(repr(start)), Decimal(repr(step))
    return tuple(float(first + index * increment) for index in range(count))


class _Reader:
    """Collects the problems found while reading one spec."""

    def __init__(self, source: str, repo_root: Path) -> None:
        self.source = source
        self.repo_root = repo_root
        self.errors: list[SpecError] = []
        self._params_files: dict[str, Any] = {}

    def error(
        self, message: str, position: tuple[int, int] | None, hint: str | None = None
    ) -> None:
        line, column = position if position else (None, None)
        self.errors.append(
            SpecError(message, file=self.source, line=line, column=column, hint=hint)
        )

    # Positions from ruamel are 0-based, and messages use 1-based line:column.
    @staticmethod
    def key_position(mapping: object, key: object) -> tuple[int, int] | None:
        if isinstance(mapping, CommentedMap) and key in mapping:
            line, column = mapping.lc.key(key)
            return line + 1, column + 1
        return None

    @staticmethod
    def value_position(mapping: object, key: object) -> tuple[int, int] | None:
        if isinstance(mapping, CommentedMap) and key in mapping:
            line, column = mapping.lc.value(key)
            return line + 1, column + 1
        return None

    @staticmethod
    def item_position(sequence: object, index: int) -> tuple[int, int] | None:
        if isinstance(sequence, CommentedSeq) and index < len(sequence):
            line, column = sequence.lc.item(index)
            return line + 1, column + 1
        return None

    def load_params_file(self, file: str) -> tuple[bool, Any]:
        """Return (found, data) for a params file, reading each file once."""
        if file not in self._params_files:
            self._params_files[file] = self._read_params_file(file)
        found, data = self._params_files[file]
        return found, data

    def _read_params_file(self, file: str) -> tuple[bool, Any]:
        path = self.repo_root / file
        if not path.is_file():
            return False, None
        try:
            data = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
            return True, _ParamsFileInvalid(f"{where}: {exc.problem or exc}")
        except (YAMLError, UnicodeDecodeError) as exc:
            return True, _ParamsFileInvalid(f"{file}: {exc}")
        return True, _plain(data)


@dataclass(frozen=True)
class _ParamsFileInvalid:
    reason: str


def _key_paths(data: object, prefix: str = "") -> list[str]:
    """List every dotted key path in params data, nested ones included."""
    paths: list[str] = []
    if isinstance(data, dict):
        items: list[tuple[str, Any]] = [(str(key), value) for key, value in data.items()]
    elif isinstance(data, list):
        items = [(str(index), value) for index, value in enumerate(data)]
    else:
        return paths
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else key
        paths.append(path)
        paths.extend(_key_paths(value, path))
    return paths


def _has_key(data: object, path: str) -> bool:
    node = data
    for part in path.split("."):
        if isinstance(node, dict):
            matches = [key for key in node if str(key) == part]
            if not matches:
                return False
            node = node[matches[0]]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _did_you_mean(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"did you mean {matches[0]!r}?" if matches else ""


def _quote(value: object) -> str:
    """Quote a value from the spec for an error message."""
    return repr(value) if isinstance(value, str) else str(value)


def load_spec(
    path: Path,
    *,
    repo_root: Path,
    text: str | None = None,
    source: str | None = None,
    max_experiments_cap: int | None = None,
) -> SweepSpec:
    """Read and validate a sweep spec against the params files under `repo_root`.

    `text` replaces the contents of `path` (for specs passed inline or in a comment), and
    `source` names the spec in messages (default: `path` as given). `max_experiments_cap`
    is an upper limit set by the caller, such as the GitHub Action: the smaller of it and
    the spec's max_experiments applies. Raise `SpecErrorGroup` with every problem found.
    """
    label = source if source is not None else str(path)
    reader = _Reader(label, repo_root)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            reader.error(
                "sweep spec not found",
                None,
                hint="create it (see the README for the grammar) or pass the spec path",
            )
            raise SpecErrorGroup(reader.errors) from None
        except (OSError, UnicodeDecodeError) as exc:
            reader.error(f"cannot read the sweep spec: {exc}", None)
            raise SpecErrorGroup(reader.errors) from None

    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        position = (mark.line + 1, mark.column + 1) if mark else None
        reader.error(f"invalid YAML: {exc.problem or exc}", position)
        raise SpecErrorGroup(reader.errors) from None
    except YAMLError as exc:
        reader.error(f"invalid YAML: {exc}", None)
        raise SpecErrorGroup(reader.errors) from None

    if not isinstance(document, CommentedMap):
        reader.error(
            "the sweep spec must be a YAML mapping with at least a 'parameters' key",
            (1, 1),
            hint="see the README for an example spec",
        )
        raise SpecErrorGroup(reader.errors)

    spec = _read_spec(reader, document, max_experiments_cap)
    if reader.errors or spec is None:
        raise SpecErrorGroup(reader.errors)
    return spec


def _read_spec(
    reader: _Reader, document: CommentedMap, max_experiments_cap: int | None
) -> SweepSpec | None:
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            suggestion = _did_you_mean(str(key), TOP_LEVEL_KEYS)
            reader.error(
                f"unknown top-level key {_quote(key)}" + (f"; {suggestion}" if suggestion else ""),
                reader.key_position(document, key),
                hint=f"valid keys: {', '.join(TOP_LEVEL_KEYS)}",
            )

    name = _read_name(reader, document)
    method = _read_method(reader, document)
    metric = _read_metric(reader, document)
    seed = _read_int(reader, document, "seed", minimum=None)
    jobs = _read_int(reader, document, "jobs", minimum=1)
    spec_max = _read_int(reader, document, "max_experiments", minimum=1)
    timeout = _read_timeout(reader, document)
    parameters = _read_parameters(reader, document, method)

    if max_experiments_cap is not None and max_experiments_cap < 1:
        reader.error(
            f"the max_experiments cap must be at least 1 (got {max_experiments_cap})", None
        )
        return None
    if method is None or parameters is None:
        return None

    if method == "random":
        if document.get("max_experiments") is None:
            reader.error(
                "random search needs 'max_experiments', the number of points to draw",
                reader.value_position(document, "method"),
                hint="add a line such as 'max_experiments: 20' to the spec",
            )
            return None
        if seed is None:
            # Unseeded random sweeps still draw reproducibly, so that running the same
            # spec again on the same commit reuses the experiments it already ran.
            seed = 0
        max_experiments = spec_max or 1
        if max_experiments_cap is not None:
            max_experiments = min(max_experiments, max_experiments_cap)
    else:
        max_experiments = _check_grid_size(
            reader, document, parameters, spec_max, max_experiments_cap
        )
        parameters = [_expand_grid_range(parameter) for parameter in parameters]

    if reader.errors or name is None:
        return None
    return SweepSpec(
        name=name,
        method=method,
        metric=metric,
        parameters=tuple(parameters),
        max_experiments=max_experiments,
        seed=seed,
        jobs=jobs,
        timeout=timeout,
        source=reader.source,
    )


def _read_name(reader: _Reader, document: CommentedMap) -> str | None:
    if "name" not in document or document["name"] is None:
        return DEFAULT_NAME
    name = document["name"]
    position = reader.value_position(document, "name")
    if not isinstance(name, str):
        reader.error(f"'name' must be a string (got {_quote(_plain(name))})", position)
        return None
    if not _NAME_RE.fullmatch(name) or ".." in name or name.endswith((".", ".lock")):
        reader.error(
            f"invalid sweep name {name!r}: it names git refs and DVC experiments",
            position,
            hint="use 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or "
            "digit, without '..' and not ending in '.' or '.lock'",
        )
        return None
    return name


def _read_method(reader: _Reader, document: CommentedMap) -> Literal["grid", "random"] | None:
    method = document.get("method", DEFAULT_METHOD)
    if method is None:
        method = DEFAULT_METHOD
    if method not in METHODS:
        suggestion = _did_you_mean(str(method), METHODS)
        reader.error(
            f"invalid method {_quote(_plain(method))}; it must be grid or random"
            + (f" ({suggestion})" if suggestion else ""),
            reader.value_position(document, "method"),
        )
        return None
    return cast("Literal['grid', 'random']", str(method))


def _read_metric(reader: _Reader, document: CommentedMap) -> MetricSpec | None:
    metric = document.get("metric")
    if metric is None:
        return None
    position = reader.value_position(document, "metric")
    if not isinstance(metric, CommentedMap):
        reader.error(
            f"'metric' must be a mapping (got {_quote(_plain(metric))})",
            position,
            hint="write it as 'metric: {name: avg_prec, goal: maximize}'",
        )
        return None

    for key in metric:
        if key not in ("name", "goal"):
            suggestion = _did_you_mean(str(key), ("name", "goal"))
            reader.error(
                f"unknown key {_quote(key)} in 'metric'"
                + (f"; {suggestion}" if suggestion else ""),
                reader.key_position(metric, key),
                hint="'metric' takes 'name' and 'goal'",
            )

    name = metric.get("name")
    goal = metric.get("goal")
    valid = True
    if not isinstance(name, str) or not name.strip():
        reader.error(
            f"'metric.name' must be a non-empty string (got {_quote(_plain(name))})",
            reader.value_position(metric, "name") or position,
            hint="give a metric key such as avg_prec, or FILE:KEY when several metrics "
            "files have that key",
        )
        valid = False
    if "goal" not in metric:
        reader.error(
            "'metric.goal' is missing",
            position,
            hint="add 'goal: maximize' when higher is better or 'goal: minimize' when lower is",
        )
        valid = False
    elif goal not in GOALS:
        reader.error(
            f"'metric.goal' must be maximize or minimize (got {_quote(_plain(goal))})",
            reader.value_position(metric, "goal") or position,
        )
        valid = False
    if not valid:
        return None

    file, _, key = str(name).rpartition(":")
    where = reader.value_position(metric, "name") or position
    line, column = where if where is not None else (None, None)
    return MetricSpec(
        name=key,
        file=file or None,
        goal=cast("Literal['maximize', 'minimize']", str(goal)),
        line=line,
        column=column,
    )


def _read_int(
    reader: _Reader, document: CommentedMap, key: str, *, minimum: int | None
) -> int | None:
    value = document.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or (minimum is not None and value < minimum)
    ):
        requirement = "an integer" if minimum is None else f"an integer >= {minimum}"
        reader.error(
            f"'{key}' must be {requirement} (got {_quote(_plain(value))})",
            reader.value_position(document, key),
        )
        return None
    return int(value)


def _read_timeout(reader: _Reader, document: CommentedMap) -> float | None:
    value = document.get("timeout")
    try:
        return parse_timeout(_plain(value))
    except (TypeError, ValueError):
        reader.error(
            f"invalid timeout {_quote(_plain(value))}: it must be a positive duration",
            reader.value_position(document, "timeout"),
            hint="give seconds (90) or a number with a unit: '90s', '20m', '1h', '1h30m'",
        )
        return None


def _read_parameters(
    reader: _Reader, document: CommentedMap, method: str | None
) -> list[Parameter] | None:
    parameters = document.get("parameters")
    position = reader.value_position(document, "parameters")
    if parameters is None:
        reader.error(
            "the spec has no 'parameters'",
            reader.key_position(document, "parameters") or (1, 1),
            hint="add 'parameters:' with at least one params key, e.g. 'train.n_est: [100, 200]'",
        )
        return None
    if not isinstance(parameters, CommentedMap) or not parameters:
        reader.error(
            "'parameters' must be a non-empty mapping of params keys to values or "
            f"distributions (got {_quote(_plain(parameters))})",
            position,
        )
        return None

    result: list[Parameter] = []
    seen: dict[tuple[str, str], str] = {}
    for raw_key in parameters:
        key_position = reader.key_position(parameters, raw_key) or (1, 1)
        key = _read_param_key(reader, raw_key, key_position)
        if key is None:
            continue
        identity = (key.file, key.path)
        if identity in seen:
            reader.error(
                f"parameter {key.display} is given twice (also as {seen[identity]!r})",
                key_position,
                hint="keep one entry per params key",
            )
            continue
        for (other_file, other_path), other_raw_key in seen.items():
            if other_file == key.file and (
                other_path.startswith(key.path + ".") or key.path.startswith(other_path + ".")
            ):
                reader.error(
                    f"parameter {key.display} overlaps with {other_raw_key!r}: "
                    "one contains the other",
                    key_position,
                    hint="sweep either the whole mapping or keys inside it, not both",
                )
        seen[identity] = str(raw_key)
        _check_key_in_params_file(reader, key, key_position)
        parameter = _read_parameter(
            reader,
            parameters=parameters,
            raw_key=raw_key,
            key=key,
            # With an invalid method, check the parameter by the rules of random search,
            # which accept every form, so that its own errors are still reported.
            method=method or "random",
            position=key_position,
        )
        if parameter is not None:
            _check_dict_merge(reader, parameter, key_position)
            result.append(parameter)
    return result


def _read_param_key(reader: _Reader, raw_key: object, position: tuple[int, int]) -> ParamKey | None:
    if not isinstance(raw_key, str):
        reader.error(
            f"parameter key {_quote(_plain(raw_key))} must be a string such as 'train.lr'",
            position,
        )
        return None
    key = parse_param_key(raw_key)
    valid = True
    if ":" in key.file or "=" in key.file or "," in key.file:
        reader.error(
            f"invalid params file name {key.file!r} in {raw_key!r}: DVC splits -S at the "
            "first ':' and '='",
            position,
            hint="rename the params file so it has no ':', '=' or ','",
        )
        valid = False
    elif posixpath.isabs(key.file) or key.file.split("/")[0] == "..":
        reader.error(
            f"params file {key.file!r} in {raw_key!r} is outside the repository",
            position,
            hint="give the params file relative to the repository root",
        )
        valid = False
    if not _KEY_RE.fullmatch(key.path):
        where = "" if raw_key == key.path else f" in {raw_key!r}"
        reader.error(
            f"key {key.path!r}{where} cannot be set with 'dvc exp run -S': Hydra's "
            "override grammar accepts dot-separated parts made of letters, digits, '_', "
            "'-' and '$' that start with a letter, '_' or '$', or list indexes",
            position,
            hint="rename the key in the params file, or sweep the mapping that contains it",
        )
        valid = False
    return key if valid else None


def _check_key_in_params_file(reader: _Reader, key: ParamKey, position: tuple[int, int]) -> None:
    found, data = reader.load_params_file(key.file)
    if not found:
        reader.error(
            f"params file {key.file!r} for {key.display} not found in {reader.repo_root.resolve()}",
            position,
            hint=f"create {key.file}, or fix the file part of the key",
        )
        return
    if isinstance(data, _ParamsFileInvalid):
        reader.error(
            f"cannot read params file {key.file!r} for {key.display}: {data.reason}",
            position,
            hint=f"fix the YAML in {key.file}",
        )
        return
    if key.add or _has_key(data, key.path):
        return
    suggestion = _did_you_mean(key.path, _key_paths(data))
    reader.error(
        f"key {key.path!r} not found in {key.file}" + (f"; {suggestion}" if suggestion else ""),
        position,
        hint=f"to add a key that is not in {key.file}, write it as '+{key.display}'",
    )


def _get_key(data: object, path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if isinstance(node, dict):
            node = next(value for key, value in node.items() if str(key) == part)
        else:
            node = node[int(part)]
    return node


def _merge(existing: object, value: object) -> object:
    """Return what OmegaConf's merge makes of `value` set on `existing` (dicts merge)."""
    if not (isinstance(existing, dict) and isinstance(value, dict)):
        return value
    merged = dict(existing)
    for key, item in value.items():
        merged[key] = _merge(existing.get(key), item)
    return merged


def _check_dict_merge(reader: _Reader, parameter: Parameter, position: tuple[int, int]) -> None:
    """Reject dict values that DVC would merge into a mapping instead of replacing it.

    DVC applies -S overrides with OmegaConf's merge (DVC 3.67, Hydra 1.3): keys of the
    mapping in the params file that the dict value lacks would stay in the experiment.
    """
    key = parameter.key
    found, data = reader.load_params_file(key.file)
    if not found or isinstance(data, _ParamsFileInvalid) or not _has_key(data, key.path):
        return
    existing = _get_key(data, key.path)
    for value in parameter.values or ():
        if isinstance(value, dict) and _merge(existing, value) != value:
            reader.error(
                f"value {value} of parameter {key.display} would be merged into the mapping "
                f"{existing} in {key.file}, not replace it, because DVC merges dict overrides",
                position,
                hint="sweep the keys inside the mapping instead, or give every key of the "
                "mapping in each value",
            )
            return


def _read_parameter(
    reader: _Reader,
    *,
    parameters: CommentedMap,
    raw_key: str,
    key: ParamKey,
    method: str,
    position: tuple[int, int],
) -> Parameter | None:
    body = parameters[raw_key]
    line, column = position
    if isinstance(body, CommentedSeq):
        values = _read_values(reader, body, key, reader.value_position(parameters, raw_key))
        if values is None:
            return None
        return Parameter(
            key=key, values=values, probabilities=None, distribution=None, line=line, column=column
        )
    if not isinstance(body, CommentedMap):
        reader.error(
            f"parameter {key.display} must be a list of values or a mapping "
            f"(got {_quote(_plain(body))})",
            reader.value_position(parameters, raw_key) or position,
            hint=f"for a single value write '{raw_key}: [{_plain(body)}]'",
        )
        return None

    valid = True
    for field in body:
        if field not in PARAMETER_FIELDS:
            suggestion = _did_you_mean(str(field), PARAMETER_FIELDS)
            reader.error(
                f"unknown key {_quote(field)} for parameter {key.display}"
                + (f"; {suggestion}" if suggestion else ""),
                reader.key_position(body, field),
                hint=f"valid keys: {', '.join(PARAMETER_FIELDS)}",
            )
            valid = False
    if not valid:
        return None

    distribution = _resolve_distribution(reader, body, key, method)
    if distribution is None:
        return None
    fields = DISTRIBUTIONS.get(distribution, ("min", "max", "step"))
    for field in body:
        if field != "distribution" and field not in fields:
            reader.error(
                f"{_quote(field)} does not apply to {_describe(distribution)} of parameter "
                f"{key.display}",
                reader.key_position(body, field),
                hint=f"{_describe(distribution)} takes {', '.join(fields)}",
            )
            valid = False
    if not valid:
        return None

    reading = _ParameterReading(reader, body, key, line, column)
    if distribution in ("categorical", "constant"):
        return reading.categorical(method, constant=distribution == "constant")
    if distribution == "range":
        return reading.range(method)
    return reading.distribution(distribution)


def _describe(distribution: str) -> str:
    if distribution == "range":
        return "a {min, max, step} range"
    return f"distribution {distribution}"


def _resolve_distribution(
    reader: _Reader, body: CommentedMap, key: ParamKey, method: str
) -> str | None:
    """Return the distribution name, "range" for a grid range, or None after an error."""
    if "distribution" not in body:
        if "values" in body:
            return "categorical"
        if "value" in body:
            return "constant"
        if "step" in body:
            return "range"
        if "min" in body or "max" in body:
            if method == "grid":
                reader.error(
                    f"grid parameter {key.display} has 'min'/'max' but no 'step'",
                    reader.key_position(body, "min") or reader.key_position(body, "max"),
                    hint="add 'step' to sweep a range, e.g. {min: 4, max: 12, step: 4}",
                )
                return None
            # W&B infers the distribution from the type of the bounds.
            bounds = (body.get("min"), body.get("max"))
            if all(isinstance(b, int) and not isinstance(b, bool) for b in bounds):
                return "int_uniform"
            return "uniform"
        reader.error(
            f"parameter {key.display} needs 'values', 'value', a range or a 'distribution'",
            reader.key_position(body, next(iter(body))) if body else None,
        )
        return None

    raw = body["distribution"]
    position = reader.value_position(body, "distribution")
    name = DISTRIBUTION_ALIASES.get(str(raw), str(raw)) if isinstance(raw, str) else None
    if name not in DISTRIBUTIONS:
        suggestion = _did_you_mean(str(raw), list(DISTRIBUTIONS) + list(DISTRIBUTION_ALIASES))
        reader.error(
            f"unknown distribution {_quote(_plain(raw))} for parameter {key.display}"
            + (f"; {suggestion}" if suggestion else ""),
            position,
            hint=f"distributions: {', '.join(DISTRIBUTIONS)}",
        )
        return None
    if method == "grid" and name not in ("categorical", "constant"):
        reader.error(
            f"distribution {name} of parameter {key.display} is only for method: random",
            position,
            hint="for a grid give 'values' or a {min, max, step} range, or set 'method: random'",
        )
        return None
    return name


def _read_values(
    reader: _Reader, sequence: object, key: ParamKey, position: tuple[int, int] | None
) -> tuple[Any, ...] | None:
    if not isinstance(sequence, CommentedSeq) or not sequence:
        reader.error(
            f"'values' of parameter {key.display} must be a non-empty list "
            f"(got {_quote(_plain(sequence))})",
            position,
        )
        return None
    values: list[Any] = []
    valid = True
    categories: dict[str, int] = {}
    for index, item in enumerate(sequence):
        item_position = reader.item_position(sequence, index) or position
        value = _plain(item)
        reason = _value_problem(item, value)
        if reason:
            reader.error(
                f"value {_quote(value)} of parameter {key.display} cannot be passed to DVC: "
                f"{reason}",
                item_position,
            )
            valid = False
            continue
        category = _type_category(value)
        if category is not None:
            categories.setdefault(category, index)
        values.append(value)
    if len(categories) > 1:
        first, second = sorted(categories, key=categories.__getitem__)[:2]
        index = categories[second]
        reader.error(
            f"values of parameter {key.display} mix types: {second} "
            f"{_quote(_plain(sequence[index]))} among {first} values",
            reader.item_position(sequence, index) or position,
            hint="give one type per parameter (ints and floats may mix, and null may appear "
            "with any type); quote numbers that are meant as strings",
        )
        valid = False
    return tuple(values) if valid else None


def _value_problem(node: object, value: object) -> str | None:
    if _contains_timestamp(node):
        return "dates and timestamps are not params values; quote them to pass a string"
    return unsupported_value_reason(value)


def _contains_timestamp(node: object) -> bool:
    if isinstance(node, (datetime.date, datetime.datetime)):
        return True
    if isinstance(node, CommentedMap):
        return any(_contains_timestamp(value) for value in node.values())
    if isinstance(node, CommentedSeq):
        return any(_contains_timestamp(item) for item in node)
    return False


class _ParameterReading:
    """Reads the fields of one mapping-form parameter into a `Parameter`."""

    def __init__(
        self, reader: _Reader, body: CommentedMap, key: ParamKey, line: int, column: int
    ) -> None:
        self.reader = reader
        self.body = body
        self.key = key
        self.line = line
        self.column = column
        self.valid = True

    def fail(self, message: str, field: str, hint: str | None = None) -> None:
        position = self.reader.value_position(self.body, field) or (self.line, self.column)
        self.reader.error(message, position, hint)
        self.valid = False

    def number(self, field: str, *, integer: bool = False, default: float | None = None) -> Any:
        if field not in self.body:
            if default is None:
                self.fail(
                    f"parameter {self.key.display} needs '{field}'",
                    field,
                    hint=f"add '{field}: <number>' to the parameter",
                )
            return default
        value = _plain(self.body[field])
        if integer and not (isinstance(value, int) and not isinstance(value, bool)):
            self.fail(
                f"'{field}' of parameter {self.key.display} must be an integer "
                f"(got {_quote(value)})",
                field,
            )
            return None
        if not _is_finite_number(value):
            self.fail(
                f"'{field}' of parameter {self.key.display} must be a finite number "
                f"(got {_quote(value)})",
                field,
            )
            return None
        return value

    def check_order(self, low: float | None, high: float | None) -> None:
        if low is not None and high is not None and not high > low:
            self.fail(
                f"'max' must be greater than 'min' for {self.key.display} "
                f"(got min={low}, max={high})",
                "max",
                hint=(
                    f"for a single value write 'values: [{low}]'"
                    if low == high
                    else "swap the bounds or fix the typo"
                ),
            )

    def check_positive(self, field: str, value: float | None, reason: str) -> None:
        if value is not None and value <= 0:
            self.fail(
                f"'{field}' must be greater than 0 for {self.key.display} "
                f"(got {field}={value}): {reason}",
                field,
            )

    def categorical(self, method: str, *, constant: bool) -> Parameter | None:
        if constant:
            value = _plain(self.body.get("value"))
            reason = _value_problem(self.body.get("value"), value)
            if reason:
                self.fail(
                    f"value {_quote(value)} of parameter {self.key.display} cannot be passed "
                    f"to DVC: {reason}",
                    "value",
                )
                return None
            values: tuple[Any, ...] | None = (value,)
        else:
            values = _read_values(
                self.reader,
                self.body.get("values"),
                self.key,
                self.reader.value_position(self.body, "values"),
            )
        probabilities = None
        if "probabilities" in self.body:
            if method == "grid":
                self.fail(
                    f"'probabilities' of parameter {self.key.display} only apply to method: random",
                    "probabilities",
                    hint="remove 'probabilities': a grid runs every value",
                )
            elif values is not None:
                probabilities = self.probabilities(len(values))
        if values is None or not self.valid:
            return None
        return Parameter(
            key=self.key,
            values=values,
            probabilities=probabilities,
            distribution=None,
            line=self.line,
            column=self.column,
        )

    def probabilities(self, count: int) -> tuple[float, ...] | None:
        raw = _plain(self.body["probabilities"])
        if not isinstance(raw, list) or not all(_is_finite_number(p) and p >= 0 for p in raw):
            self.fail(
                f"'probabilities' of parameter {self.key.display} must be a list of numbers "
                f">= 0 (got {raw})",
                "probabilities",
            )
            return None
        if len(raw) != count:
            self.fail(
                f"'probabilities' of parameter {self.key.display} has {len(raw)} entries "
                f"for {count} values (got {raw})",
                "probabilities",
                hint="give one probability per value, in the same order",
            )
            return None
        total = math.fsum(raw)
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            self.fail(
                f"'probabilities' of parameter {self.key.display} must sum to 1 "
                f"(got {raw}, sum {total:g})",
                "probabilities",
            )
            return None
        return tuple(float(p) for p in raw)

    def range(self, method: str) -> Parameter | None:
        low = self.number("min")
        high = self.number("max")
        step = self.number("step")
        self.check_order(low, high)
        self.check_positive("step", step, "the range counts up from min to max")
        if not self.valid:
            return None
        values = None
        if method == "random":
            count = range_count(low, high, step)
            if count > MAX_RANGE_VALUES:
                self.fail(
                    f"range of parameter {self.key.display} has {count} values, more than "
                    f"{MAX_RANGE_VALUES} that random search picks from",
                    "step",
                    hint="use {distribution: q_uniform, min, max, q} instead",
                )
                return None
            values = expand_range(low, high, step)
        # Grid ranges are expanded after the grid size check, so that a huge range is
        # reported as too large instead of being listed.
        return Parameter(
            key=self.key,
            values=values,
            probabilities=None,
            distribution=None,
            line=self.line,
            column=self.column,
            min=low,
            max=high,
            step=step,
        )

    def distribution(self, name: str) -> Parameter | None:
        fields: dict[str, Any] = {}
        if name in ("uniform", "log_uniform", "q_uniform", "q_log_uniform", "int_uniform"):
            integer = name == "int_uniform"
            fields["min"] = self.number("min", integer=integer)
            fields["max"] = self.number("max", integer=integer)
            self.check_order(fields["min"], fields["max"])
            if name in ("log_uniform", "q_log_uniform"):
                self.check_positive("min", fields["min"], "a log distribution needs min > 0")
        else:
            fields["mu"] = self.number("mu", default=0)
            fields["sigma"] = self.number("sigma", default=1)
            self.check_positive("sigma", fields["sigma"], "sigma is a standard deviation")
        if name.startswith("q_"):
            fields["q"] = self.number("q")
            self.check_positive("q", fields["q"], "values are rounded to multiples of q")
        if not self.valid:
            return None
        if name in ("q_uniform", "q_log_uniform"):
            low, high, q = fields["min"], fields["max"], fields["q"]
            if math.floor(high / q) < math.ceil(low / q):
                self.fail(
                    f"no multiple of q={q} lies between min={low} and max={high} for "
                    f"{self.key.display}",
                    "q",
                    hint="use a smaller q or wider bounds",
                )
                return None
        return Parameter(
            key=self.key,
            values=None,
            probabilities=None,
            distribution=name,
            line=self.line,
            column=self.column,
            **fields,
        )


def _grid_counts(parameters: list[Parameter]) -> list[int]:
    """Count the distinct values of each grid parameter without expanding ranges."""
    from dvc_sweep.plan import render_value  # noqa: PLC0415  # plan imports this module

    counts = []
    for parameter in parameters:
        if parameter.values is not None:
            counts.append(len({render_value(value) for value in parameter.values}))
        elif parameter.min is not None and parameter.max is not None and parameter.step:
            counts.append(range_count(parameter.min, parameter.max, parameter.step))
        else:
            raise ValueError(f"grid parameter {parameter.key.display} has no values")
    return counts


def _check_grid_size(
    reader: _Reader,
    document: CommentedMap,
    parameters: list[Parameter],
    spec_max: int | None,
    cap: int | None,
) -> int:
    limit = spec_max if spec_max is not None else DEFAULT_GRID_MAX_EXPERIMENTS
    if cap is not None:
        limit = min(limit, cap)
    if not parameters or reader.errors:
        return limit
    size = math.prod(_grid_counts(parameters))
    if size <= limit:
        return limit
    counts = " x ".join(str(count) for count in _grid_counts(parameters))
    if cap is not None and cap == limit and (spec_max is None or spec_max > cap):
        hint = (
            f"the caller limits a sweep to {cap} experiments (for the GitHub Action, its "
            "max-experiments setting); raise that limit or make the grid smaller"
        )
    elif spec_max is None:
        hint = (
            f"without 'max_experiments' a grid may have {DEFAULT_GRID_MAX_EXPERIMENTS} points; "
            f"add 'max_experiments: {size}' to run them all, or make the grid smaller"
        )
    else:
        hint = f"set 'max_experiments: {size}' to run them all, or make the grid smaller"
    reader.error(
        f"the grid has {size} points ({counts}), more than max_experiments={limit}",
        reader.value_position(document, "max_experiments")
        or reader.key_position(document, "parameters"),
        hint=hint,
    )
    return limit


def _expand_grid_range(parameter: Parameter) -> Parameter:
    if parameter.values is not None:
        return parameter
    if parameter.min is None or parameter.max is None or parameter.step is None:
        raise ValueError(f"grid parameter {parameter.key.display} has no values or range")
    values = expand_range(parameter.min, parameter.max, parameter.step)
    return dataclasses.replace(parameter, values=values)
