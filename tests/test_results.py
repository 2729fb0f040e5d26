"""Tests of the results dataclasses and the results file (write, read, every read error)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from dvc_sweep.errors import ExitCode, ResultsFileError
from dvc_sweep.results import (
    SCHEMA_VERSION,
    Baseline,
    PointResult,
    SweepResults,
    dumps_results,
    flatten_metrics,
    read_results,
    results_to_dict,
    write_results,
)


def make_results() -> SweepResults:
    spec = {
        "name": "rf-grid",
        "method": "grid",
        "metric": {"name": "avg_prec", "file": None, "goal": "maximize"},
        "parameters": [{"key": "train.n_est", "values": [25, 50]}],
        "max_experiments": 100,
        "seed": None,
        "jobs": 2,
        "timeout": 1200.0,
        "source": "sweep.yaml",
    }
    params = {"params.yaml": {"train": {"n_est": 25, "tag": "1.10"}}}
    return SweepResults(
        schema_version=SCHEMA_VERSION,
        spec=spec,
        baseline=Baseline(
            commit="a" * 40,
            params=params,
            metrics={"metrics.json": {"avg_prec": 0.9, "loss": math.inf}},
            source="commit",
        ),
        points=[
            PointResult(
                index=1,
                name="rf-grid-1",
                status="success",
                swept={"train.n_est": 25},
                overrides=["train.n_est=25"],
                rev="b" * 40,
                params=params,
                metrics={"metrics.json": {"avg_prec": math.nan, "nested": {"low": -math.inf}}},
                duration=1.5,
            ),
            PointResult(
                index=2,
                name="rf-grid-2",
                status="failed",
                swept={"train.n_est": 50},
                overrides=["train.n_est=50"],
                exit_status=1,
                error="stage 'train' failed",
                log_tail="Traceback\nValueError",
                log_path="logs/rf-grid-2.log",
            ),
        ],
        started_at="2024-05-01T12:00:00Z",
        finished_at="2024-05-01T12:00:10Z",
        wall_time=10.0,
        jobs=2,
        dvc_version="3.67.0",
    )


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def reject_constant(name: str) -> None:
    raise AssertionError(f"non-standard JSON constant {name} in the file")


# --- round trip ------------------------------------------------------------------------------


def test_results_round_trip_keeps_everything(tmp_path: Path) -> None:
    results = make_results()
    path = tmp_path / "sweep-results.json"
    write_results(results, path)
    read = read_results(path)
    # NaN != NaN, so compare the encoded forms, which spell non-finite floats as strings.
    assert results_to_dict(read) == results_to_dict(results)


def test_results_round_trip_restores_non_finite_metrics(tmp_path: Path) -> None:
    path = tmp_path / "sweep-results.json"
    write_results(make_results(), path)
    read = read_results(path)
    assert math.isnan(read.points[0].metrics["metrics.json"]["avg_prec"])
    assert read.points[0].metrics["metrics.json"]["nested"]["low"] == -math.inf
    assert read.baseline.metrics["metrics.json"]["loss"] == math.inf


def test_results_file_is_strict_json(tmp_path: Path) -> None:
    path = tmp_path / "sweep-results.json"
    write_results(make_results(), path)
    data = json.loads(path.read_text(encoding="utf-8"), parse_constant=reject_constant)
    assert data["points"][0]["metrics"]["metrics.json"]["avg_prec"] == "NaN"
    assert data["baseline"]["metrics"]["metrics.json"]["loss"] == "Infinity"
    assert data["points"][0]["metrics"]["metrics.json"]["nested"]["low"] == "-Infinity"


def test_results_round_trip_keeps_string_params(tmp_path: Path) -> None:
    path = tmp_path / "sweep-results.json"
    write_results(make_results(), path)
    read = read_results(path)
    assert read.baseline.params["params.yaml"]["train"]["tag"] == "1.10"


def test_read_results_accepts_bare_nan_constants(tmp_path: Path) -> None:
    text = dumps_results(make_results()).replace('"NaN"', "NaN")
    path = tmp_path / "sweep-results.json"
    path.write_text(text, encoding="utf-8")
    assert math.isnan(read_results(path).points[0].metrics["metrics.json"]["avg_prec"])


def test_read_results_defaults_optional_fields(tmp_path: Path) -> None:
    data = results_to_dict(make_results())
    for key in ("rev", "duration", "exit_status", "error", "log_tail", "log_path", "reused"):
        del data["points"][0][key]
    del data["interrupted"]
    read = read_results(write_json(tmp_path / "r.json", data))
    assert read.points[0].rev is None
    assert read.points[0].reused is False
    assert read.interrupted is False


# --- atomic write ----------------------------------------------------------------------------


def test_write_results_replaces_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "sweep-results.json"
    path.write_text("old", encoding="utf-8")
    write_results(make_results(), path)
    assert read_results(path).spec["name"] == "rf-grid"


def test_write_results_leaves_no_temp_file(tmp_path: Path) -> None:
    write_results(make_results(), tmp_path / "sweep-results.json")
    assert [entry.name for entry in tmp_path.iterdir()] == ["sweep-results.json"]


def test_write_results_failure_keeps_old_file(tmp_path: Path) -> None:
    path = tmp_path / "sweep-results.json"
    path.write_text("old", encoding="utf-8")
    results = make_results()
    results.points[0].metrics = {"metrics.json": {"bad": object()}}
    with pytest.raises(TypeError):
        write_results(results, path)
    assert path.read_text(encoding="utf-8") == "old"
    assert [entry.name for entry in tmp_path.iterdir()] == ["sweep-results.json"]


def test_write_results_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "out" / "sweep-results.json"
    write_results(make_results(), path)
    assert path.is_file()


def test_write_results_uses_umask_mode(tmp_path: Path) -> None:
    path = tmp_path / "sweep-results.json"
    write_results(make_results(), path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# --- read errors -----------------------------------------------------------------------------


def test_read_results_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ResultsFileError) as caught:
        read_results(tmp_path / "nope.json")
    assert "results file not found" in caught.value.message
    assert caught.value.hint is not None
    assert "dvc-sweep run" in caught.value.hint
    assert caught.value.exit_code == ExitCode.INVALID_INPUT


def test_read_results_directory(tmp_path: Path) -> None:
    with pytest.raises(ResultsFileError, match="cannot read results file"):
        read_results(tmp_path)


def test_read_results_invalid_json_line_column(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('{\n  "schema_version": 1,\n  "spec": {,\n}', encoding="utf-8")
    with pytest.raises(ResultsFileError) as caught:
        read_results(path)
    assert caught.value.message.startswith(f"{path}:3:12: invalid JSON")
    assert caught.value.hint is not None


def test_read_results_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ResultsFileError, match="invalid UTF-8 at byte 7"):
        read_results(path)


def test_read_results_top_level_not_object(tmp_path: Path) -> None:
    with pytest.raises(ResultsFileError, match=r"expected a JSON object.*found an array"):
        read_results(write_json(tmp_path / "r.json", [1, 2]))


def test_read_results_missing_schema_version(tmp_path: Path) -> None:
    data = results_to_dict(make_results())
    del data["schema_version"]
    with pytest.raises(ResultsFileError, match="missing field 'schema_version'"):
        read_results(write_json(tmp_path / "r.json", data))


def test_read_results_unknown_schema_version(tmp_path: Path) -> None:
    data = results_to_dict(make_results())
    data["schema_version"] = 2
    with pytest.raises(ResultsFileError) as caught:
        read_results(write_json(tmp_path / "r.json", data))
    assert "unknown schema_version 2" in caught.value.message
    assert f"reads schema_version {SCHEMA_VERSION}" in caught.value.message
    assert caught.value.hint is not None


def test_read_results_lists_every_missing_field(tmp_path: Path) -> None:
    data = results_to_dict(make_results())
    del data["started_at"]
    del data["baseline"]["commit"]
    del data["points"][1]["status"]
    with pytest.raises(ResultsFileError) as caught:
        read_results(write_json(tmp_path / "r.json", data))
    message = caught.value.message
    assert "3 problems" in message
    assert "started_at: missing field" in message
    assert "baseline.commit: missing field" in message
    assert "points[1].status: missing field" in message


def test_read_results_wrong_types(tmp_path: Path) -> None:
    data = results_to_dict(make_results())
    data["jobs"] = "2"
    data["points"][0]["index"] = True
    data["points"][0]["metrics"] = {"metrics.json": [1]}
    with pytest.raises(ResultsFileError) as caught:
        read_results(write_json(tmp_path / "r.json", data))
    message = caught.value.message
    assert "jobs: expected an integer, found a string" in message
    assert "points[0].index: expected an integer, found a boolean" in message
    assert "points[0].metrics['metrics.json']: expected an object, found an array" in message


def test_read_results_unknown_status(tmp_path: Path) -> None:
    data = results_to_dict(make_results())
    data["points"][0]["status"] = "done"
    with pytest.raises(ResultsFileError, match=r"points\[0\]\.status: expected one of"):
        read_results(write_json(tmp_path / "r.json", data))


def test_read_results_point_not_object(tmp_path: Path) -> None:
    data = results_to_dict(make_results())
    data["points"].append("rf-grid-3")
    with pytest.raises(ResultsFileError, match=r"points\[2\]: expected an object, found a string"):
        read_results(write_json(tmp_path / "r.json", data))


# --- flatten_metrics -------------------------------------------------------------------------


def test_flatten_metrics_unique_keys_bare() -> None:
    flat = flatten_metrics({"a.json": {"avg_prec": 0.9}, "b.json": {"roc_auc": 0.8}})
    assert flat == {"avg_prec": 0.9, "roc_auc": 0.8}


def test_flatten_metrics_colliding_keys_qualified() -> None:
    flat = flatten_metrics({"a.json": {"acc": 0.9, "x": 1}, "b.json": {"acc": 0.8}})
    assert flat == {"a.json:acc": 0.9, "x": 1, "b.json:acc": 0.8}


def test_flatten_metrics_nested_dotted() -> None:
    flat = flatten_metrics({"m.json": {"val": {"loss": 0.1, "acc": {"top1": 0.7}}, "empty": {}}})
    assert flat == {"val.loss": 0.1, "val.acc.top1": 0.7, "empty": {}}


def test_flatten_metrics_qualified_argument() -> None:
    flat = flatten_metrics({"m.json": {"acc": 0.9}}, qualified=frozenset({"acc"}))
    assert flat == {"m.json:acc": 0.9}
