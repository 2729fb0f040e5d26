"""The `plan` and `report` verbs and the top-level command line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dvc_sweep import cli
from dvc_sweep.dvc import parse_exp_show
from dvc_sweep.errors import EnvironmentProblemError
from tests.conftest import REPO_ROOT


def test_plan_lists_demo_grid(capsys: pytest.CaptureFixture[str], chdir) -> None:
    chdir(REPO_ROOT)
    assert cli.main(["plan"]) == 0
    output = capsys.readouterr().out
    assert output.startswith("grid sweep 'rf-grid': 9 points")
    assert "rf-grid-9" in output


def test_plan_json_has_overrides(capsys: pytest.CaptureFixture[str], chdir) -> None:
    chdir(REPO_ROOT)
    assert cli.main(["plan", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["points"]) == 9
    assert data["points"][0]["overrides"] == ["train.n_est=25", "train.min_split=2"]
    assert data["spec"]["name"] == "rf-grid"


def test_plan_invalid_spec_exit_code(tmp_path: Path, capsys, chdir) -> None:
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.1\n")
    (tmp_path / "sweep.yaml").write_text(
        "parameters:\n  train.lr: {distribution: log_uniform, min: 0, max: 1}\n"
    )
    chdir(tmp_path)
    assert cli.main(["plan"]) == 2
    assert "sweep.yaml:2:" in capsys.readouterr().err


def test_plan_missing_spec(tmp_path: Path, capsys, chdir) -> None:
    chdir(tmp_path)
    assert cli.main(["plan", "nope.yaml"]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_cli_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sweep"]) == 2
    assert "unknown command 'sweep'" in capsys.readouterr().err


def test_cli_no_arguments_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage: dvc-sweep" in capsys.readouterr().err


def test_cli_help_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "Exit codes" in capsys.readouterr().out


def test_cli_unknown_option_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_report_missing_results_file(tmp_path: Path, capsys, chdir) -> None:
    chdir(tmp_path)
    assert cli.main(["report"]) == 2
    assert "sweep-results.json" in capsys.readouterr().err


def test_report_invalid_json(tmp_path: Path, capsys, chdir) -> None:
    (tmp_path / "sweep-results.json").write_text("{not json")
    chdir(tmp_path)
    assert cli.main(["report"]) == 2
    assert "sweep-results.json:1:2" in capsys.readouterr().err


def exp_show_payload() -> list[dict]:
    return [
        {
            "rev": "workspace",
            "name": None,
            "data": {"params": {}, "metrics": {}},
            "error": None,
            "experiments": None,
        },
        {
            "rev": "a" * 40,
            "name": "main",
            "data": {
                "params": {"params.yaml": {"data": {"train": {"n_est": 100}}}},
                "metrics": {"metrics.json": {"data": {"avg_prec": 0.9}}},
            },
            "error": None,
            "experiments": [
                {
                    "name": "rf-1",
                    "executor": None,
                    "revs": [
                        {
                            "rev": "b" * 40,
                            "name": "rf-1",
                            "data": {
                                "params": {"params.yaml": {"data": {"train": {"n_est": 5}}}},
                                "metrics": {"metrics.json": {"data": {"avg_prec": math.nan}}},
                            },
                            "error": None,
                        }
                    ],
                },
                {
                    "name": "rf-2",
                    "executor": None,
                    "revs": [
                        {
                            "rev": "c" * 40,
                            "name": "rf-2",
                            "data": {
                                "params": {"params.yaml": {"data": {"train": {"n_est": 9}}}},
                                "metrics": {
                                    "metrics.json": {
                                        "error": {"type": "YAMLError", "msg": "bad file"}
                                    }
                                },
                            },
                            "error": None,
                        }
                    ],
                },
            ],
        },
    ]


def test_exp_show_parses_experiments() -> None:
    shown = parse_exp_show(exp_show_payload(), "a" * 40)
    assert shown.baseline.metrics == {"metrics.json": {"avg_prec": 0.9}}
    assert sorted(shown.experiments) == ["rf-1", "rf-2"]
    assert shown.experiments["rf-1"].rev == "b" * 40
    assert math.isnan(shown.experiments["rf-1"].metrics["metrics.json"]["avg_prec"])


def test_exp_show_file_error_recorded() -> None:
    record = parse_exp_show(exp_show_payload(), "a" * 40).experiments["rf-2"]
    assert record.metrics == {}
    assert record.errors == ("metrics.json: bad file",)
    assert record.params == {"params.yaml": {"train": {"n_est": 9}}}


def test_exp_show_missing_baseline() -> None:
    with pytest.raises(EnvironmentProblemError, match="no record for the baseline commit ddddddd"):
        parse_exp_show(exp_show_payload(), "d" * 40)


def test_report_rejects_zero_max_rows(tmp_path: Path, capsys, chdir) -> None:
    chdir(tmp_path)
    assert cli.main(["report", "--max-rows", "0"]) == 2
    assert "--max-rows must be at least 1 (got 0)" in capsys.readouterr().err


def test_run_rejects_directory_as_results(tmp_path: Path, capsys, chdir) -> None:
    chdir(tmp_path)
    assert cli.main(["run", "--results", str(tmp_path)]) == 2
    assert "is a directory, but a file path is expected" in capsys.readouterr().err


def test_plan_errors_sorted_with_prefix(tmp_path: Path, capsys, chdir) -> None:
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.1\n")
    (tmp_path / "sweep.yaml").write_text("seed: abc\njobs: two\nparameters:\n  train.lr: [1]\n")
    chdir(tmp_path)
    assert cli.main(["plan"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "sweep.yaml:" in line]
    assert lines[0].startswith("error: sweep.yaml:1:")
    assert lines[1].startswith("error: sweep.yaml:2:")


def test_plan_checks_metric_name(tmp_path: Path, capsys, chdir) -> None:
    spec = tmp_path / "typo.yaml"
    spec.write_text("metric: {name: avg_pre, goal: maximize}\nparameters:\n  train.n_est: [5]\n")
    chdir(REPO_ROOT)
    assert cli.main(["plan", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "metric 'avg_pre' not found at commit" in err
    assert "did you mean 'avg_prec'?" in err
