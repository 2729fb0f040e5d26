"""The workflows and the composite action pass zizmor, GitHub's schemas and our own rules."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from dvc_sweep._events import ActionInputs

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTION = ROOT / "action" / "action.yml"
DOCS = ROOT / "docs" / "github-action.md"
MATRIX_HEADING = "## A sweep across several runners"


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed; `pip install -e '.[lint]'` installs it")
    return path


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_workflows_exist() -> None:
    assert [path.name for path in WORKFLOWS] == ["ci.yml", "sweep-command.yml", "sweep.yml"]


def test_zizmor_finds_nothing() -> None:
    """Offline: the online audits would ask GitHub's API about the pinned actions."""
    completed = run(
        tool("zizmor"), "--offline", "--persona", "auditor", *map(str, WORKFLOWS), str(ACTION)
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_workflows_match_github_schema() -> None:
    completed = run(
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        *map(str, WORKFLOWS),
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_action_matches_github_schema() -> None:
    completed = run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ACTION)
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.fixture
def matrix_example(tmp_path: Path) -> Path:
    """The matrix workflow of the docs, written where a repository keeps its workflows."""
    section = DOCS.read_text(encoding="utf-8").split(MATRIX_HEADING, 1)[1]
    match = re.search(r"^```yaml\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert match is not None, f"no yaml block under {MATRIX_HEADING!r} in {DOCS}"
    path = tmp_path / ".github" / "workflows" / "sweep-matrix.yml"
    path.parent.mkdir(parents=True)
    path.write_text(match.group(1), encoding="utf-8")
    return path


def test_matrix_example_passes_zizmor(matrix_example: Path) -> None:
    completed = run(tool("zizmor"), "--offline", "--persona", "auditor", str(matrix_example))
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_matrix_example_matches_github_schema(matrix_example: Path) -> None:
    completed = run(
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        str(matrix_example),
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_matrix_example_shards_and_merges(matrix_example: Path) -> None:
    jobs = load(matrix_example)["jobs"]
    assert jobs["sweep"]["strategy"]["matrix"]["shard"] == [1, 2, 3]
    [shard_step] = [step for step in jobs["sweep"]["steps"] if step.get("uses") == "./action"]
    assert shard_step["with"]["shard"] == "${{ matrix.shard }}/3"
    assert jobs["report"]["needs"] == "sweep"
    [merge_step] = [step for step in jobs["report"]["steps"] if step.get("uses") == "./action"]
    assert merge_step["with"]["merge"] == "shards/*/sweep-results.json"


def test_matrix_example_pins_actions_by_sha(matrix_example: Path) -> None:
    uses = [
        step["uses"]
        for job in load(matrix_example)["jobs"].values()
        for step in job["steps"]
        if not step.get("uses", "./").startswith("./")
    ]
    assert uses
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", use) for use in uses), uses


def run_steps() -> list[tuple[Path, dict[str, Any]]]:
    steps = [(ACTION, step) for step in load(ACTION)["runs"]["steps"]]
    for workflow in WORKFLOWS:
        for job in load(workflow)["jobs"].values():
            steps += [(workflow, step) for step in job.get("steps", [])]
    return [(path, step) for path, step in steps if "run" in step]


def test_run_scripts_have_no_expressions() -> None:
    """Inputs reach scripts through env: an expression inside run: is a shell injection."""
    offenders = [
        f"{path.name}: {step.get('name', step['run'])}"
        for path, step in run_steps()
        if "${{" in step["run"]
    ]
    assert offenders == []


def test_action_inputs_are_documented_kebab_case() -> None:
    inputs = load(ACTION)["inputs"]
    for name, spec in inputs.items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", name), name
        assert spec.get("description"), name
        assert "default" in spec, name


def test_action_passes_every_input_to_the_script() -> None:
    """Each input reaches `dvc-sweep github` as INPUT_<NAME>, and each field has an input."""
    inputs = load(ACTION)["inputs"]
    [step] = [step for step in load(ACTION)["runs"]["steps"] if step.get("id") == "sweep"]
    expected = {f"INPUT_{name.upper().replace('-', '_')}" for name in inputs}
    passed = {name for name in step["env"] if name.startswith("INPUT_")}
    assert passed == expected
    fields = {f"INPUT_{field.upper()}" for field in ActionInputs.__dataclass_fields__}
    assert fields == expected


def test_action_outputs_come_from_the_step() -> None:
    outputs = load(ACTION)["outputs"]
    assert set(outputs) == {
        "best-experiment", "best-params", "best-metric",
        "results-file", "report-file", "bundle-file", "comment-url",
    }  # fmt: skip
    for name, spec in outputs.items():
        assert spec["value"] == f"${{{{ steps.sweep.outputs.{name} }}}}"


def test_sweep_workflow_tests_pull_request_head() -> None:
    workflow = load(ROOT / ".github" / "workflows" / "sweep.yml")
    [checkout] = [s for s in workflow["jobs"]["sweep"]["steps"] if "checkout" in s.get("uses", "")]
    assert "github.event.pull_request.head.sha" in checkout["with"]["ref"]
    assert checkout["with"]["fetch-depth"] == 0
    assert workflow["jobs"]["sweep"]["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
    }
    assert workflow["concurrency"]["cancel-in-progress"] is True
