"""`dvc-sweep run` end to end on real git + DVC repositories."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import git, make_tiny_repo

CLI = [sys.executable, "-m", "dvc_sweep"]


def run_cli(repo: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def read_results(repo: Path) -> dict:
    return json.loads((repo / "sweep-results.json").read_text())


def write_spec(repo: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = repo / name
    path.write_text(textwrap.dedent(text))
    return path


def exp_refs(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)", "refs/exps/").splitlines()


def pid_alive(pid: int) -> bool:
    """Return whether `pid` runs; a zombie, killed but not yet reaped by init, does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


@pytest.mark.slow
def test_run_demo_grid_then_reuse(demo_repo: Path) -> None:
    first = run_cli(demo_repo, "run", "--jobs", "2")
    assert first.returncode == 0, first.stderr
    results = read_results(demo_repo)
    statuses = [point["status"] for point in results["points"]]
    assert statuses == ["success"] * 9
    assert results["baseline"]["source"] == "commit"
    assert all(point["metrics"]["metrics.json"]["avg_prec"] > 0.5 for point in results["points"])
    assert first.stdout.startswith("## Sweep rf-grid on ")
    assert first.stdout == (demo_repo / "sweep-report.md").read_text()
    ranked_rows = [
        line for line in first.stdout.splitlines() if re.match(r"\|\s+\d+ \| rf-grid-", line)
    ]
    assert len(ranked_rows) == 9
    assert len([ref for ref in exp_refs(demo_repo) if "/rf-grid-" in ref]) == 9
    assert git(demo_repo, "status", "--porcelain", "--untracked-files=no") == ""

    best = results["points"][1]
    applied = subprocess.run(
        ["dvc", "exp", "apply", best["name"]],
        cwd=demo_repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    assert json.loads((demo_repo / "metrics.json").read_text()) == best["metrics"]["metrics.json"]
    status = subprocess.run(
        ["dvc", "status", "--json"], cwd=demo_repo, capture_output=True, text=True, check=True
    )
    assert json.loads(status.stdout) == {}
    assert (demo_repo / "model.pkl").is_file()
    git(demo_repo, "checkout", "--", ".")

    second = run_cli(demo_repo, "run", "--jobs", "2")
    assert second.returncode == 0, second.stderr
    again = read_results(demo_repo)
    assert [point["reused"] for point in again["points"]] == [True] * 9
    assert [point["rev"] for point in again["points"]] == [
        point["rev"] for point in results["points"]
    ]
    assert "Running stage" not in second.stderr


def test_run_failed_point_keeps_others(tiny_repo: Path) -> None:
    write_spec(
        tiny_repo,
        """\
        name: fails
        metric: {name: score, goal: maximize}
        parameters:
          step.x: [1, 2]
          step.fail: [0, 3]
        """,
    )
    completed = run_cli(tiny_repo, "run", "--jobs", "2")
    assert completed.returncode == 1, completed.stderr
    points = {point["name"]: point for point in read_results(tiny_repo)["points"]}
    failed = [point for point in points.values() if point["status"] == "failed"]
    assert len(failed) == 2
    assert {point["swept"]["step.fail"] for point in failed} == {3}
    assert all(point["exit_status"] == 3 for point in failed)
    assert all("step failed on purpose" in point["log_tail"] for point in failed)
    assert all(Path(point["log_path"]).is_file() for point in failed)
    succeeded = [point for point in points.values() if point["status"] == "success"]
    assert sorted(point["metrics"]["metrics.json"]["score"] for point in succeeded) == [12, 22]
    assert "step failed on purpose" in completed.stdout
    assert "<details>" in completed.stdout


def test_run_reruns_only_failed_points(tiny_repo: Path) -> None:
    write_spec(
        tiny_repo,
        """\
        name: again
        parameters:
          step.x: [1, 2]
          step.fail: [0, 4]
        """,
    )
    assert run_cli(tiny_repo, "run", "--jobs", "2").returncode == 1
    second = run_cli(tiny_repo, "run", "--jobs", "2")
    assert second.returncode == 1, second.stderr
    points = read_results(tiny_repo)["points"]
    reused = {point["name"]: point["reused"] for point in points}
    assert reused == {"again-1": True, "again-2": False, "again-3": True, "again-4": False}
    assert [point["status"] for point in points] == ["success", "failed", "success", "failed"]


def test_run_timeout_kills_process_tree(tiny_repo: Path) -> None:
    write_spec(
        tiny_repo,
        """\
        name: slow
        timeout: 3s
        parameters:
          step.sleep: [0, 60]
        """,
    )
    started = time.monotonic()
    completed = run_cli(tiny_repo, "run", "--jobs", "2")
    elapsed = time.monotonic() - started
    assert completed.returncode == 1, completed.stderr
    points = {point["name"]: point for point in read_results(tiny_repo)["points"]}
    assert points["slow-1"]["status"] == "success"
    assert points["slow-2"]["status"] == "timeout"
    assert elapsed < 50
    log = Path(points["slow-2"]["log_path"]).read_text()
    stage_pid = int(re.search(r"step pid: (\d+)", log).group(1))
    assert not pid_alive(stage_pid)


def test_run_timeout_does_not_stop_later_points(tiny_repo: Path) -> None:
    write_spec(
        tiny_repo,
        """\
        name: after
        timeout: 2
        parameters:
          step.sleep: [60, 0]
          step.x: [1, 2, 3]
        """,
    )
    completed = run_cli(tiny_repo, "run", "--jobs", "1")
    assert completed.returncode == 1, completed.stderr
    statuses = [point["status"] for point in read_results(tiny_repo)["points"]]
    assert statuses == ["timeout"] * 3 + ["success"] * 3


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_run_interrupt_keeps_finished(tiny_repo: Path, signal_number: int) -> None:
    write_spec(
        tiny_repo,
        """\
        name: stop
        parameters:
          step.sleep: [0, 60]
          step.x: [1, 2]
        """,
    )
    # A shell script starts background jobs with SIGINT ignored; the sweep must still stop.
    command = ["bash", "-c", 'trap "" INT; exec "$@"', "bash", *CLI, "run", "--jobs", "2"]
    process = subprocess.Popen(
        command,
        cwd=tiny_repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.count("succeeded") and len([x for x in seen if "succeeded" in x]) == 2:
            break
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(seen) + stderr
    results = read_results(tiny_repo)
    assert results["interrupted"] is True
    statuses = [point["status"] for point in results["points"]]
    assert statuses == ["success", "success", "not_run", "not_run"], [
        (point["status"], point["error"]) for point in results["points"]
    ]
    names = [ref.rsplit("/", 1)[1] for ref in exp_refs(tiny_repo) if "/stop-" in ref]
    assert sorted(names) == ["stop-1", "stop-2"]
    assert "interrupted" in (tiny_repo / "sweep-report.md").read_text().lower()


def test_run_baseline_runs_when_metrics_not_committed(tmp_path: Path) -> None:
    repo = make_tiny_repo(tmp_path / "uncommitted", commit_metrics=False)
    write_spec(repo, "name: base\nparameters:\n  step.x: [5]\n")
    completed = run_cli(repo, "run", "--jobs", "2")
    assert completed.returncode == 0, completed.stderr
    baseline = read_results(repo)["baseline"]
    assert baseline["source"] == "run"
    assert baseline["name"] == "base-baseline"
    assert baseline["metrics"]["metrics.json"]["score"] == 12


def test_run_warns_about_uncommitted_changes(tiny_repo: Path) -> None:
    write_spec(tiny_repo, "name: dirty\nparameters:\n  step.x: [5]\n")
    params = tiny_repo / "params.yaml"
    params.write_text(params.read_text().replace("y: 2", "y: 7"))
    completed = run_cli(tiny_repo, "run")
    assert completed.returncode == 0, completed.stderr
    assert "uncommitted changes in params.yaml are not part of the experiments" in completed.stderr
    point = read_results(tiny_repo)["points"][0]
    assert point["metrics"]["metrics.json"]["score"] == 52


def test_run_renames_point_when_name_taken(tiny_repo: Path) -> None:
    write_spec(tiny_repo, "name: taken\nparameters:\n  step.x: [5]\n")
    assert run_cli(tiny_repo, "run").returncode == 0
    write_spec(tiny_repo, "name: taken\nparameters:\n  step.x: [6]\n")
    completed = run_cli(tiny_repo, "run")
    assert completed.returncode == 0, completed.stderr
    point = read_results(tiny_repo)["points"][0]
    assert re.fullmatch(r"taken-1-[0-9a-f]{6}", point["name"])
    assert "experiment taken-1 already exists with other params" in completed.stderr


def test_run_invalid_spec_runs_nothing(tiny_repo: Path) -> None:
    write_spec(tiny_repo, "name: bad\nparameters:\n  step.nope: [1]\n")
    completed = run_cli(tiny_repo, "run")
    assert completed.returncode == 2
    assert "sweep.yaml:3:3" in completed.stderr
    assert exp_refs(tiny_repo) == []
    assert not (tiny_repo / "sweep-results.json").exists()


def test_run_outside_git_repository(tmp_path: Path) -> None:
    write_spec(tmp_path, "parameters:\n  step.x: [1]\n")
    completed = run_cli(tmp_path, "run")
    assert completed.returncode == 3
    assert "is not inside a git repository" in completed.stderr


def test_run_repository_without_commit(tmp_path: Path) -> None:
    git(tmp_path, "init", "--quiet")
    (tmp_path / ".dvc").mkdir()
    completed = run_cli(tmp_path, "run")
    assert completed.returncode == 3
    assert "has no commit yet" in completed.stderr


def test_run_git_repository_without_dvc(tmp_path: Path) -> None:
    git(tmp_path, "init", "--quiet")
    completed = run_cli(tmp_path, "run")
    assert completed.returncode == 3
    assert "is not inside a DVC repository" in completed.stderr


def test_run_rejects_zero_jobs(tiny_repo: Path) -> None:
    completed = run_cli(tiny_repo, "run", "--jobs", "0")
    assert completed.returncode == 2
    assert "--jobs must be at least 1" in completed.stderr


def test_run_dvc_project_in_subdirectory(tmp_path: Path) -> None:
    root = tmp_path / "monorepo"
    project = root / "ml" / "project"
    project.mkdir(parents=True)
    (root / "README.md").write_text("other code lives here\n")
    git(root, "init", "--quiet", "--initial-branch=main")
    make_tiny_repo(project, subdir=True)
    write_spec(project, "name: sub\nparameters:\n  step.x: [3, 4]\n")
    completed = run_cli(project, "run", "--jobs", "2")
    assert completed.returncode == 0, completed.stderr
    scores = [
        point["metrics"]["metrics.json"]["score"] for point in read_results(project)["points"]
    ]
    assert scores == [32, 42]
    assert len([ref for ref in exp_refs(root) if ref.endswith(("/sub-1", "/sub-2"))]) == 2


def test_run_unknown_metric_runs_nothing(tiny_repo: Path) -> None:
    write_spec(
        tiny_repo,
        """\
        name: typo
        metric: {name: scor, goal: maximize}
        parameters:
          step.x: [5]
        """,
    )
    completed = run_cli(tiny_repo, "run")
    assert completed.returncode == 2, completed.stderr
    assert "sweep.yaml:2:16: metric 'scor' not found at commit" in completed.stderr
    assert "did you mean 'score'?" in completed.stderr
    assert exp_refs(tiny_repo) == []
    assert not (tiny_repo / "sweep-results.json").exists()
