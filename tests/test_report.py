"""Tests of the markdown report: exact text (golden files), ranking, escaping and shortening.

Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change of the report, and
review the diff before committing it.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from dvc_sweep.report import (
    MISSING,
    best_point,
    escape_markdown,
    fenced_block,
    render_json,
    render_markdown,
    trim_log,
)
from dvc_sweep.results import (
    SCHEMA_VERSION,
    Baseline,
    PointResult,
    Shard,
    Status,
    SweepResults,
    dumps_results,
)

GOLDEN = Path(__file__).parent / "golden"
COMMIT = "3f9c2d41e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3"
PARAMS = {
    "params.yaml": {
        "prepare": {"test_size": 0.25, "seed": 20},
        "train": {"n_est": 100, "min_split": 8, "seed": 42},
    }
}
# (n_est, min_split) -> (avg_prec, roc_auc); None makes the point fail.
GRID: dict[tuple[int, int], tuple[float, float] | None] = {
    (25, 2): (0.97521, 0.97102),
    (25, 8): (0.98102, 0.97655),
    (25, 32): (0.96433, 0.96012),
    (50, 2): (0.98554, 0.98121),
    (50, 8): (0.99013, 0.98844),
    (50, 32): (0.97007, 0.9683),
    (100, 2): (0.98799, 0.98432),
    (100, 8): None,
    (100, 32): (0.97324, 0.97011),
}
FAILED_LOG = """\
Running stage 'train':
> python scripts/train.py
Traceback (most recent call last):
  File "scripts/train.py", line 12, in <module>
    raise MemoryError
MemoryError
ERROR: failed to reproduce 'train': failed to run: python scripts/train.py, exited with 1
"""


def make_spec(
    name: str = "rf-grid", metric: dict[str, Any] | None = None, *, goal: str = "maximize"
) -> dict[str, Any]:
    return {
        "name": name,
        "method": "grid",
        "metric": metric
        if metric is not None
        else {"name": "avg_prec", "file": None, "goal": goal},
        "parameters": [],
        "max_experiments": 100,
        "seed": None,
        "jobs": 2,
        "timeout": None,
        "source": "sweep.yaml",
    }


def make_point(
    index: int,
    swept: dict[str, Any],
    metrics: dict[str, Any] | None,
    *,
    status: Status = "success",
    name: str | None = None,
    **extra: Any,
) -> PointResult:
    return PointResult(
        index=index,
        name=name or f"rf-grid-{index}",
        status=status,
        swept=swept,
        overrides=[f"{key}={value}" for key, value in swept.items()],
        rev=f"{index:040x}" if status == "success" else None,
        params=PARAMS,
        metrics={"metrics.json": metrics} if metrics is not None else {},
        duration=3.0 if status == "success" else None,
        **extra,
    )


def make_results(
    points: list[PointResult],
    *,
    spec: dict[str, Any] | None = None,
    baseline_metrics: dict[str, Any] | None = None,
) -> SweepResults:
    metrics = {"avg_prec": 0.988672, "roc_auc": 0.98501}
    return SweepResults(
        schema_version=SCHEMA_VERSION,
        spec=spec or make_spec(),
        baseline=Baseline(
            commit=COMMIT,
            params=PARAMS,
            metrics={"metrics.json": baseline_metrics if baseline_metrics is not None else metrics},
            source="commit",
        ),
        points=points,
        started_at="2024-05-01T12:00:00Z",
        finished_at="2024-05-01T12:01:14Z",
        wall_time=74.2,
        jobs=2,
        tool_version="0.1.0",
        dvc_version="3.67.0",
    )


def grid_results() -> SweepResults:
    points = []
    for index, ((n_est, min_split), values) in enumerate(GRID.items(), start=1):
        swept = {"train.n_est": n_est, "train.min_split": min_split}
        if values is None:
            points.append(
                make_point(
                    index,
                    swept,
                    None,
                    status="failed",
                    exit_status=1,
                    error="failed to reproduce 'train': exited with 1",
                    log_tail=FAILED_LOG,
                    log_path=".dvc-sweep/logs/rf-grid-8.log",
                )
            )
        else:
            metrics = {"avg_prec": values[0], "roc_auc": values[1]}
            points.append(make_point(index, swept, metrics, reused=index == 1))
    return make_results(points)


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def outside_code(text: str) -> str:
    """Return the text with fenced code blocks removed; their content renders as text."""
    return re.sub(r"^(`{3,}).*?^\1$", "", text, flags=re.DOTALL | re.MULTILINE)


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def cell_count(line: str) -> int:
    """Count the cells of a table line: pipes not escaped with a backslash, minus one."""
    return len(re.findall(r"(?<!\\)\|", line)) - 1


def row_of(text: str, name: str) -> list[str]:
    for line in table_lines(text):
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) > 1 and cells[1].startswith(name):
            return cells
    raise AssertionError(f"no table row for {name}")


def experiment_order(text: str) -> list[str]:
    return [re.split(r"(?<!\\)\|", line)[2].strip() for line in table_lines(text)[2:]]


# --- golden files ----------------------------------------------------------------------------


def test_report_golden_grid() -> None:
    text = render_markdown(
        grid_results(), chart=True, run_url="http://127.0.0.1:8080/acme/rf/actions/runs/42"
    )
    assert_golden("report_grid.md", text)


def test_report_golden_grid_top_rows() -> None:
    assert_golden("report_grid_top3.md", render_markdown(grid_results(), max_rows=3))


def test_report_golden_minimize_no_baseline() -> None:
    points = [
        make_point(1, {"train.lr": 0.001}, {"loss": 0.25}),
        make_point(2, {"train.lr": 0.01}, {"loss": 0.125}),
        make_point(3, {"train.lr": 0.1}, {"loss": math.nan}),
        make_point(4, {"train.lr": 1.0}, None, status="timeout", error="timed out after 20 s"),
        make_point(5, {"train.lr": 10.0}, None, status="not_run", error="sweep interrupted"),
    ]
    results = make_results(
        points,
        spec=make_spec("lr", {"name": "loss", "file": None, "goal": "minimize"}),
        baseline_metrics={},
    )
    results.baseline.source = "missing"
    results.interrupted = True
    assert_golden("report_minimize.md", render_markdown(results))


# --- ranking ---------------------------------------------------------------------------------


def test_report_sorted_best_first() -> None:
    order = experiment_order(render_markdown(grid_results()))
    assert order[:3] == ["rf-grid-5", "**baseline**", "rf-grid-7"]


def test_report_minimize_sorts_ascending() -> None:
    points = [make_point(i, {"x": i}, {"loss": loss}) for i, loss in enumerate([3.0, 1.0, 2.0], 1)]
    results = make_results(
        points,
        spec=make_spec(goal="minimize", metric={"name": "loss", "goal": "minimize"}),
        baseline_metrics={"loss": 1.5},
    )
    order = experiment_order(render_markdown(results))
    assert order == ["rf-grid-2", "**baseline**", "rf-grid-3", "rf-grid-1"]
    best = best_point(results)
    assert best is not None
    assert best.name == "rf-grid-2"


def test_report_nan_sorts_last() -> None:
    points = [
        make_point(1, {"x": 1}, {"avg_prec": math.nan}),
        make_point(2, {"x": 2}, {"avg_prec": 0.5}),
        make_point(3, {"x": 3}, {"avg_prec": 0.7}),
    ]
    text = render_markdown(make_results(points))
    assert experiment_order(text) == ["**baseline**", "rf-grid-3", "rf-grid-2", "rf-grid-1"]
    assert row_of(text, "rf-grid-1")[0] == MISSING
    assert row_of(text, "rf-grid-1")[3] == "NaN"


def test_best_point_never_nan() -> None:
    points = [
        make_point(1, {"x": 1}, {"avg_prec": math.nan}),
        make_point(2, {"x": 2}, {"avg_prec": math.inf}),
        make_point(3, {"x": 3}, {"avg_prec": 0.1}),
    ]
    best = best_point(make_results(points))
    assert best is not None
    assert best.name == "rf-grid-3"


def test_best_point_none_without_successes() -> None:
    points = [make_point(1, {"x": 1}, None, status="failed", error="boom")]
    assert best_point(make_results(points)) is None


def test_best_point_tie_goes_to_lower_index() -> None:
    points = [
        make_point(2, {"x": 2}, {"avg_prec": 0.5}),
        make_point(1, {"x": 1}, {"avg_prec": 0.5}),
    ]
    best = best_point(make_results(points))
    assert best is not None
    assert best.index == 1


def test_report_ties_share_rank() -> None:
    points = [make_point(i, {"x": i}, {"avg_prec": v}) for i, v in enumerate([0.5, 0.5, 0.4], 1)]
    text = render_markdown(make_results(points))
    assert [row_of(text, f"rf-grid-{i}")[0] for i in (1, 2, 3)] == ["1", "1", "3"]


def test_report_no_metric_in_spec_ranks_first_metric() -> None:
    spec = make_spec()
    spec["metric"] = None
    points = [make_point(1, {"x": 1}, {"acc": 0.5}), make_point(2, {"x": 2}, {"acc": 0.6})]
    text = render_markdown(make_results(points, spec=spec, baseline_metrics={}))
    assert "The spec names no metric, so the points are ranked by acc" in text
    assert "higher is better" in text
    assert experiment_order(text)[0] == "rf-grid-2"


def test_report_no_metrics_at_all() -> None:
    spec = make_spec()
    spec["metric"] = None
    points = [make_point(1, {"x": 1}, {})]
    text = render_markdown(make_results(points, spec=spec, baseline_metrics={}))
    assert "No numeric metric was found, so the points are not ranked." in text
    assert "Reproduce" not in text


def test_report_colliding_metric_keys_qualified() -> None:
    point = make_point(1, {"x": 1}, None)
    point.metrics = {"train.json": {"acc": 0.5}, "test.json": {"acc": 0.4}}
    spec = make_spec(metric={"name": "acc", "file": "test.json", "goal": "maximize"})
    text = render_markdown(make_results([point], spec=spec, baseline_metrics={}))
    header = table_lines(text)[0]
    assert header.index("test.json:acc ↑") < header.index("train.json:acc")


# --- cells -----------------------------------------------------------------------------------


def test_report_missing_value_dash() -> None:
    points = [make_point(1, {"x": 1}, {"avg_prec": 0.5}), make_point(2, {"x": 2}, {"roc_auc": 0.4})]
    text = render_markdown(make_results(points))
    assert row_of(text, "rf-grid-1")[4] == MISSING
    assert row_of(text, "rf-grid-2")[3] == MISSING


def test_report_keeps_string_text() -> None:
    points = [
        make_point(1, {"tag": "1.10", "sha": "695e0514"}, {"avg_prec": 0.5}),
        make_point(2, {"tag": "1.2", "sha": "00012"}, {"avg_prec": 0.4}),
    ]
    text = render_markdown(make_results(points))
    assert row_of(text, "rf-grid-1")[2:4] == ["1.10", "695e0514"]
    assert row_of(text, "rf-grid-2")[2:4] == ["1.2", "00012"]


def test_report_one_precision_per_column() -> None:
    points = [
        make_point(1, {"x": 1}, {"avg_prec": 0.98765}),
        make_point(2, {"x": 2}, {"avg_prec": 0.98771}),
        make_point(3, {"x": 3}, {"avg_prec": 0.5}),
    ]
    text = render_markdown(make_results(points, baseline_metrics={"avg_prec": 0.9}))
    values = [row_of(text, f"rf-grid-{i}")[3] for i in (1, 2, 3)]
    assert values == ["0.98765", "0.98771", "0.50000"]
    assert row_of(text, "**baseline**")[3] == "0.90000"


def test_report_scientific_for_tiny_values() -> None:
    points = [
        make_point(1, {"x": 1}, {"avg_prec": 1.5e-5}),
        make_point(2, {"x": 2}, {"avg_prec": 2e-5}),
    ]
    text = render_markdown(make_results(points, baseline_metrics={}))
    assert row_of(text, "rf-grid-2")[3] == "2.00e-05"


def test_report_reused_marked() -> None:
    text = render_markdown(grid_results())
    assert row_of(text, "rf-grid-1")[1] == "rf-grid-1 (reused)"
    assert "(1 reused from an earlier run, 8 run now)" in text


def test_report_summary_counts() -> None:
    text = render_markdown(grid_results())
    assert "Ran 9 of 9 points: 8 succeeded, 1 failed, 0 timed out, 0 not run" in text
    assert "Wall time 1 min 14 s with 2 jobs." in text
    assert "Best: **rf-grid-5** with avg\\_prec = 0.990, +0.0015 (+0.15%)" in text


def test_report_failed_point_details() -> None:
    text = render_markdown(grid_results())
    details = text[text.index("<details>") : text.index("</details>")]
    assert "#### rf-grid-8: failed (exit status 1)" in details
    assert "MemoryError" in details
    assert "rf-grid-8" not in experiment_order(text)


def test_report_reproduce_commands_paste_back() -> None:
    point = make_point(1, {"train.tag": "a b"}, {"avg_prec": 0.5})
    point.overrides = ["train.tag='a b'", "other.yaml:aug.p=0.1", "+train.new=$(rm -rf ~)"]
    point.name = "exp; rm -rf /"
    text = render_markdown(make_results([point]))
    apply_line = next(line for line in text.splitlines() if line.startswith("dvc exp apply"))
    run_line = next(line for line in text.splitlines() if line.startswith("dvc exp run"))
    assert shlex.split(apply_line) == ["dvc", "exp", "apply", "exp; rm -rf /"]
    assert shlex.split(run_line)[4::2] == point.overrides
    assert shlex.split(run_line)[3::2] == ["-S", "-S", "-S"]


def test_report_reproduce_says_baseline_not_beaten() -> None:
    points = [make_point(1, {"x": 1}, {"avg_prec": 0.1})]
    text = render_markdown(make_results(points))
    assert "No point beat the baseline, so keeping the baseline is the safe choice." in text


def test_report_run_url_linked() -> None:
    text = render_markdown(grid_results(), run_url="http://127.0.0.1:8080/a/b/actions/runs/7")
    assert "[workflow run](http://127.0.0.1:8080/a/b/actions/runs/7)" in text


def test_report_run_url_encoded() -> None:
    text = render_markdown(grid_results(), run_url="http://127.0.0.1:8080/a b)<c>")
    assert "[workflow run](http://127.0.0.1:8080/a%20b%29%3Cc%3E)" in text


def test_report_run_url_other_scheme_dropped() -> None:
    text = render_markdown(grid_results(), run_url="javascript:alert(1)")
    assert "javascript" not in text


# --- escaping --------------------------------------------------------------------------------

UNTRUSTED = {
    "pipe": "a|b",
    "newline": "line1\nline2\r\nline3",
    "html": "<img src=x onerror=alert(1)>&amp;",
    "backtick": "`code` and ``` fence",
    "mention": "@octocat and @org/team",
    "emphasis": "*bold* _it_ ~~strike~~",
    "link": "[click](http://127.0.0.1:9/evil) ![img](x)",
    "math": "$x^2$",
}


@pytest.mark.parametrize("case", sorted(UNTRUSTED))
def test_escape_markdown_cases(case: str) -> None:
    escaped = escape_markdown(UNTRUSTED[case])
    assert "\n" not in escaped
    assert "\r" not in escaped
    assert "<" not in escaped.replace("<br>", "")
    assert ">" not in escaped.replace("<br>", "")
    assert re.search(r"(?<!\\)[|`*_~\[\]$]", escaped) is None
    assert re.search(r"@[A-Za-z0-9]", escaped) is None


def test_escape_markdown_exact() -> None:
    assert escape_markdown("a|b") == "a\\|b"
    assert escape_markdown("<b>&") == "&lt;b&gt;&amp;"
    assert escape_markdown("x\ny") == "x<br>y"
    assert escape_markdown("@me") == "@\u200dme"
    assert escape_markdown("\\|") == "\\\\\\|"
    assert escape_markdown("a\x00b\x1bc") == "a\ufffdb\ufffdc"


def hostile_results(text: str) -> SweepResults:
    point = make_point(1, {f"train.{text}": text}, {f"m{text}": 0.5, "avg_prec": 0.5}, name=text)
    failed = make_point(
        2,
        {f"train.{text}": text},
        None,
        status="failed",
        name=f"{text}-2",
        error=text,
        log_tail=f"{text}\n```\n</details>\n@octocat",
        log_path=text,
    )
    return make_results([point, failed], spec=make_spec(name=text))


@pytest.mark.parametrize("case", sorted(UNTRUSTED))
def test_report_table_survives_untrusted_text(case: str) -> None:
    text = render_markdown(hostile_results(UNTRUSTED[case]), chart=True)
    lines = table_lines(text)
    counts = {cell_count(line) for line in lines}
    assert counts == {len(lines[0].split(" | "))}


@pytest.mark.parametrize("case", sorted(UNTRUSTED))
def test_report_no_live_html_from_untrusted_text(case: str) -> None:
    text = outside_code(render_markdown(hostile_results(UNTRUSTED[case])))
    assert "<img" not in text
    assert text.count("<details>") == 1
    assert text.count("</details>") == 1


def test_report_mentions_nobody() -> None:
    text = render_markdown(hostile_results(UNTRUSTED["mention"]), chart=True)
    assert re.search(r"@[A-Za-z0-9]", outside_code(text)) is None


def test_report_log_tail_fence_longer_than_backticks() -> None:
    text = render_markdown(hostile_results("x"))
    assert "````text\nx\n```\n</details>\n@octocat\n````" in text


def test_fenced_block_fence_length() -> None:
    assert fenced_block("a ````` b").startswith("``````\n")
    assert fenced_block("plain", "sh") == "```sh\nplain\n```"


def test_trim_log_last_lines() -> None:
    log = "".join(f"line {i}\n" for i in range(100))
    tail, cut = trim_log(log, 30, 3000)
    assert cut
    assert tail.splitlines()[0] == "line 70"
    assert tail.splitlines()[-1] == "line 99"


def test_trim_log_max_chars() -> None:
    log = "\n".join("x" * 500 for _ in range(20))
    tail, cut = trim_log(log, 30, 3000)
    assert cut
    assert len(tail) <= 3000


def test_trim_log_strips_terminal_codes() -> None:
    tail, cut = trim_log("\x1b[31mred\x1b[0m\n10%\r50%\r100%\n", 30, 3000)
    assert tail == "red\n100%"
    assert not cut


def test_report_log_tail_trimmed() -> None:
    log = "".join(f"line {i}\n" for i in range(100))
    point = make_point(1, {"x": 1}, None, status="failed", error="boom", log_tail=log)
    text = render_markdown(make_results([point]))
    assert "line 69\n" not in text
    assert "line 70\n" in text
    assert "End of the log (last 30 lines at most):" in text


# --- chart -----------------------------------------------------------------------------------


def test_report_chart_best_per_value() -> None:
    text = render_markdown(grid_results(), chart=True)
    assert 'x-axis "train.n_est" ["25", "50", "100"]' in text
    assert "line [0.98102, 0.99013, 0.98799]" in text
    assert text.index("```mermaid") > text.index("rank |")


def test_report_chart_off_by_default() -> None:
    assert "mermaid" not in render_markdown(grid_results())


def test_report_chart_skips_single_value_param() -> None:
    points = [
        make_point(1, {"a": 1, "b": 0.5}, {"avg_prec": 0.1}),
        make_point(2, {"a": 1, "b": 0.25}, {"avg_prec": 0.2}),
    ]
    text = render_markdown(make_results(points), chart=True)
    assert 'x-axis "b" ["0.25", "0.50"]' in text
    assert 'x-axis "a"' not in text


def test_report_chart_note_without_numeric_param() -> None:
    points = [
        make_point(1, {"a": "x"}, {"avg_prec": 0.1}),
        make_point(2, {"a": "y"}, {"avg_prec": 0.2}),
    ]
    text = render_markdown(make_results(points), chart=True)
    assert "mermaid" not in text
    assert "_No chart: no swept parameter has between 2 and 50 distinct numeric values._" in text


def test_report_chart_quotes_axis_titles() -> None:
    points = [
        make_point(1, {'p"]\n`x': 1}, {'m"\n#;': 0.1}),
        make_point(2, {'p"]\n`x': 2}, {'m"\n#;': 0.2}),
    ]
    spec = make_spec(metric={"name": 'm"\n#;', "goal": "maximize"})
    text = render_markdown(make_results(points, spec=spec, baseline_metrics={}), chart=True)
    chart = text[text.index("```mermaid") : text.index("```", text.index("```mermaid") + 3)]
    assert 'x-axis "p____x" ["1", "2"]' in chart
    assert 'y-axis "m____"' in chart


# --- shortening ------------------------------------------------------------------------------


def many_results(count: int, *, failed_every: int = 0) -> SweepResults:
    points = []
    for index in range(1, count + 1):
        swept = {"train.lr": index / 10_000, "train.depth": index % 7}
        if failed_every and index % failed_every == 0:
            points.append(
                make_point(
                    index,
                    swept,
                    None,
                    status="failed",
                    exit_status=1,
                    error="boom",
                    log_tail="".join(f"log line {i}\n" for i in range(50)),
                )
            )
        else:
            points.append(make_point(index, swept, {"avg_prec": (index * 7919 % 10_007) / 10_007}))
    return make_results(points)


def test_report_max_rows_keeps_baseline() -> None:
    text = render_markdown(grid_results(), max_rows=2)
    assert experiment_order(text) == ["rf-grid-5", "**baseline**", "rf-grid-7"]
    assert "_6 more points left out of this table; it shows the top 2 and the baseline._" in text


def test_report_max_rows_baseline_below_cut() -> None:
    points = [make_point(i, {"x": i}, {"avg_prec": 0.99 + i / 1000}) for i in range(1, 6)]
    text = render_markdown(make_results(points), max_rows=2)
    assert experiment_order(text) == ["rf-grid-5", "rf-grid-4", "**baseline**"]


@pytest.mark.parametrize("limit", [65_536, 20_000, 5_000, 2_000])
def test_report_max_chars_fits(limit: int) -> None:
    text = render_markdown(many_results(2_000, failed_every=10), max_chars=limit)
    assert len(text) <= limit
    assert "This report was shortened to fit" in text
    assert "**baseline**" in text


def test_report_max_chars_says_what_is_left_out() -> None:
    text = render_markdown(
        many_results(2_000, failed_every=10),
        max_chars=20_000,
        run_url="http://127.0.0.1:8080/run/1",
    )
    note = next(line for line in text.splitlines() if "shortened to fit 20,000" in line)
    assert re.search(r"\d+ table rows", note)
    assert "the log tails" in note
    assert (
        "job summary and the artifacts of [the workflow run](http://127.0.0.1:8080/run/1)" in note
    )


def test_report_max_chars_trims_logs_first() -> None:
    full = render_markdown(grid_results())
    text = render_markdown(grid_results(), max_chars=len(full) - 10)
    assert len(text) <= len(full) - 10
    assert experiment_order(text) == experiment_order(full)


def test_report_max_chars_tiny_limit() -> None:
    assert len(render_markdown(grid_results(), max_chars=50)) <= 50


def test_report_max_chars_unneeded_unchanged() -> None:
    assert render_markdown(grid_results(), max_chars=1_000_000) == render_markdown(grid_results())


def test_report_ten_thousand_points() -> None:
    results = many_results(10_000, failed_every=100)
    text = render_markdown(results, chart=True)
    assert len(table_lines(text)) == 2 + 1 + 9_900
    short = render_markdown(results, chart=True, max_chars=65_536)
    assert len(short) <= 65_536


# --- JSON ------------------------------------------------------------------------------------


def test_render_json_matches_file_text() -> None:
    results = grid_results()
    assert render_json(results) == dumps_results(results)
    assert json.loads(render_json(results))["schema_version"] == SCHEMA_VERSION


def test_report_swept_floats_read_back_exactly() -> None:
    points = [
        make_point(1, {"x": 0.0021584738123}, {"avg_prec": 0.5}),
        make_point(2, {"x": 0.1}, {"avg_prec": 0.6}),
    ]
    text = render_markdown(make_results(points))
    assert "0.0021584738123" in text


def test_report_shard_says_so() -> None:
    results = make_results([make_point(1, {"x": 1}, {"avg_prec": 0.5})])
    results.shard = Shard(index=2, count=3)
    text = render_markdown(results)
    assert text.splitlines()[0].endswith(", shard 2 of 3")
    assert "the best of this shard only" in text
