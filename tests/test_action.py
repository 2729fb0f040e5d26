"""The GitHub Action's entry point, run as a runner runs it, against the fake GitHub API.

Every sweep here is real: a copy of the demo DVC project in a temporary git repository,
two points of `train.n_est`, two jobs. The repository is shared by the tests of this
module, so after the first sweep DVC's finished experiments are reused and each further
run takes about a second. The matrix tests use the faster tiny pipeline of conftest.py
instead: two shards run once, each in its own clone, and the merge tests share them.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dvc_sweep import action as action_module
from dvc_sweep._comment import ProgressUpdater, final_footer
from dvc_sweep._events import ActionInputs, RunnerContext, parse_sweep_command
from dvc_sweep._workflow import StepSummary, WorkflowCommands, workflow_logging, write_outputs
from dvc_sweep.action import run_action
from dvc_sweep.errors import EnvironmentProblemError, ExitCode, UsageError
from dvc_sweep.github import COMMENT_MAX_CHARS, comment_marker
from dvc_sweep.results import SweepResults, read_results, write_results
from tests.conftest import copy_demo, git, init_repo, init_repo_at, make_tiny_repo
from tests.fake_github import SECONDARY_LIMIT_MESSAGE, FakeGitHub, Token, iter_bodies

REPO = "octo/demo"
PR = 7
RUN_ID = "4242"
WORKFLOW_FILE = ".github/workflows/sweep.yml"
BOT = "github-actions[bot]"
# An address on this machine where nothing listens: URLs that tests only print, never fetch.
UNUSED_ORIGIN = "http://127.0.0.1:1"
MARKER = comment_marker(WORKFLOW_FILE, "pr-grid")

SPEC = """\
name: pr-grid
method: grid
metric: {name: avg_prec, goal: maximize}
parameters:
  train.n_est: [10, 20]
jobs: 2
"""
# Line 5, column 3 is the unknown key.
INVALID_SPEC = """\
name: pr-grid
method: grid
metric: {name: avg_prec, goal: maximize}
parameters:
  train.n_estimators: [10, 20]
"""
# n_estimators=0 makes scikit-learn raise, so point 2 fails and point 1 succeeds.
FAILING_SPEC = """\
name: pr-fail
method: grid
metric: {name: avg_prec, goal: maximize}
parameters:
  train.n_est: [10, 0]
jobs: 2
"""


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The committed demo project with the specs above, shared by the module's tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DVC_NO_ANALYTICS", "1")
        repo = copy_demo(tmp_path_factory.mktemp("action") / "project")
        (repo / "sweep.yaml").write_text(SPEC)
        (repo / "invalid-sweep.yaml").write_text(INVALID_SPEC)
        (repo / "failing-sweep.yaml").write_text(FAILING_SPEC)
        init_repo(repo)
        yield repo


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server


@pytest.fixture(scope="module")
def first_results(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> SweepResults:
    """The results of one real sweep of SPEC, for the tests that reuse them."""
    with FakeGitHub() as server, pytest.MonkeyPatch.context() as patch:
        patch.setenv("DVC_NO_ANALYTICS", "1")
        runner = Runner(demo, server, tmp_path_factory.mktemp("first-run"))
        result = runner.run("push", push_event(demo))
    assert result.code == ExitCode.OK, result.log
    return read_results(demo / "sweep-results.json")


@dataclasses.dataclass
class ActionResult:
    code: int
    log: str
    summary: str
    outputs: dict[str, str]
    sleeps: list[float]


class Runner:
    """Runs the entry point with the environment a GitHub Actions runner sets."""

    def __init__(self, repo: Path, fake: FakeGitHub, home: Path) -> None:
        self.repo = repo
        self.fake = fake
        self.home = home
        self.count = 0

    def environ(self, event_name: str, payload: dict[str, Any], **inputs: str) -> dict[str, str]:
        self.count += 1
        event_path = self.home / f"event-{self.count}.json"
        event_path.write_text(json.dumps(payload))
        summary = self.home / f"summary-{self.count}.md"
        output = self.home / f"output-{self.count}.txt"
        summary.touch()
        output.touch()
        env = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_API_URL": self.fake.url,
            "GITHUB_SERVER_URL": self.fake.url,
            "GITHUB_RUN_ID": RUN_ID,
            "GITHUB_WORKFLOW": "sweep",
            "GITHUB_WORKFLOW_REF": f"{REPO}/{WORKFLOW_FILE}@refs/pull/{PR}/merge",
            # On pull_request this is the temporary merge commit, never the tested one.
            "GITHUB_SHA": "e" * 40,
            "GITHUB_WORKSPACE": str(self.repo),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_OUTPUT": str(output),
            "INPUT_SPEC_FILE": "sweep.yaml",
            "INPUT_SPEC": "",
            "INPUT_WORKING_DIRECTORY": ".",
            "INPUT_JOBS": "",
            "INPUT_MAX_EXPERIMENTS": "100",
            "INPUT_TOKEN": "test-token",
            "INPUT_COMMENT": "true",
            "INPUT_COMMENT_AUTHOR": "",
            "INPUT_PR_NUMBER": "",
            "INPUT_FAIL_ON_ERROR": "true",
        }
        for name, value in inputs.items():
            env[f"INPUT_{name.upper()}"] = value
        return env

    def run(self, event_name: str, payload: dict[str, Any], **inputs: str) -> ActionResult:
        env = self.environ(event_name, payload, **inputs)
        stream = io.StringIO()
        sleeps: list[float] = []
        with workflow_logging(stream, verbose=True):
            code = run_action(env, stream=stream, sleep=sleeps.append, progress_interval=3600.0)
        return ActionResult(
            code=code,
            log=stream.getvalue(),
            summary=Path(env["GITHUB_STEP_SUMMARY"]).read_text(),
            outputs=parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text()),
            sleeps=sleeps,
        )


@pytest.fixture
def runner(demo: Path, fake: FakeGitHub, tmp_path: Path) -> Runner:
    return Runner(demo, fake, tmp_path)


def parse_outputs(text: str) -> dict[str, str]:
    """Parse `$GITHUB_OUTPUT` the way the runner does: NAME<<DELIMITER lines."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, _, delimiter = line.partition("<<")
        value: list[str] = []
        for body in lines:
            if body == delimiter:
                break
            value.append(body)
        outputs[name] = "\n".join(value)
    return outputs


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD")


def repository() -> dict[str, Any]:
    return {"full_name": REPO, "name": "demo", "owner": {"login": "octo"}}


def pull_request_event(repo: Path, *, head_sha: str | None = None) -> dict[str, Any]:
    sha = head_sha or head(repo)
    return {
        "action": "synchronize",
        "number": PR,
        "pull_request": {
            "number": PR,
            "state": "open",
            "title": "Tune the forest",
            "user": {"login": "alice"},
            "head": {"sha": sha, "ref": "tune-rf", "repo": repository()},
            "base": {"sha": "b" * 40, "ref": "main", "repo": repository()},
        },
        "repository": repository(),
        "sender": {"login": "alice"},
    }


def issue_comment_event(comment: dict[str, Any], association: str) -> dict[str, Any]:
    return {
        "action": "created",
        "issue": {
            "number": PR,
            "title": "Tune the forest",
            "user": {"login": "alice"},
            "pull_request": {"url": f"{UNUSED_ORIGIN}/repos/{REPO}/pulls/{PR}"},
        },
        "comment": {**comment, "author_association": association},
        "repository": repository(),
        "sender": comment["user"],
    }


def push_event(repo: Path) -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": head(repo),
        "repository": repository(),
        "pusher": {"name": "alice"},
        "commits": [],
    }


def dispatch_event(**inputs: str) -> dict[str, Any]:
    return {"inputs": inputs, "ref": "refs/heads/main", "repository": repository()}


# -- pull_request: create, then update ---------------------------------------------------------


@pytest.mark.slow
def test_action_creates_then_updates_one_comment(
    runner: Runner, fake: FakeGitHub, demo: Path
) -> None:
    first = runner.run("pull_request", pull_request_event(demo))
    second = runner.run("pull_request", pull_request_event(demo))

    assert first.code == ExitCode.OK, first.log
    assert second.code == ExitCode.OK, second.log
    [comment] = fake.comments_on(REPO, PR)
    assert comment["body"].startswith(MARKER)
    assert len(fake.requests_to("POST", r"/issues/7/comments$")) == 1
    assert first.outputs["comment-url"] == comment["html_url"]
    assert second.outputs["comment-url"] == comment["html_url"]


@pytest.mark.slow
def test_action_comment_says_running_first(runner: Runner, fake: FakeGitHub, demo: Path) -> None:
    runner.run("pull_request", pull_request_event(demo))
    running = next(iter_bodies(fake, "POST", r"/issues/7/comments$"))
    assert "is running" in running
    assert "0 of 2 points done" in running
    assert f"{fake.url}/{REPO}/actions/runs/{RUN_ID}" in running


@pytest.mark.slow
def test_action_final_comment_has_report_commit_and_run(
    runner: Runner, fake: FakeGitHub, demo: Path
) -> None:
    runner.run("pull_request", pull_request_event(demo))
    [comment] = fake.comments_on(REPO, PR)
    body = comment["body"]
    assert "## Sweep pr-grid on" in body
    assert re.search(r"^\|\s+1 \| pr-grid-\d", body, re.MULTILINE)
    assert "**baseline**" in body
    assert f"Commit tested: [`{head(demo)[:7]}`]({fake.url}/{REPO}/commit/{head(demo)})" in body
    assert f"{fake.url}/{REPO}/actions/runs/{RUN_ID}" in body
    assert "e" * 40 not in body


@pytest.mark.slow
def test_action_writes_summary_and_outputs(runner: Runner, demo: Path) -> None:
    result = runner.run("pull_request", pull_request_event(demo))
    assert "## Sweep pr-grid on" in result.summary
    assert result.outputs["best-experiment"] in ("pr-grid-1", "pr-grid-2")
    assert json.loads(result.outputs["best-params"]) in ({"train.n_est": 10}, {"train.n_est": 20})
    assert 0.0 < float(result.outputs["best-metric"]) <= 1.0
    assert result.outputs["results-file"] == str(demo / "sweep-results.json")
    assert result.outputs["report-file"] == str(demo / "sweep-report.md")
    assert (demo / "sweep-report.md").read_text() == result.summary


@pytest.mark.slow
def test_action_masks_token_first(runner: Runner, demo: Path) -> None:
    result = runner.run("pull_request", pull_request_event(demo))
    assert result.log.startswith("::add-mask::test-token\n")
    assert result.log.count("test-token") == 1


@pytest.mark.slow
def test_action_warns_when_head_is_not_checked_out(
    runner: Runner, fake: FakeGitHub, demo: Path
) -> None:
    other = "a" * 40
    result = runner.run("pull_request", pull_request_event(demo, head_sha=other))
    assert result.code == ExitCode.OK
    assert "::warning::the workspace is at commit" in result.log
    [comment] = fake.comments_on(REPO, PR)
    assert "the pull request head is [`aaaaaaa`]" in comment["body"]


# -- finding the comment -----------------------------------------------------------------------


@pytest.mark.slow
def test_action_finds_own_comment_on_page_two(runner: Runner, fake: FakeGitHub, demo: Path) -> None:
    for index in range(130):
        if index == 120:
            ours = fake.add_comment(REPO, PR, f"{MARKER}\nold report", author=BOT)
        else:
            fake.add_comment(REPO, PR, f"review comment {index}", author="alice")

    result = runner.run("pull_request", pull_request_event(demo))

    assert result.code == ExitCode.OK, result.log
    assert fake.requests_to("POST", r"/issues/7/comments$") == []
    pages = fake.requests_to("GET", r"/issues/7/comments$")
    assert [r.query.get("page", ["1"]) for r in pages] == [["1"], ["2"]]
    assert all(r.query["per_page"] == ["100"] for r in pages)
    comments = fake.comments_on(REPO, PR)
    assert len(comments) == 130
    assert comments[120]["id"] == ours["id"]
    assert "## Sweep pr-grid on" in comments[120]["body"]


@pytest.mark.slow
def test_action_leaves_other_workflow_comment(runner: Runner, fake: FakeGitHub, demo: Path) -> None:
    other_marker = comment_marker(".github/workflows/nightly.yml", "pr-grid")
    other = fake.add_comment(REPO, PR, f"{other_marker}\nnightly report", author=BOT)
    other_sweep = fake.add_comment(
        REPO, PR, f"{comment_marker(WORKFLOW_FILE, 'lr-search')}\nlr report", author=BOT
    )

    runner.run("pull_request", pull_request_event(demo))

    comments = fake.comments_on(REPO, PR)
    assert len(comments) == 3
    assert comments[0] == other
    assert comments[1] == other_sweep
    assert comments[2]["body"].startswith(MARKER)


@pytest.mark.slow
def test_action_skips_marker_quoted_by_user(runner: Runner, fake: FakeGitHub, demo: Path) -> None:
    quoted = fake.add_comment(REPO, PR, f"> {MARKER}\n> old\nwhy?", author="mallory")
    runner.run("pull_request", pull_request_event(demo))
    comments = fake.comments_on(REPO, PR)
    assert comments[0] == quoted
    assert len(comments) == 2


@pytest.mark.slow
def test_action_comment_author_input_overrides(
    runner: Runner, fake: FakeGitHub, demo: Path
) -> None:
    fake.tokens["test-token"] = Token(login="sweep-app[bot]")
    ours = fake.add_comment(REPO, PR, f"{MARKER}\nold", author="sweep-app[bot]")
    runner.run("pull_request", pull_request_event(demo), comment_author="sweep-app[bot]")
    [comment] = fake.comments_on(REPO, PR)
    assert comment["id"] == ours["id"]
    assert fake.requests_to("GET", r"^/user$") == []


@pytest.mark.slow
def test_action_uses_login_of_user_token(runner: Runner, fake: FakeGitHub, demo: Path) -> None:
    fake.tokens["test-token"] = Token(login="octocat", user_endpoint=True)
    ours = fake.add_comment(REPO, PR, f"{MARKER}\nold", author="octocat")
    runner.run("pull_request", pull_request_event(demo))
    [comment] = fake.comments_on(REPO, PR)
    assert comment["id"] == ours["id"]


# -- API failures ------------------------------------------------------------------------------


@pytest.mark.slow
def test_action_fork_token_warns_and_passes(runner: Runner, fake: FakeGitHub, demo: Path) -> None:
    fake.tokens["test-token"] = Token(login=BOT, can_write=False)
    result = runner.run("pull_request", pull_request_event(demo))

    assert result.code == ExitCode.OK
    assert "::warning::cannot write the pull request comment: the token is read-only" in result.log
    assert "workflow_run" in result.log
    assert "pull-requests: write" in result.log
    assert "## Sweep pr-grid on" in result.summary
    assert len(fake.requests_to("POST", r"/comments$")) == 1
    assert result.sleeps == []
    assert result.outputs["comment-url"] == ""


@pytest.mark.slow
def test_action_fork_token_fails_when_required(
    runner: Runner, fake: FakeGitHub, demo: Path
) -> None:
    fake.tokens["test-token"] = Token(login=BOT, can_write=False)
    result = runner.run("pull_request", pull_request_event(demo), comment="required")
    assert result.code == ExitCode.ENVIRONMENT
    assert "## Sweep pr-grid on" in result.summary


@pytest.mark.slow
def test_action_waits_out_secondary_limit(runner: Runner, fake: FakeGitHub, demo: Path) -> None:
    fake.fail(
        "POST",
        r"/issues/7/comments$",
        403,
        message=SECONDARY_LIMIT_MESSAGE,
        headers={"Retry-After": "3"},
    )
    result = runner.run("pull_request", pull_request_event(demo))
    assert result.code == ExitCode.OK, result.log
    assert result.sleeps == [3.0]
    [comment] = fake.comments_on(REPO, PR)
    assert "## Sweep pr-grid on" in comment["body"]


@pytest.mark.slow
def test_action_retries_two_502s(runner: Runner, fake: FakeGitHub, demo: Path) -> None:
    fake.fail("GET", r"/issues/7/comments$", 502, message="Server Error", times=2)
    result = runner.run("pull_request", pull_request_event(demo))
    assert result.code == ExitCode.OK, result.log
    assert result.sleeps == [1.0, 2.0]
    assert len(fake.requests_to("GET", r"/issues/7/comments$")) == 3
    assert len(fake.comments_on(REPO, PR)) == 1


TOO_LONG = {
    "message": "Validation Failed",
    "errors": [
        {
            "resource": "IssueComment",
            "code": "custom",
            "field": "body",
            "message": "body is too long (maximum is 65536 characters)",
        }
    ],
}


@pytest.mark.slow
def test_action_422_sends_short_body(runner: Runner, fake: FakeGitHub, demo: Path) -> None:
    fake.add_comment(REPO, PR, f"{MARKER}\nold", author=BOT)
    # The first PATCH is the "running" body; the second, the full report, is rejected.
    fake.fail("PATCH", r"/issues/comments/\d+$", 422, body=TOO_LONG, skip=1)

    result = runner.run("pull_request", pull_request_event(demo))

    assert result.code == ExitCode.OK, result.log
    bodies = list(iter_bodies(fake, "PATCH", r"/issues/comments/\d+$"))
    assert len(bodies) == 3
    assert "```mermaid" in bodies[1]
    assert "```mermaid" not in bodies[2]
    [comment] = fake.comments_on(REPO, PR)
    assert comment["body"] == bodies[2]
    assert "## Sweep pr-grid on" in comment["body"]
    assert "Commit tested:" in comment["body"]


@pytest.mark.slow
def test_action_422_twice_gives_up(runner: Runner, fake: FakeGitHub, demo: Path) -> None:
    fake.add_comment(REPO, PR, f"{MARKER}\nold", author=BOT)
    fake.fail("PATCH", r"/issues/comments/\d+$", 422, body=TOO_LONG, skip=1, times=5)
    result = runner.run("pull_request", pull_request_event(demo))
    assert result.code == ExitCode.OK
    assert len(fake.requests_to("PATCH", r"/issues/comments/\d+$")) == 3
    assert "::warning::cannot write the pull request comment" in result.log


def _inflated(results: SweepResults, count: int) -> SweepResults:
    """Copy `results` with `count` points, cloned from the real ones with new names."""
    inflated = copy.deepcopy(results)
    template = inflated.points
    inflated.points = []
    for index in range(1, count + 1):
        point = copy.deepcopy(template[index % len(template)])
        point.index = index
        point.name = f"pr-grid-{index}"
        point.swept = {"train.n_est": index}
        inflated.points.append(point)
    return inflated


@pytest.mark.slow
def test_action_body_over_limit_is_shortened(
    runner: Runner,
    fake: FakeGitHub,
    demo: Path,
    first_results: SweepResults,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """3,000 points make a report of several times 65,536 characters.

    Running 3,000 experiments would take an hour, so this test alone replaces the sweep
    with the real results of the module's first sweep, cloned to 3,000 points.
    """
    big = _inflated(first_results, 3000)

    def canned_sweep(*_args: object, **kwargs: Any) -> SweepResults:
        on_progress: Callable[..., None] | None = kwargs.get("on_progress")
        assert on_progress is not None
        return big

    monkeypatch.setattr(action_module, "run_sweep", canned_sweep)
    result = runner.run("pull_request", pull_request_event(demo))

    assert result.code == ExitCode.OK, result.log
    [comment] = fake.comments_on(REPO, PR)
    full_report = (demo / "sweep-report.md").read_text()
    assert len(full_report) > 2 * COMMENT_MAX_CHARS
    assert len(comment["body"]) <= COMMENT_MAX_CHARS
    assert "This report was shortened" in comment["body"]
    assert "table rows" in comment["body"]
    assert "Commit tested:" in comment["body"]
    assert "**baseline**" in comment["body"]
    assert "| pr-grid-" in comment["body"]
    assert f"/actions/runs/{RUN_ID}" in comment["body"]
    assert len(result.summary.encode()) < 1024 * 1024
    assert fake.requests_to("PATCH", r"/comments/") != []


# -- issue_comment: /sweep ---------------------------------------------------------------------


@pytest.mark.slow
def test_action_sweep_command_from_non_collaborator(
    runner: Runner, fake: FakeGitHub, demo: Path
) -> None:
    results_file = demo / "sweep-results.json"
    results_file.unlink(missing_ok=True)
    command = fake.add_comment(REPO, PR, "/sweep", author="mallory")

    result = runner.run("issue_comment", issue_comment_event(command, "CONTRIBUTOR"))

    assert result.code == ExitCode.OK, result.log
    assert not results_file.exists()
    reply = fake.comments_on(REPO, PR)[-1]
    assert "did not run" in reply["body"]
    assert "`CONTRIBUTOR`" in reply["body"]
    assert MARKER not in reply["body"]
    assert fake.reactions == {}
    assert result.summary == ""


@pytest.mark.slow
def test_action_sweep_command_runs_spec_block(runner: Runner, fake: FakeGitHub, demo: Path) -> None:
    fake.add_pull(REPO, PR, head_sha=head(demo))
    body = (
        "/sweep\n\nOnly the small forest:\n\n"
        "```yaml\nname: pr-grid\nparameters:\n  train.n_est: [10]\n```\n"
    )
    command = fake.add_comment(REPO, PR, body, author="bob")

    result = runner.run("issue_comment", issue_comment_event(command, "COLLABORATOR"))

    assert result.code == ExitCode.OK, result.log
    assert fake.reactions[command["id"]] == ["eyes"]
    results = read_results(demo / "sweep-results.json")
    assert [point.swept for point in results.points] == [{"train.n_est": 10}]
    assert results.spec["source"] == "<comment>"
    comment = fake.comments_on(REPO, PR)[-1]
    assert comment["body"].startswith(MARKER)
    assert f"Commit tested: [`{head(demo)[:7]}`]" in comment["body"]


@pytest.mark.slow
def test_action_ignores_ordinary_comment(runner: Runner, fake: FakeGitHub, demo: Path) -> None:
    command = fake.add_comment(REPO, PR, "looks good, maybe /sweep later", author="bob")
    result = runner.run("issue_comment", issue_comment_event(command, "OWNER"))
    assert result.code == ExitCode.OK
    assert fake.requests == []


# -- invalid input -----------------------------------------------------------------------------


@pytest.mark.slow
def test_action_invalid_spec_annotates_and_comments(
    runner: Runner, fake: FakeGitHub, demo: Path
) -> None:
    result = runner.run("pull_request", pull_request_event(demo), spec_file="invalid-sweep.yaml")

    assert result.code == ExitCode.INVALID_INPUT
    assert re.search(
        r"^::error file=invalid-sweep\.yaml,line=5,col=3,title=invalid sweep spec::.*"
        r"train\.n_estimators",
        result.log,
        re.MULTILINE,
    ), result.log
    [comment] = fake.comments_on(REPO, PR)
    assert comment["body"].startswith(MARKER)
    assert "`invalid-sweep.yaml` is invalid" in comment["body"]
    assert "invalid-sweep.yaml:5:3" in comment["body"]
    assert "Nothing ran" in comment["body"]
    assert "invalid-sweep.yaml:5:3" in result.summary


def test_action_annotation_path_in_monorepo(fake: FakeGitHub, tmp_path: Path) -> None:
    """A DVC project below the git root: annotations name the file from the workspace."""
    top = tmp_path / "monorepo"
    project = copy_demo(top / "ml")
    (project / "invalid-sweep.yaml").write_text(INVALID_SPEC)
    git(top, "init", "--quiet", "--initial-branch=main")
    init_repo_at(top, project)
    runner = Runner(top, fake, tmp_path)

    result = runner.run(
        "pull_request",
        pull_request_event(top),
        working_directory="ml",
        spec_file="invalid-sweep.yaml",
    )

    assert result.code == ExitCode.INVALID_INPUT, result.log
    assert "::error file=ml/invalid-sweep.yaml,line=5,col=3," in result.log
    [comment] = fake.comments_on(REPO, PR)
    assert "`invalid-sweep.yaml` is invalid" in comment["body"]


@pytest.mark.slow
def test_action_invalid_inline_spec_has_no_file(runner: Runner, demo: Path) -> None:
    result = runner.run(
        "workflow_dispatch", dispatch_event(), spec="parameters: {train.n_est: oops}\n"
    )
    assert result.code == ExitCode.INVALID_INPUT
    errors = [line for line in result.log.splitlines() if line.startswith("::error")]
    assert errors
    assert all("file=" not in line for line in errors)


@pytest.mark.slow
def test_action_max_experiments_caps_spec(runner: Runner, demo: Path) -> None:
    result = runner.run("pull_request", pull_request_event(demo), max_experiments="1")
    assert result.code == ExitCode.INVALID_INPUT
    assert "::error file=sweep.yaml" in result.log


def test_action_invalid_jobs_input(runner: Runner) -> None:
    result = runner.run("push", {}, jobs="two")
    assert result.code == ExitCode.INVALID_INPUT
    assert "::error title=dvc-sweep failed::invalid input jobs: 'two' is not an integer" in (
        result.log
    )
    assert "invalid input jobs" in result.summary


# -- other events ------------------------------------------------------------------------------


@pytest.mark.slow
def test_action_push_writes_summary_only(runner: Runner, fake: FakeGitHub, demo: Path) -> None:
    result = runner.run("push", push_event(demo))
    assert result.code == ExitCode.OK, result.log
    assert "## Sweep pr-grid on" in result.summary
    assert fake.requests == []
    assert "::warning" not in result.log
    assert "::error" not in result.log
    assert result.outputs["comment-url"] == ""
    assert result.outputs["best-experiment"].startswith("pr-grid-")


@pytest.mark.slow
def test_action_dispatch_inline_spec_comments_on_pr(
    runner: Runner, fake: FakeGitHub, demo: Path
) -> None:
    spec = "name: pr-grid\nparameters:\n  train.n_est: [20]\n"
    result = runner.run(
        "workflow_dispatch", dispatch_event(spec=spec, **{"pr-number": "7"}),
        spec=spec, pr_number="7",
    )  # fmt: skip
    assert result.code == ExitCode.OK, result.log
    assert read_results(demo / "sweep-results.json").spec["source"] == "<inline>"
    [comment] = fake.comments_on(REPO, PR)
    assert comment["body"].startswith(MARKER)


@pytest.mark.slow
def test_action_failed_point_exits_1(runner: Runner, fake: FakeGitHub, demo: Path) -> None:
    result = runner.run("pull_request", pull_request_event(demo), spec_file="failing-sweep.yaml")
    assert result.code == ExitCode.POINTS_FAILED, result.log
    assert "::error::1 of 2 points did not succeed" in result.log
    assert json.loads(result.outputs["best-params"]) == {"train.n_est": 10}
    [comment] = fake.comments_on(REPO, PR)
    assert comment["body"].startswith(comment_marker(WORKFLOW_FILE, "pr-fail"))
    assert "<details>" in comment["body"]


def _with_failed_point(results: SweepResults) -> SweepResults:
    failed = copy.deepcopy(results)
    failed.points[-1].status = "failed"
    failed.points[-1].error = "train failed"
    failed.points[-1].exit_status = 1
    failed.points[-1].metrics = {}
    return failed


@pytest.mark.slow
@pytest.mark.parametrize(("fail_on_error", "expected"), [("true", 1), ("false", 0)])
def test_action_fail_on_error_input(
    runner: Runner,
    first_results: SweepResults,
    monkeypatch: pytest.MonkeyPatch,
    fail_on_error: str,
    expected: int,
) -> None:
    """The sweep is replaced by the module's real results with one point marked failed."""
    monkeypatch.setattr(
        action_module, "run_sweep", lambda *_a, **_k: _with_failed_point(first_results)
    )
    result = runner.run("push", push_event(runner.repo), fail_on_error=fail_on_error)
    assert result.code == expected, result.log


@pytest.mark.slow
def test_action_sweep_error_replaces_running_comment(
    runner: Runner, fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_sweep(*_args: object, **_kwargs: object) -> SweepResults:
        raise EnvironmentProblemError("dvc exp run crashed", hint="read the log")

    monkeypatch.setattr(action_module, "run_sweep", broken_sweep)
    result = runner.run("pull_request", pull_request_event(runner.repo))
    assert result.code == ExitCode.ENVIRONMENT
    assert "::error title=dvc-sweep failed::dvc exp run crashed" in result.log
    [comment] = fake.comments_on(REPO, PR)
    assert "failed before it could report" in comment["body"]
    assert "dvc exp run crashed" in comment["body"]


# -- workflow_run: reporting a fork's results --------------------------------------------------


def workflow_run_event(head_sha: str) -> dict[str, Any]:
    return {
        "action": "completed",
        "workflow_run": {
            "id": 99,
            "name": "sweep",
            "event": "pull_request",
            "head_sha": head_sha,
            "conclusion": "success",
            # GitHub leaves this empty when the pull request comes from a fork.
            "pull_requests": [],
            "head_repository": {"full_name": "mallory/demo"},
        },
        "repository": repository(),
    }


@pytest.fixture
def artifact(tmp_path: Path, first_results: SweepResults) -> Path:
    """A directory holding the downloaded artifact: only the results file, no checkout."""
    directory = tmp_path / "artifact"
    directory.mkdir()
    write_results(first_results, directory / "sweep-results.json")
    return directory


@pytest.mark.slow
def test_action_workflow_run_comments_from_results(
    runner: Runner, fake: FakeGitHub, artifact: Path, first_results: SweepResults
) -> None:
    commit = first_results.baseline.commit
    fake.add_pull(REPO, PR, head_sha=commit)
    result = runner.run(
        "workflow_run", workflow_run_event(commit),
        working_directory=str(artifact), from_results="sweep-results.json", pr_number="7",
    )  # fmt: skip
    assert result.code == ExitCode.OK, result.log
    [comment] = fake.comments_on(REPO, PR)
    assert comment["body"].startswith(MARKER)
    assert f"Commit tested: [`{commit[:7]}`]" in comment["body"]
    assert (artifact / "sweep-report.md").is_file()
    assert "## Sweep pr-grid on" in result.summary


@pytest.mark.slow
def test_action_workflow_run_rejects_other_commit(
    runner: Runner, fake: FakeGitHub, artifact: Path
) -> None:
    result = runner.run(
        "workflow_run", workflow_run_event("c" * 40),
        working_directory=str(artifact), from_results="sweep-results.json", pr_number="7",
    )  # fmt: skip
    assert result.code == ExitCode.INVALID_INPUT
    assert "but the workflow run being reported tested ccccccc" in result.log
    assert fake.comments_on(REPO, PR) == []


@pytest.mark.slow
def test_action_workflow_run_skips_moved_pull_request(
    runner: Runner, fake: FakeGitHub, artifact: Path, first_results: SweepResults
) -> None:
    """A pr-number of another pull request, or a pull request pushed to since, gets nothing."""
    fake.add_pull(REPO, PR, head_sha="d" * 40)
    result = runner.run(
        "workflow_run", workflow_run_event(first_results.baseline.commit),
        working_directory=str(artifact), from_results="sweep-results.json", pr_number="7",
    )  # fmt: skip
    assert result.code == ExitCode.OK, result.log
    assert "::warning::not commenting on #7" in result.log
    assert fake.comments_on(REPO, PR) == []
    assert "## Sweep pr-grid on" in result.summary


@pytest.mark.slow
def test_action_cli_as_runner_runs_it(demo: Path, fake: FakeGitHub, tmp_path: Path) -> None:
    """`dvc-sweep github` in a child process, with only the environment as input."""
    runner = Runner(demo, fake, tmp_path)
    env = {**os.environ, **runner.environ("pull_request", pull_request_event(demo))}
    completed = subprocess.run(
        [sys.executable, "-m", "dvc_sweep", "github"],
        cwd=demo,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == ExitCode.OK, completed.stderr
    assert completed.stderr.startswith("::add-mask::test-token\n")
    assert completed.stdout == ""
    [comment] = fake.comments_on(REPO, PR)
    assert "## Sweep pr-grid on" in comment["body"]
    outputs = parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text())
    assert outputs["comment-url"] == comment["html_url"]


# -- a matrix: shards on separate runners, then one merge --------------------------------------

MATRIX_SPEC = """\
name: matrix
metric: {name: score, goal: maximize}
parameters:
  step.x: [1, 2, 3]
jobs: 2
"""
MATRIX_MARKER = comment_marker(WORKFLOW_FILE, "matrix")


def clone(source: Path, destination: Path) -> Path:
    """Clone `source` as a runner's checkout: the commits, but no experiment refs."""
    subprocess.run(["git", "clone", "--quiet", str(source), str(destination)], check=True)
    git(destination, "config", "user.name", "dvc-sweep tests")
    git(destination, "config", "user.email", "tests@dvc-sweep.invalid")
    return destination


def exp_names(repo: Path) -> list[str]:
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/exps")
    return sorted(ref.rsplit("/", 1)[1] for ref in refs.splitlines())


@dataclasses.dataclass
class Matrix:
    """Two shards of MATRIX_SPEC, each run by the action in its own clone."""

    source: Path
    artifacts: Path
    shards: list[ActionResult]
    fakes: list[FakeGitHub]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """Run shards 1/2 and 2/2 of the tiny pipeline, and keep their files as artifacts.

    ``artifacts/sweep-shard-K/`` contains what shard K uploaded, laid out as
    actions/download-artifact writes several artifacts: one directory per artifact.
    """
    home = tmp_path_factory.mktemp("matrix")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DVC_NO_ANALYTICS", "1")
        source = make_tiny_repo(home / "source")
        (source / "sweep.yaml").write_text(MATRIX_SPEC)
        git(source, "add", "sweep.yaml")
        git(source, "commit", "--quiet", "--message", "Add the sweep")
        shards, fakes = [], []
        for index in (1, 2):
            checkout = clone(source, home / f"runner-{index}")
            runner_home = home / f"home-{index}"
            runner_home.mkdir()
            with FakeGitHub() as server:
                runner = Runner(checkout, server, runner_home)
                shards.append(
                    runner.run("pull_request", pull_request_event(checkout), shard=f"{index}/2")
                )
            fakes.append(server)
            artifact = home / "artifacts" / f"sweep-shard-{index}"
            artifact.mkdir(parents=True)
            for name in ("sweep-results.json", "sweep-experiments.bundle"):
                shutil.copy2(checkout / name, artifact / name)
        yield Matrix(source=source, artifacts=home / "artifacts", shards=shards, fakes=fakes)


@pytest.fixture
def merger(matrix: Matrix, tmp_path: Path) -> Path:
    """The checkout of the merge job, with the shards' artifacts downloaded into shards/."""
    checkout = clone(matrix.source, tmp_path / "merger")
    shutil.copytree(matrix.artifacts, checkout / "shards")
    return checkout


def test_action_shard_runs_its_points(matrix: Matrix) -> None:
    for index, expected in ((1, [1, 3]), (2, [2])):
        results = read_results(matrix.artifacts / f"sweep-shard-{index}" / "sweep-results.json")
        assert [point.index for point in results.points] == expected
        assert results.shard is not None
        assert (results.shard.index, results.shard.count) == (index, 2)


def test_action_shard_writes_bundle_output(matrix: Matrix) -> None:
    for result in matrix.shards:
        assert result.code == ExitCode.OK, result.log
        bundle = Path(result.outputs["bundle-file"])
        assert bundle.name == "sweep-experiments.bundle"
        assert bundle.parent == Path(result.outputs["results-file"]).parent


def test_action_shard_one_comments_progress_only(matrix: Matrix) -> None:
    [comment] = matrix.fakes[0].comments_on(REPO, PR)
    assert comment["body"].startswith(MATRIX_MARKER)
    assert "2 of 2 points of shard 1 of 2 done" in comment["body"]
    assert "is running" in comment["body"]
    assert "## Sweep matrix" not in comment["body"]


def test_action_other_shard_sends_no_request(matrix: Matrix) -> None:
    assert matrix.fakes[1].requests == []
    assert "shard 2 of 2 writes no comment" in matrix.shards[1].log


def merge_environ(runner: Runner, repo: Path, merge: str) -> dict[str, str]:
    return runner.environ("pull_request", pull_request_event(repo), merge=merge)


def test_action_merge_comments_all_points(
    matrix: Matrix, merger: Path, fake: FakeGitHub, tmp_path: Path
) -> None:
    """`dvc-sweep github` in a child process, as the report job of the matrix runs it."""
    running = matrix.fakes[0].comments_on(REPO, PR)[0]["body"]
    ours = fake.add_comment(REPO, PR, running, author=BOT)
    env = {
        **os.environ,
        **merge_environ(Runner(merger, fake, tmp_path), merger, "shards/*/sweep-results.json"),
    }

    completed = subprocess.run(
        [sys.executable, "-m", "dvc_sweep", "github"],
        cwd=merger, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert completed.returncode == ExitCode.OK, completed.stderr
    [comment] = fake.comments_on(REPO, PR)
    assert comment["id"] == ours["id"]
    assert "## Sweep matrix on" in comment["body"]
    for name in ("matrix-1", "matrix-2", "matrix-3"):
        assert f"| {name}" in comment["body"]
    assert "Ran 3 of 3 points" in comment["body"]
    outputs = parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text())
    assert outputs["best-experiment"] == "matrix-3"
    assert outputs["best-metric"] == "32"


def test_action_merge_fetches_bundles(merger: Path, fake: FakeGitHub, tmp_path: Path) -> None:
    runner = Runner(merger, fake, tmp_path)
    result = runner.run(
        "push", push_event(merger), merge="shards/sweep-shard-1/*.json\nshards/sweep-shard-2/*.json"
    )
    assert result.code == ExitCode.OK, result.log
    assert exp_names(merger) == ["matrix-1", "matrix-2", "matrix-3"]
    merged = read_results(merger / "sweep-results.json")
    assert [point.status for point in merged.points] == ["success"] * 3
    assert merged.shard is None


def test_action_merge_missing_shard_exits_2(
    matrix: Matrix, merger: Path, fake: FakeGitHub, tmp_path: Path
) -> None:
    running = matrix.fakes[0].comments_on(REPO, PR)[0]["body"]
    fake.add_comment(REPO, PR, running, author=BOT)
    runner = Runner(merger, fake, tmp_path)

    result = runner.run(
        "pull_request", pull_request_event(merger), merge="shards/sweep-shard-1/sweep-results.json"
    )

    assert result.code == ExitCode.INVALID_INPUT, result.log
    assert "::error title=dvc-sweep failed::shard 2 of 2 is missing" in result.log
    assert "shard 2 of 2 is missing" in result.summary
    [comment] = fake.comments_on(REPO, PR)
    assert "failed before it could report" in comment["body"]
    assert "shard 2 of 2 is missing" in comment["body"]
    assert exp_names(merger) == []


def test_action_merge_without_match_exits_2(merger: Path, fake: FakeGitHub, tmp_path: Path) -> None:
    result = Runner(merger, fake, tmp_path).run(
        "pull_request", pull_request_event(merger), merge="artifacts/*.json"
    )
    assert result.code == ExitCode.INVALID_INPUT
    assert "::error title=dvc-sweep failed::invalid input merge: no results file matches" in (
        result.log
    )
    assert fake.requests == []


# -- units -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/sweep", None),
        ("  /sweep\r\nplease", None),
        ("/sweep\n```yaml\nname: a\n```\n", "name: a\n"),
        ("/sweep\n```yml\nname: a\n```", "name: a\n"),
        ("/sweep\n```\nname: a\n```", "name: a\n"),
        ("/sweep\n```python\nx = 1\n```\n```yaml\nname: b\n```", "name: b\n"),
        ("/sweep\r\n```yaml\r\nname: a\r\n```\r\n", "name: a\n"),
    ],
)
def test_parse_sweep_command_spec_block(body: str, expected: str | None) -> None:
    command = parse_sweep_command(body)
    assert command is not None
    assert command.spec_text == expected


@pytest.mark.parametrize("body", ["", "/sweeping", "please /sweep", "/Sweep", "> /sweep"])
def test_parse_sweep_command_rejects(body: str) -> None:
    assert parse_sweep_command(body) is None


def test_write_outputs_multiline_value(tmp_path: Path) -> None:
    path = tmp_path / "output"
    value = "line one\nghadelimiter_x\nline three"
    write_outputs(path, {"best-params": value, "empty": ""})
    assert parse_outputs(path.read_text()) == {"best-params": value, "empty": ""}


def test_workflow_commands_escape_annotation() -> None:
    stream = io.StringIO()
    WorkflowCommands(stream).error(
        "100% wrong\nsecond line", file="dir,a/b:c.yaml", line=3, column=9, title="t"
    )
    assert stream.getvalue() == (
        "::error file=dir%2Ca/b%3Ac.yaml,line=3,col=9,title=t::100%25 wrong%0Asecond line\n"
    )


def test_step_summary_rejects_over_limit(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    summary = StepSummary(path, limit=10)
    assert summary.append("12345")
    assert not summary.append("123456")
    assert path.read_text() == "12345"


def test_inputs_reject_bad_comment_value() -> None:
    with pytest.raises(UsageError, match="'sometimes'"):
        ActionInputs.from_env({"INPUT_COMMENT": "sometimes"})


def test_inputs_defaults() -> None:
    inputs = ActionInputs.from_env({})
    assert inputs == ActionInputs()


def test_inputs_reject_invalid_shard() -> None:
    with pytest.raises(UsageError, match="invalid input shard: '3/2'"):
        ActionInputs.from_env({"INPUT_SHARD": "3/2"})


def test_inputs_reject_shard_with_merge() -> None:
    with pytest.raises(
        UsageError, match=re.escape("invalid inputs: shard: '1/2' and merge: 'a.json' are both set")
    ):
        ActionInputs.from_env({"INPUT_SHARD": "1/2", "INPUT_MERGE": "a.json"})


def test_inputs_merge_splits_on_whitespace() -> None:
    inputs = ActionInputs.from_env({"INPUT_MERGE": " a.json\nshards/*/b.json  c.json\n"})
    assert inputs.merge == ("a.json", "shards/*/b.json", "c.json")


def test_inputs_pr_number_with_hash() -> None:
    assert ActionInputs.from_env({"INPUT_PR_NUMBER": "#12"}).pr_number == 12


def test_progress_updater_throttles() -> None:
    posted: list[tuple[int, int]] = []
    updater = ProgressUpdater(lambda done, total: posted.append((done, total)), interval=3600)
    updater.start(0, 5)
    for done in range(1, 5):
        updater.update(done, 5)
    updater.stop()
    assert posted == [(0, 5)]


def test_progress_updater_posts_latest_after_interval() -> None:
    posted: list[tuple[int, int]] = []
    updater = ProgressUpdater(lambda done, total: posted.append((done, total)), interval=0.05)
    updater.start(0, 3)
    updater.update(1, 3)
    updater.update(2, 3)
    deadline = time.monotonic() + 5
    while posted[-1] != (2, 3) and time.monotonic() < deadline:
        time.sleep(0.01)
    updater.stop()
    assert posted == [(0, 3), (2, 3)]


def test_final_footer_links_commit() -> None:
    context = RunnerContext.from_env(
        {"GITHUB_SERVER_URL": UNUSED_ORIGIN, "GITHUB_REPOSITORY": REPO}
    )
    footer = final_footer(context, "a" * 40, None)
    assert footer == f"\nCommit tested: [`aaaaaaa`]({UNUSED_ORIGIN}/{REPO}/commit/{'a' * 40})\n"


def test_final_footer_escapes_odd_commit() -> None:
    """A commit text from a forged results file cannot close the link and start its own."""
    context = RunnerContext.from_env({"GITHUB_SERVER_URL": UNUSED_ORIGIN})
    footer = final_footer(context, f"]({UNUSED_ORIGIN}/steal) @x", None)
    assert f"\\]({UNUSED_ORIGIN}/steal)" in footer
    assert "@x" not in footer


def test_spec_default_is_dedented() -> None:
    """The module's specs are literal YAML: a stray indent would make them invalid."""
    assert textwrap.dedent(SPEC) == SPEC
