"""Sharded runs on separate clones, combined with `dvc-sweep merge`, as a CI matrix does."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import git
from tests.test_run import exp_refs, run_cli, write_spec

SPEC = """\
name: matrix
metric: {name: score, goal: maximize}
parameters:
  step.x: [1, 2, 3]
  step.fail: [0, 5]
"""


def clone(source: Path, destination: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(source), str(destination)], check=True)
    git(destination, "config", "user.name", "dvc-sweep tests")
    git(destination, "config", "user.email", "tests@dvc-sweep.invalid")
    return destination


def test_merge_shards_from_two_runners(tiny_repo: Path, tmp_path: Path) -> None:
    write_spec(tiny_repo, SPEC)
    git(tiny_repo, "add", "sweep.yaml")
    git(tiny_repo, "commit", "--quiet", "--message", "Add the sweep")
    artifacts = tmp_path / "artifacts"

    for index in (1, 2):
        runner = clone(tiny_repo, tmp_path / f"runner{index}")
        completed = run_cli(
            runner,
            "run",
            "--shard",
            f"{index}/2",
            "--results",
            str(artifacts / f"results-{index}.json"),
            "--report",
            str(artifacts / f"report-{index}.md"),
            "--bundle",
            str(artifacts / f"exps-{index}.bundle"),
        )
        # Odd points succeed and even points fail, so shard 2 fails entirely.
        assert completed.returncode == index - 1, completed.stderr
        shard = json.loads((artifacts / f"results-{index}.json").read_text())
        assert shard["shard"] == {"index": index, "count": 2}
        assert [point["index"] for point in shard["points"]] == [index, index + 2, index + 4]

    merger = clone(tiny_repo, tmp_path / "merger")
    completed = run_cli(
        merger,
        "merge",
        str(artifacts / "results-1.json"),
        str(artifacts / "results-2.json"),
        "--bundle",
        str(artifacts / "exps-1.bundle"),
        "--bundle",
        str(artifacts / "exps-2.bundle"),
    )
    assert completed.returncode == 1, completed.stderr
    merged = json.loads((merger / "sweep-results.json").read_text())
    assert [point["index"] for point in merged["points"]] == [1, 2, 3, 4, 5, 6]
    statuses = [point["status"] for point in merged["points"]]
    assert statuses == ["success", "failed"] * 3
    assert merged["shard"] is None
    names = sorted(ref.rsplit("/", 1)[1] for ref in exp_refs(merger))
    assert names == ["matrix-1", "matrix-3", "matrix-5"]
    assert "matrix-5" in completed.stdout
    assert "exps-2.bundle not found: no experiments fetched from it" in completed.stderr

    shown = subprocess.run(
        ["dvc", "exp", "show", "--json"], cwd=merger, capture_output=True, text=True, check=True
    )
    assert "matrix-3" in shown.stdout


def test_merge_rejects_missing_shard(tiny_repo: Path, tmp_path: Path) -> None:
    write_spec(tiny_repo, SPEC)
    completed = run_cli(tiny_repo, "run", "--shard", "2/3", "--results", "part.json")
    assert completed.returncode == 1, completed.stderr
    merged = run_cli(tiny_repo, "merge", "part.json")
    assert merged.returncode == 2
    assert "shard 1, 3 of 3 is missing" in merged.stderr


def test_run_rejects_invalid_shard(tiny_repo: Path) -> None:
    completed = run_cli(tiny_repo, "run", "--shard", "3/2")
    assert completed.returncode == 2
    assert "invalid shard '3/2'" in completed.stderr


def test_merge_rejects_same_shard_twice(tiny_repo: Path) -> None:
    write_spec(tiny_repo, SPEC)
    completed = run_cli(tiny_repo, "run", "--shard", "1/2", "--results", "one.json")
    assert completed.returncode == 0, completed.stderr
    merged = run_cli(tiny_repo, "merge", "one.json", "one.json")
    assert merged.returncode == 2
    assert "one.json is given twice" in merged.stderr
    (tiny_repo / "copy.json").write_text((tiny_repo / "one.json").read_text())
    copied = run_cli(tiny_repo, "merge", "one.json", "copy.json")
    assert copied.returncode == 2
    assert "copy.json and one.json are both shard 1" in copied.stderr


def test_run_bundle_removes_stale_file(tiny_repo: Path) -> None:
    write_spec(tiny_repo, SPEC)
    stale = tiny_repo / "exps.bundle"
    stale.write_text("left by an earlier run\n")
    completed = run_cli(tiny_repo, "run", "--shard", "2/2", "--bundle", str(stale))
    assert completed.returncode == 1, completed.stderr
    assert not stale.exists()
    assert "no finished experiments, so no bundle was written" in completed.stderr
