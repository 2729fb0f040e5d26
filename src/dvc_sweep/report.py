"""The markdown report of a sweep: summary, ranked table, failures and how to reproduce the best.

Text from the spec, the params, the metrics, DVC or a log is untrusted. It is escaped with
`escape_markdown`, or placed in a fenced code block longer than any backtick run it
contains, so it cannot break the table, render live HTML or mention anyone on GitHub.
Numbers are formatted here, one precision per column, and tabulate is called with
``disable_numparse=True`` so that it never re-parses a cell.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass, field, replace
from typing import Any, TypeGuard
from urllib.parse import quote

from tabulate import tabulate

from dvc_sweep.results import (
    PointResult,
    SweepResults,
    dumps_results,
    flatten_file_metrics,
)

MISSING = "—"
"""The text of a cell whose value is missing."""

LOG_TAIL_LINES = 30
LOG_TAIL_CHARS = 3000
SHORT_LOG_TAIL_LINES = 10
SHORT_LOG_TAIL_CHARS = 1000
MAX_FAILED_DETAILS_WHEN_SHORTENED = 20
MAX_CHART_VALUES = 50
"""More distinct x values than this make a chart unreadable, so no chart is drawn."""

_MIN_SIGNIFICANT = 3
# 17 significant digits read back as the same IEEE 754 double.
_EXACT_SIGNIFICANT = 17
_MAX_SIGNIFICANT = 6
_FIXED_POINT_MIN = 1e-3
_FIXED_POINT_MAX = 1e6

_STATUS_TEXT = {
    "success": "succeeded",
    "failed": "failed",
    "timeout": "timed out",
    "not_run": "not run",
}

# --- escaping ------------------------------------------------------------------------------

_ZERO_WIDTH_JOINER = "\u200d"
_MARKDOWN_ESCAPES: dict[int, str] = {
    **{ord(char): "\\" + char for char in "\\`*_~[]|$"},
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    # GitHub links "@name" to the user and notifies them. A zero-width joiner after the "@"
    # breaks the pattern while the text still reads "@name".
    ord("@"): "@" + _ZERO_WIDTH_JOINER,
    ord("\n"): "<br>",
    ord("\t"): " ",
}
# Other C0 and C1 control characters become the replacement character.
_MARKDOWN_ESCAPES.update(
    {code: "\ufffd" for code in [*range(0x20), *range(0x7F, 0xA0)] if code not in _MARKDOWN_ESCAPES}
)


def escape_markdown(text: str) -> str:
    r"""Escape untrusted text for inline markdown, including inside a table cell.

    Backslashes, backticks and ``* _ ~ [ ] | $`` get a backslash, and ``& < >`` become
    entities. A zero-width joiner follows each ``@`` so that GitHub links no user. Line
    breaks become ``<br>`` and other control characters become U+FFFD.
    """
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_MARKDOWN_ESCAPES)


escape_cell = escape_markdown
"""The name table-building code uses for `escape_markdown`."""


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BACKTICK_RUN = re.compile(r"`+")


def fenced_block(text: str, info: str = "") -> str:
    """Wrap text in a fenced code block whose fence is longer than any backtick run in it."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") else text + "\n"
    return f"{fence}{info}\n{body}{fence}"


def trim_log(text: str, max_lines: int, max_chars: int) -> tuple[str, bool]:
    r"""Return the last lines of a log, cleaned of terminal codes, and whether it was cut.

    Progress bars rewrite a line with ``\r``; only the last version of such a line is kept.
    """
    text = _ANSI_ESCAPE.sub("", text)
    lines = [line.rsplit("\r", 1)[-1] for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    cut = len(lines) > max_lines
    lines = lines[-max_lines:] if max_lines > 0 else []
    tail = _CONTROL.sub("\ufffd", "\n".join(lines))
    if len(tail) > max_chars:
        cut = True
        tail = tail[-max_chars:]
        # Start at a line boundary when one is near, so the first line is not half a line.
        newline = tail.find("\n")
        if 0 <= newline < len(tail) - 1:
            tail = tail[newline + 1 :]
    return tail, cut


def _mermaid_text(text: str) -> str:
    """Return text that is safe inside a double-quoted Mermaid string."""
    allowed = " _.:+-/=,()%'"
    return "".join(char if char.isalnum() or char in allowed else "_" for char in text)


# --- numbers -------------------------------------------------------------------------------


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _non_finite_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


@dataclass(frozen=True)
class _NumberFormat:
    """One precision for every number of a column."""

    integer: bool = False
    decimals: int = 3
    scientific: bool = False

    def format(self, value: float, *, sign: bool = False) -> str:
        if isinstance(value, float) and not math.isfinite(value):
            return _non_finite_text(value)
        plus = "+" if sign else ""
        if self.integer and isinstance(value, int):
            return f"{value:{plus}d}"
        kind = "e" if self.scientific else "f"
        return f"{value:{plus}.{self.decimals}{kind}}"

    @classmethod
    def for_values(
        cls, values: list[Any], *, fixed_point: bool = False, exact: bool = False
    ) -> _NumberFormat:
        """Choose the fewest significant digits (3 to 6) that keep distinct values distinct.

        The digits count from the largest magnitude in the column. Magnitudes below 0.001 or
        from a million up use scientific notation unless ``fixed_point`` is set. With
        ``exact``, as for swept params that a reader may copy, the digits grow up to 17
        until every value reads back as itself.
        """
        numbers = [value for value in values if _is_number(value)]
        if all(isinstance(value, int) for value in numbers):
            return cls(integer=True)
        distinct = {float(value) for value in numbers if math.isfinite(value)}
        largest = max((abs(value) for value in distinct), default=0.0)
        scientific = (
            not fixed_point
            and largest != 0.0
            and not _FIXED_POINT_MIN <= largest < _FIXED_POINT_MAX
        )
        candidate = cls()
        most_significant = _EXACT_SIGNIFICANT if exact else _MAX_SIGNIFICANT
        for significant in range(_MIN_SIGNIFICANT, most_significant + 1):
            if scientific:
                candidate = cls(decimals=significant - 1, scientific=True)
            else:
                magnitude = math.floor(math.log10(largest)) if largest else 0
                candidate = cls(decimals=max(0, significant - 1 - magnitude))
            if len({candidate.format(value) for value in distinct}) != len(distinct):
                continue
            if not exact or all(float(candidate.format(value)) == value for value in distinct):
                break
        if not candidate.scientific:
            # Values typed by hand (0.25, 0.5) need fewer decimals than the digits chosen.
            for decimals in range(1, candidate.decimals):
                if all(float(f"{value:.{decimals}f}") == value for value in distinct):
                    return cls(decimals=decimals)
        return candidate


@dataclass(frozen=True)
class _DeltaFormat:
    """The change of the goal metric against the baseline, absolute and in percent."""

    baseline_score: float | None
    absolute: _NumberFormat
    percent: _NumberFormat

    @classmethod
    def for_scores(cls, baseline_score: float | None, scores: list[float]) -> _DeltaFormat:
        if baseline_score is None:
            return cls(None, _NumberFormat(), _NumberFormat())
        deltas = [score - baseline_score for score in scores]
        percents = [100 * delta / abs(baseline_score) for delta in deltas if baseline_score]
        return cls(
            baseline_score,
            _NumberFormat.for_values(deltas),
            _NumberFormat.for_values(percents, fixed_point=True),
        )

    def format(self, score: float | None) -> str:
        if score is None or self.baseline_score is None:
            return MISSING
        delta = score - self.baseline_score
        text = self.absolute.format(delta, sign=True)
        if self.baseline_score != 0:
            percent = 100 * delta / abs(self.baseline_score)
            text += f" ({self.percent.format(percent, sign=True)}%)"
        return text


def _format_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# --- values --------------------------------------------------------------------------------


def _value_text(value: object, number_format: _NumberFormat | None) -> str:
    """Format one cell value; text from the results file is escaped."""
    if value is _ABSENT:
        return MISSING
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return (number_format or _NumberFormat.for_values([value])).format(value)
    if isinstance(value, str):
        return escape_markdown(value) if value else '""'
    return escape_markdown(_compact_json(value))


def _compact_json(value: object) -> str:
    import json  # noqa: PLC0415  # only lists and dicts in cells need it

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()
"""A value that is not in the data at all, as opposed to a ``null`` value."""


def _lookup_param(params: dict[str, dict[str, Any]], display: str) -> object:
    """Find a swept param, written as ``key.path`` or ``FILE:key.path``, in params data."""
    file, colon, path = display.partition(":")
    if not colon:
        file, path = "params.yaml", display
    node: object = params.get(file, _ABSENT)
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _ABSENT
    return node


# --- ranking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Goal:
    """The metric the points are ranked by."""

    label: str | None
    maximize: bool
    from_spec: bool


class _Metrics:
    """Metric columns shared by the baseline and all points.

    A key found in several metrics files is written ``FILE:KEY`` in every row, so one
    column always means one file's value.
    """

    def __init__(self, results: SweepResults) -> None:
        records = [results.baseline.metrics, *(point.metrics for point in results.points)]
        per_record = [
            {file: flatten_file_metrics(data) for file, data in metrics.items()}
            for metrics in records
        ]
        files_of_key: dict[str, set[str]] = {}
        for flat_files in per_record:
            for file, flat in flat_files.items():
                for key in flat:
                    files_of_key.setdefault(key, set()).add(file)
        self._qualified = {key for key, files in files_of_key.items() if len(files) > 1}
        self._files_of_key = files_of_key

        self.labels: list[str] = []
        seen: set[str] = set()
        self.rows: list[dict[str, Any]] = []
        for flat_files in per_record:
            row: dict[str, Any] = {}
            for file, flat in flat_files.items():
                for key, value in flat.items():
                    label = self.label(file, key)
                    row[label] = value
                    if label not in seen:
                        seen.add(label)
                        self.labels.append(label)
            self.rows.append(row)
        self.baseline = self.rows[0]
        self.by_point = dict(
            zip((point.index for point in results.points), self.rows[1:], strict=True)
        )

    def label(self, file: str, key: str) -> str:
        return f"{file}:{key}" if key in self._qualified else key

    def resolve_goal(self, spec_metric: object) -> _Goal:
        if isinstance(spec_metric, dict) and isinstance(spec_metric.get("name"), str):
            name: str = spec_metric["name"]
            file = spec_metric.get("file")
            maximize = spec_metric.get("goal", "maximize") != "minimize"
            if not isinstance(file, str):
                files = self._files_of_key.get(name)
                # Without a file, the first file (in sorted order) that has the key wins.
                file = min(files) if files else None
            label = self.label(file, name) if file else name
            return _Goal(label=label, maximize=maximize, from_spec=True)
        for label in self.labels:
            if any(_is_number(row.get(label)) for row in self.rows):
                return _Goal(label=label, maximize=True, from_spec=False)
        return _Goal(label=None, maximize=True, from_spec=False)


def _score(metrics: dict[str, Any], goal: _Goal) -> float | None:
    """Return the goal metric as a finite float, or None when it cannot be ranked."""
    if goal.label is None:
        return None
    value = metrics.get(goal.label)
    if not _is_number(value) or not math.isfinite(value):
        return None
    return float(value)


def _sort_key(score: float, index: int, goal: _Goal) -> tuple[float, int]:
    return (-score if goal.maximize else score, index)


def best_point(results: SweepResults) -> PointResult | None:
    """Return the successful point with the best finite goal metric, or None.

    Ties go to the lower point index. NaN, the infinities and non-numeric values are never
    best. Without a metric in the spec, the first numeric metric found is maximized.
    """
    metrics = _Metrics(results)
    goal = metrics.resolve_goal(results.spec.get("metric"))
    best: tuple[tuple[float, int], PointResult] | None = None
    for point in results.points:
        if point.status != "success":
            continue
        score = _score(metrics.by_point[point.index], goal)
        if score is None:
            continue
        key = _sort_key(score, point.index, goal)
        if best is None or key < best[0]:
            best = (key, point)
    return best[1] if best else None


def goal_metric_value(results: SweepResults, point: PointResult) -> object:
    """Return the value of the goal metric that the report ranks `point` by, or None.

    The goal is resolved as for the ranking: the spec's metric, found in the first metrics
    file (in sorted order) that has the key anywhere in the sweep unless the spec names the
    file, or else the first numeric metric. The value is returned as stored, so it may be
    NaN, an infinity or not a number at all. `point` must be one of ``results.points``.
    """
    metrics = _Metrics(results)
    goal = metrics.resolve_goal(results.spec.get("metric"))
    if goal.label is None:
        return None
    return metrics.by_point[point.index].get(goal.label)


def render_json(results: SweepResults) -> str:
    """Return the results as JSON, the same text `write_results` writes to the file."""
    return dumps_results(results)


# --- the report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """The parts a rendering includes, which `render_markdown` shrinks to fit ``max_chars``."""

    table_rows: int | None = None
    log_lines: int = LOG_TAIL_LINES
    log_chars: int = LOG_TAIL_CHARS
    failed_details: int | None = None
    chart: bool = False
    shortened_to: int | None = None


@dataclass
class _Row:
    cells: list[str]
    is_baseline: bool = False


@dataclass
class _Report:
    """The parts of a report that do not depend on the layout, computed once."""

    results: SweepResults
    run_url: str | None
    goal: _Goal
    headers: list[str]
    alignment: list[str]
    point_rows: list[_Row]
    baseline_row: _Row
    baseline_position: int
    """The number of point rows that come before the baseline row in the full table."""
    best: PointResult | None
    failed: list[PointResult]
    param_formats: dict[str, _NumberFormat] = field(default_factory=dict)
    goal_format: _NumberFormat = field(default_factory=_NumberFormat)
    delta_format: _DeltaFormat = field(
        default_factory=lambda: _DeltaFormat(None, _NumberFormat(), _NumberFormat())
    )
    metrics: _Metrics | None = None
    baseline_score: float | None = None
    best_score: float | None = None
    chart_text: str = ""
    tables: dict[int, str] = field(default_factory=dict)
    """Rendered tables by the number of point rows kept; shortening renders some twice."""

    def table(self, kept: int) -> str:
        if kept not in self.tables:
            rows = [row.cells for row in self.point_rows[:kept]]
            rows.insert(min(self.baseline_position, kept), self.baseline_row.cells)
            self.tables[kept] = tabulate(
                rows,
                headers=self.headers,
                tablefmt="pipe",
                disable_numparse=True,
                colalign=self.alignment,
            )
        return self.tables[kept]


def _build(results: SweepResults, run_url: str | None) -> _Report:
    metrics = _Metrics(results)
    goal = metrics.resolve_goal(results.spec.get("metric"))

    swept_keys: dict[str, None] = {}
    for point in results.points:
        swept_keys.update(dict.fromkeys(point.swept))
    baseline_swept = {key: _lookup_param(results.baseline.params, key) for key in swept_keys}

    successes = [point for point in results.points if point.status == "success"]
    scores = {point.index: _score(metrics.by_point[point.index], goal) for point in successes}
    ranked = sorted(
        (point for point in successes if scores[point.index] is not None),
        key=lambda point: _sort_key(scores[point.index] or 0.0, point.index, goal),
    )
    unranked = [point for point in successes if scores[point.index] is None]
    baseline_score = _score(metrics.baseline, goal)

    metric_labels = list(metrics.labels)
    if goal.label is not None:
        if goal.label in metric_labels:
            metric_labels.remove(goal.label)
        metric_labels.insert(0, goal.label)

    # One number format per column, chosen from every value of the column.
    shown = [metrics.baseline, *(metrics.by_point[point.index] for point in successes)]
    param_formats = {
        key: _NumberFormat.for_values(
            [baseline_swept[key], *(point.swept.get(key) for point in successes)], exact=True
        )
        for key in swept_keys
    }
    metric_formats = {
        label: _NumberFormat.for_values([row.get(label) for row in shown])
        for label in metric_labels
    }
    goal_format = metric_formats[goal.label] if goal.label else _NumberFormat()
    delta_format = _DeltaFormat.for_scores(
        baseline_score, [scores[point.index] or 0.0 for point in ranked]
    )

    def cells(
        rank: str, experiment: str, swept: dict[str, Any], row: dict[str, Any], score: float | None
    ) -> list[str]:
        values = [rank, experiment]
        values += [_value_text(swept.get(key, _ABSENT), param_formats[key]) for key in swept_keys]
        values += [
            _value_text(row.get(label, _ABSENT), metric_formats[label]) for label in metric_labels
        ]
        if goal.label is not None:
            values.append(delta_format.format(score))
        return values

    point_rows: list[_Row] = []
    previous: float | None = None
    rank = 0
    for position, point in enumerate(ranked, start=1):
        score = scores[point.index]
        if score != previous:
            rank, previous = position, score
        point_rows.append(
            _Row(
                cells(
                    str(rank),
                    _experiment_cell(point),
                    point.swept,
                    metrics.by_point[point.index],
                    score,
                )
            )
        )
    for point in unranked:
        point_rows.append(
            _Row(
                cells(
                    MISSING,
                    _experiment_cell(point),
                    point.swept,
                    metrics.by_point[point.index],
                    None,
                )
            )
        )

    baseline = results.baseline
    baseline_cell = "**baseline**"
    if baseline.source == "run" and baseline.name:
        baseline_cell += f" (run as {escape_markdown(baseline.name)})"
    elif baseline.source == "missing":
        baseline_cell += " (no metrics)"
    baseline_row = _Row(
        cells("", baseline_cell, baseline_swept, metrics.baseline, None), is_baseline=True
    )
    if baseline_score is None:
        baseline_position = len(ranked)
    else:
        # The baseline goes after the points that beat it and before those it ties or beats.
        baseline_key = _sort_key(baseline_score, -1, goal)
        baseline_position = sum(
            1
            for point in ranked
            if _sort_key(scores[point.index] or 0.0, point.index, goal) < baseline_key
        )

    headers = ["rank", "experiment", *(escape_markdown(key) for key in swept_keys)]
    for label in metric_labels:
        header = escape_markdown(label)
        if label == goal.label:
            header += " ↑" if goal.maximize else " ↓"
        headers.append(header)
    alignment = ["right", "left"]
    alignment += [
        "left" if any(isinstance(point.swept.get(key), str) for point in successes) else "right"
        for key in swept_keys
    ]
    alignment += ["right"] * len(metric_labels)
    if goal.label is not None:
        headers.append("Δ baseline")
        alignment.append("right")

    # The same choice as best_point(): `ranked` is sorted best first, ties by index.
    best = ranked[0] if ranked else None
    report = _Report(
        results=results,
        run_url=run_url,
        goal=goal,
        headers=headers,
        alignment=alignment,
        point_rows=point_rows,
        baseline_row=baseline_row,
        baseline_position=baseline_position,
        best=best,
        failed=[point for point in results.points if point.status != "success"],
        param_formats=param_formats,
        goal_format=goal_format,
        delta_format=delta_format,
        metrics=metrics,
        baseline_score=baseline_score,
        best_score=scores[best.index] if best else None,
    )
    report.chart_text = _chart(report, ranked, scores)
    return report


def _experiment_cell(point: PointResult) -> str:
    text = escape_markdown(point.name)
    return f"{text} (reused)" if point.reused else text


def _chart(report: _Report, ranked: list[PointResult], scores: dict[int, float | None]) -> str:
    """Return a Mermaid xychart of the best goal metric per value of a numeric swept param.

    The param is the first one whose values are all numbers and that has 2 to
    `MAX_CHART_VALUES` distinct values among the ranked points. Returns a one-line note
    instead when there is no such param.
    """
    goal = report.goal
    if goal.label is None or not ranked:
        return "_No chart: no point has a numeric value of the goal metric._"
    keys = list(report.param_formats)
    for key in keys:
        values = [point.swept.get(key) for point in ranked]
        numbers = [float(value) for value in values if _is_number(value) and math.isfinite(value)]
        if len(numbers) != len(values):
            continue
        best_by_value: dict[float, float] = {}
        for point, number in zip(ranked, numbers, strict=True):
            # `ranked` is sorted best first, so the first point seen for a value is its best.
            best_by_value.setdefault(number, scores[point.index] or 0.0)
        if not 2 <= len(best_by_value) <= MAX_CHART_VALUES:
            continue
        x_values = sorted(best_by_value)
        number_format = report.param_formats[key]
        labels = ", ".join(
            f'"{_mermaid_text(number_format.format(_as_int_if_whole(x, number_format)))}"'
            for x in x_values
        )
        y_values = ", ".join(_mermaid_number(best_by_value[x]) for x in x_values)
        metric = _mermaid_text(goal.label)
        title = _mermaid_text(f"Best {goal.label} per {key}")
        chart = (
            "xychart-beta\n"
            f'    title "{title}"\n'
            f'    x-axis "{_mermaid_text(key)}" [{labels}]\n'
            f'    y-axis "{metric}"\n'
            f"    line [{y_values}]\n"
        )
        return fenced_block(chart, "mermaid")
    return (
        f"_No chart: no swept parameter has between 2 and {MAX_CHART_VALUES} distinct "
        "numeric values._"
    )


def _as_int_if_whole(value: float, number_format: _NumberFormat) -> float:
    return int(value) if number_format.integer and value.is_integer() else value


def _mermaid_number(value: float) -> str:
    text = f"{value:.10g}"
    if "e" in text:
        text = f"{value:.15f}".rstrip("0").rstrip(".")
    return text


def _title_and_summary(report: _Report) -> list[str]:
    results = report.results
    name = str(results.spec.get("name") or "sweep")
    commit = results.baseline.commit[:7] or "unknown commit"
    title = f"## Sweep {escape_markdown(name)} on {escape_markdown(commit)}"
    if results.shard is not None:
        title += f", shard {results.shard.index} of {results.shard.count}"
    parts = [title, ""]
    if results.shard is not None:
        parts += [
            (
                "This report covers one shard of the sweep, so its best point is the best of "
                "this shard only."
            ),
            "",
        ]

    counts = dict.fromkeys(_STATUS_TEXT, 0)
    for point in results.points:
        counts[point.status] = counts.get(point.status, 0) + 1
    total = len(results.points)
    ran = total - counts["not_run"]
    reused = sum(1 for point in results.points if point.reused)
    summary = (
        f"Ran {ran:,} of {total:,} points: {counts['success']} succeeded, {counts['failed']} "
        f"failed, {counts['timeout']} timed out, {counts['not_run']} not run"
    )
    if reused:
        summary += f" ({reused} reused from an earlier run, {ran - reused} run now)"
    summary += f". Wall time {_format_seconds(results.wall_time)}"
    summary += f" with {results.jobs} {_plural(results.jobs, 'job')}." if results.jobs else "."
    if results.interrupted:
        summary += " The sweep was interrupted before every point ran."
    parts.append(summary)
    parts.append("")

    goal = report.goal
    if goal.label is None:
        parts.append("No numeric metric was found, so the points are not ranked.")
    else:
        direction = "higher" if goal.maximize else "lower"
        if goal.from_spec:
            parts.append(f"Ranked by {escape_markdown(goal.label)}, {direction} is better.")
        else:
            parts.append(
                f"The spec names no metric, so the points are ranked by "
                f"{escape_markdown(goal.label)}, the first metric found, {direction} is better."
            )
        if report.best is not None and report.best_score is not None:
            best_text = (
                f"Best: **{escape_markdown(report.best.name)}** with "
                f"{escape_markdown(goal.label)} = {report.goal_format.format(report.best_score)}"
            )
            if report.baseline_score is not None:
                change = report.delta_format.format(report.best_score)
                baseline_value = report.goal_format.format(report.baseline_score)
                best_text += f", {change} against the baseline ({baseline_value})."
            else:
                best_text += "; the baseline has no value of this metric."
            parts.append(best_text)
        else:
            parts.append("No point has a numeric value of the goal metric, so there is no best.")
    return parts


def _table(report: _Report, layout: _Layout) -> list[str]:
    rows = report.point_rows
    kept = len(rows) if layout.table_rows is None else min(layout.table_rows, len(rows))
    parts = [report.table(kept)]
    left_out = len(rows) - kept
    if left_out:
        parts += [
            "",
            (
                f"_{left_out:,} more {_plural(left_out, 'point')} left out of this table; "
                f"it shows the top {kept:,} and the baseline._"
            ),
        ]
    return parts


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def _failure_details(report: _Report, layout: _Layout) -> list[str]:
    failed = report.failed
    if not failed:
        return []
    counts: dict[str, int] = {}
    for point in failed:
        counts[point.status] = counts.get(point.status, 0) + 1
    summary = ", ".join(
        f"{count} {_STATUS_TEXT.get(status, status)}" for status, count in counts.items()
    )
    listed = failed if layout.failed_details is None else failed[: layout.failed_details]
    parts = ["<details>", f"<summary>Points that did not succeed: {summary}</summary>", ""]
    for point in listed:
        parts += _failure_entry(report, layout, point)

    left_out = len(failed) - len(listed)
    if left_out:
        parts += [f"_{left_out} more {_plural(left_out, 'point')} left out here._", ""]
    parts.append("</details>")
    return parts


def _failure_entry(report: _Report, layout: _Layout, point: PointResult) -> list[str]:
    """Return the heading, params, error and log tail of a point that did not succeed."""
    status = _STATUS_TEXT.get(point.status, point.status)
    heading = f"#### {escape_markdown(point.name)}: {status}"
    if point.exit_status is not None:
        heading += f" (exit status {point.exit_status})"
    parts = [heading, ""]

    swept = ", ".join(
        f"{escape_markdown(key)} = {_value_text(value, report.param_formats.get(key))}"
        for key, value in point.swept.items()
    )
    parts.append(f"- params: {swept or MISSING}")
    if point.error:
        parts.append(f"- error: {escape_markdown(point.error)}")
    # A report with a run URL is read away from the runner, where a local path means nothing.
    if point.log_path and report.run_url is None:
        parts.append(f"- full log: {escape_markdown(point.log_path)}")
    parts.append("")

    if point.log_tail and layout.log_lines > 0 and layout.log_chars > 0:
        tail, cut = trim_log(point.log_tail, layout.log_lines, layout.log_chars)
        if tail:
            if cut:
                parts += [f"End of the log (last {layout.log_lines} lines at most):", ""]
            parts += [fenced_block(tail, "text"), ""]
    return parts


def _reproduce(report: _Report) -> list[str]:
    best = report.best
    if best is None:
        return []
    apply_command = f"dvc exp apply {shlex.quote(best.name)}"
    run_command = " ".join(
        ["dvc exp run", *(f"-S {shlex.quote(override)}" for override in best.overrides)]
    )
    commit = report.results.baseline.commit[:7]
    parts = ["### Reproduce the best point", ""]
    if report.baseline_score is not None and report.best_score is not None:
        beaten = (
            report.best_score > report.baseline_score
            if report.goal.maximize
            else report.best_score < report.baseline_score
        )
        if not beaten:
            parts += ["No point beat the baseline, so keeping the baseline is the safe choice.", ""]
    rerun = [
        f"run it again with commit {escape_markdown(commit)} checked out:",
        "",
        fenced_block(run_command + "\n", "sh"),
    ]
    if report.run_url is None:
        parts += [
            f"To adopt {escape_markdown(best.name)}, apply it to the workspace and commit it:",
            "",
            fenced_block(apply_command + "\n", "sh"),
            "",
            "Or " + rerun[0],
            *rerun[1:],
        ]
    else:
        # The experiments stay on the runner that made them, so the reader reruns a point.
        parts += [f"To reproduce {escape_markdown(best.name)}, " + rerun[0], *rerun[1:]]
    if report.run_url is None:
        other_rows = (
            "Any other row works the same way: `dvc exp apply` takes the experiment name "
            "from the table, and the results file lists each point's `-S` overrides "
            "(`dvc-sweep report --format json`)."
        )
    else:
        other_rows = (
            "For any other row, the results file of the workflow run lists each point's "
            "`-S` overrides (`dvc-sweep report --format json`)."
        )
    parts += ["", other_rows]
    return parts


def _safe_url(url: str) -> str | None:
    if not url.startswith(("https://", "http://")):
        return None
    # Percent-encode what could end the markdown link or start HTML.
    return quote(url, safe=":/?#@!$&'*+,;=%~-._")


def _footer(report: _Report) -> list[str]:
    results = report.results
    versions = f"dvc-sweep {escape_markdown(results.tool_version)}"
    if results.dvc_version:
        versions += f", DVC {escape_markdown(results.dvc_version)}"
    url = _safe_url(report.run_url) if report.run_url else None
    if url:
        return [f"<sub>{versions} · [workflow run]({url})</sub>"]
    return [f"<sub>{versions}</sub>"]


def _shortened_note(report: _Report, layout: _Layout) -> list[str]:
    if layout.shortened_to is None:
        return []
    left_out = []
    if layout.table_rows is not None and layout.table_rows < len(report.point_rows):
        count = len(report.point_rows) - layout.table_rows
        left_out.append(f"{count:,} table {_plural(count, 'row')}")
    if layout.failed_details is not None and layout.failed_details < len(report.failed):
        count = len(report.failed) - layout.failed_details
        left_out.append(f"the details of {count:,} failed {_plural(count, 'point')}")
    if report.failed and layout.log_lines == 0:
        left_out.append("the log tails")
    elif report.failed and layout.log_lines < LOG_TAIL_LINES:
        left_out.append(f"all but the last {layout.log_lines} lines of each log tail")
    url = _safe_url(report.run_url) if report.run_url else None
    where = (
        f"The full report is in the job summary and the artifacts of [the workflow run]({url})."
        if url
        else "Run `dvc-sweep report` on the results file for the full report."
    )
    if len(left_out) > 1:
        what = ", ".join(left_out[:-1]) + " and " + left_out[-1]
    else:
        what = left_out[0] if left_out else "parts of the report"
    return [
        (
            f"> [!NOTE]\n> This report was shortened to fit {layout.shortened_to:,} "
            f"characters: {what} are left out. {where}"
        ),
        "",
    ]


def _render(report: _Report, layout: _Layout) -> str:
    parts = _title_and_summary(report)
    parts.append("")
    parts += _shortened_note(report, layout)
    parts += _table(report, layout)
    if layout.chart:
        parts += ["", report.chart_text]
    details = _failure_details(report, layout)
    if details:
        parts += ["", *details]
    reproduce = _reproduce(report)
    if reproduce:
        parts += ["", *reproduce]
    parts += ["", *_footer(report)]
    return "\n".join(parts) + "\n"


def render_markdown(
    results: SweepResults,
    *,
    max_rows: int | None = None,
    run_url: str | None = None,
    chart: bool = False,
    max_chars: int | None = None,
) -> str:
    """Render the markdown report of a sweep.

    ``max_rows`` keeps the baseline and the top ``max_rows`` points in the table, with a line
    that counts the points left out. ``chart`` adds a Mermaid chart of the goal metric against a
    swept numeric parameter, after the table. ``max_chars`` shortens the report until it
    fits. It cuts log tails first, then the failure details, then table rows, and keeps the
    summary, the baseline and the top rows. A note at the top lists what was left out.
    ``run_url`` links the workflow run that produced the results.
    """
    report = _build(results, run_url)
    layout = _Layout(table_rows=max_rows, chart=chart)
    text = _render(report, layout)
    if max_chars is None or len(text) <= max_chars:
        return text
    return _shorten(report, layout, max_chars)


def _line_width(table: str) -> int:
    return 1 + max(len(line) for line in table.splitlines())


def _fit_rows(report: _Report, layout: _Layout, max_kept: int, max_chars: int) -> str | None:
    """Render the layout with as many table rows as fit, up to ``max_kept``, or return None.

    Every table line is as wide as the widest, so the room left divided by the width of a
    line is a lower bound on the rows that fit. A second pass uses the width of the shorter
    table, whose columns may be narrower. Rendering 10,000 rows takes about 0.25 s, so a
    search that renders the table many times would be too slow.
    """
    fitting = _render(report, replace(layout, table_rows=0))
    if len(fitting) > max_chars:
        return None
    kept = 0
    width = _line_width(report.table(max_kept))
    for _ in range(2):
        candidate = min(max_kept, kept + (max_chars - len(fitting)) // width)
        while candidate > kept:
            text = _render(report, replace(layout, table_rows=candidate))
            if len(text) <= max_chars:
                fitting, kept = text, candidate
                break
            candidate -= max(1, -(-(len(text) - max_chars) // width))
        width = _line_width(report.table(kept))
    return fitting


def _shorten(report: _Report, layout: _Layout, max_chars: int) -> str:
    """Render the largest layout that fits in ``max_chars`` characters."""
    layout = replace(layout, shortened_to=max_chars)
    steps = [
        replace(layout, log_lines=SHORT_LOG_TAIL_LINES, log_chars=SHORT_LOG_TAIL_CHARS),
        replace(layout, log_lines=0, log_chars=0, failed_details=MAX_FAILED_DETAILS_WHEN_SHORTENED),
    ]
    for step in steps:
        text = _render(report, step)
        if len(text) <= max_chars:
            return text

    max_kept = len(report.point_rows)
    if layout.table_rows is not None:
        max_kept = min(max_kept, layout.table_rows)
    minimal = replace(steps[-1], failed_details=0, chart=False)
    for fewer_rows in (steps[-1], minimal):
        fitting = _fit_rows(report, fewer_rows, max_kept, max_chars)
        if fitting is not None:
            return fitting

    text = _render(report, replace(minimal, table_rows=0))
    # NOTE: only a limit below the size of the title, summary and baseline row gets here.
    # The cut can split a markdown construct, which is acceptable for a text this short.
    marker = "\n…\n"
    if max_chars < len(marker):
        return text[:max_chars]
    return text[: max_chars - len(marker)] + marker
