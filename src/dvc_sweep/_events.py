"""The action's inputs and the event it runs for, read from the runner's environment.

`ActionInputs` parses the ``INPUT_*`` variables that ``action/action.yml`` sets, and
`RunnerContext` reads the runner's ``GITHUB_*`` variables and loads the event payload.
`resolve_target` turns the event into a `Target`: the pull request, spec and commit to
sweep. For an ``issue_comment`` event that means parsing the ``/sweep`` command, checking
its author's association, and reacting or replying to the comment.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from dvc_sweep._comment import acknowledge, reply_untrusted
from dvc_sweep.commands.run import parse_shard
from dvc_sweep.errors import EnvironmentProblemError, UsageError
from dvc_sweep.github import GitHubAPIError, GitHubClient
from dvc_sweep.results import Shard

logger = logging.getLogger(__name__)

#: ``author_association`` values whose ``/sweep`` comments start a sweep.
TRUSTED_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})

CommentMode = Literal["true", "false", "required"]

_COMMAND_RE = re.compile(r"\A\s*/sweep(?=\s|\Z)")
_FENCE_RE = re.compile(
    r"^(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


# -- inputs and runner context -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ActionInputs:
    """The action's inputs, read from the ``INPUT_*`` variables that action.yml sets."""

    spec_file: str = "sweep.yaml"
    spec: str | None = None
    working_directory: str = "."
    jobs: int | None = None
    max_experiments: int = 100
    token: str = ""
    comment: CommentMode = "true"
    comment_author: str | None = None
    pr_number: int | None = None
    fail_on_error: bool = True
    from_results: str | None = None
    shard: Shard | None = None
    merge: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ActionInputs:
        """Read and validate every input; raise UsageError that quotes the bad value."""

        def text(name: str, default: str = "") -> str:
            return environ.get(f"INPUT_{name}", "").strip() or default

        comment = text("COMMENT", "true").lower()
        if comment not in ("true", "false", "required"):
            raise UsageError(
                f"invalid input comment: {comment!r}",
                hint="use 'true', 'false' or 'required'",
            )
        spec = environ.get("INPUT_SPEC", "")
        inputs = cls(
            spec_file=text("SPEC_FILE", "sweep.yaml"),
            spec=spec if spec.strip() else None,
            working_directory=text("WORKING_DIRECTORY", "."),
            jobs=_positive_int("jobs", text("JOBS")),
            max_experiments=_positive_int("max-experiments", text("MAX_EXPERIMENTS", "100")) or 100,
            token=environ.get("INPUT_TOKEN", "").strip(),
            comment=comment,  # type: ignore[arg-type]  # checked against the literals above
            comment_author=text("COMMENT_AUTHOR") or None,
            pr_number=_positive_int("pr-number", text("PR_NUMBER").lstrip("#")),
            fail_on_error=_boolean("fail-on-error", text("FAIL_ON_ERROR", "true")),
            from_results=text("FROM_RESULTS") or None,
            shard=_shard("shard", text("SHARD")),
            # Split on whitespace without quoting, so a path with a space needs a glob.
            merge=tuple(text("MERGE").split()),
        )
        modes = [
            f"{name}: {value!r}"
            for name, value in (
                ("shard", text("SHARD")),
                ("merge", text("MERGE")),
                ("from-results", text("FROM_RESULTS")),
            )
            if value
        ]
        if len(modes) > 1:
            raise UsageError(
                f"invalid inputs: {' and '.join(modes)} are both set, but the action runs "
                "one of shard, merge and from-results at a time",
                hint="set shard in the matrix jobs, and merge or from-results in one later job",
            )
        return inputs


def _positive_int(name: str, value: str) -> int | None:
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise UsageError(
            f"invalid input {name}: {value!r} is not an integer",
            hint=f"set {name} to a positive integer, or leave it empty",
        ) from None
    if number < 1:
        raise UsageError(f"invalid input {name}: {number} is less than 1")
    return number


def _shard(name: str, value: str) -> Shard | None:
    if not value:
        return None
    try:
        return parse_shard(value)
    except argparse.ArgumentTypeError:
        raise UsageError(
            f"invalid input {name}: {value!r} is not K/N with 1 <= K <= N",
            hint=f"set {name} to, for example, 2/3 for the second of three shards, or leave "
            "it empty to run the whole sweep",
        ) from None


def _boolean(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise UsageError(f"invalid input {name}: {value!r}", hint="use 'true' or 'false'")
    return lowered == "true"


@dataclasses.dataclass(frozen=True)
class RunnerContext:
    """The variables a GitHub Actions runner sets for a step, and the event payload."""

    event_name: str
    event: dict[str, Any]
    repository: str
    api_url: str
    server_url: str
    run_id: str
    workflow: str
    sha: str
    workspace: Path
    step_summary: Path | None
    output: Path | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RunnerContext:
        """Read the runner's ``GITHUB_*`` variables and load the event payload."""
        event: dict[str, Any] = {}
        event_path = environ.get("GITHUB_EVENT_PATH")
        if event_path:
            try:
                loaded = json.loads(Path(event_path).read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise EnvironmentProblemError(
                    f"cannot read the event payload {event_path}: {error}",
                    hint="GITHUB_EVENT_PATH must name the JSON file the runner wrote",
                ) from None
            if isinstance(loaded, dict):
                event = loaded
        return cls(
            event_name=environ.get("GITHUB_EVENT_NAME", ""),
            event=event,
            repository=environ.get("GITHUB_REPOSITORY", ""),
            api_url=environ.get("GITHUB_API_URL", ""),
            server_url=environ.get("GITHUB_SERVER_URL", "").rstrip("/"),
            run_id=environ.get("GITHUB_RUN_ID", ""),
            workflow=_workflow_identity(environ),
            sha=environ.get("GITHUB_SHA", ""),
            workspace=Path(environ.get("GITHUB_WORKSPACE") or Path.cwd()),
            step_summary=optional_path(environ.get("GITHUB_STEP_SUMMARY")),
            output=optional_path(environ.get("GITHUB_OUTPUT")),
        )

    @property
    def run_url(self) -> str | None:
        """Return the URL of the workflow run, or None outside a runner."""
        if not (self.server_url and self.repository and self.run_id):
            return None
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    def commit_url(self, sha: str) -> str | None:
        """Return the URL of a commit of the repository, or None outside a runner."""
        if not (self.server_url and self.repository):
            return None
        return f"{self.server_url}/{self.repository}/commit/{sha}"


def _workflow_identity(environ: Mapping[str, str]) -> str:
    """Return the workflow file path, which names the workflow stably across runs.

    ``GITHUB_WORKFLOW_REF`` is ``OWNER/REPO/.github/workflows/FILE@REF``; the REF part
    differs between runs of one pull request, so it is dropped. Outside a runner the
    workflow's display name is the fallback.
    """
    ref = environ.get("GITHUB_WORKFLOW_REF", "")
    repository = environ.get("GITHUB_REPOSITORY", "")
    if ref:
        path = ref.split("@", 1)[0]
        if repository and path.startswith(repository + "/"):
            path = path[len(repository) + 1 :]
        return path
    return environ.get("GITHUB_WORKFLOW", "") or "dvc-sweep"


def optional_path(value: str | None) -> Path | None:
    """Return ``value`` as a path, or None when the variable is unset or empty."""
    return Path(value) if value else None


# -- the event ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Target:
    """The pull request, spec and commit that the triggering event refers to."""

    pr_number: int | None
    head_sha: str | None = None
    spec_text: str | None = None
    spec_source: str | None = None
    command_comment_id: int | None = None


@dataclasses.dataclass(frozen=True)
class SweepCommand:
    """A ``/sweep`` comment: the optional spec in its first fenced block."""

    spec_text: str | None


def parse_sweep_command(body: str) -> SweepCommand | None:
    """Return the command in a comment body, or None when it does not start with /sweep."""
    if not _COMMAND_RE.match(body):
        return None
    normalized = body.replace("\r\n", "\n")
    for match in _FENCE_RE.finditer(normalized):
        info = match.group("info").strip().lower()
        if info in ("", "yaml", "yml"):
            return SweepCommand(spec_text=match.group("body"))
    return SweepCommand(spec_text=None)


class EventSkipped(Exception):  # noqa: N818  # a control-flow signal, not an error
    """The event needs no sweep, for the reason in ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def resolve_target(
    inputs: ActionInputs, context: RunnerContext, client: GitHubClient | None
) -> Target:
    """Work out the pull request, spec and commit of the event.

    Raise EventSkipped for a comment that is not a command, and for a command by an
    untrusted author after replying to it.
    """
    event = context.event
    if context.event_name == "issue_comment":
        return _comment_target(inputs, context, client)

    workflow_run = event.get("workflow_run")
    if context.event_name == "workflow_run" and isinstance(workflow_run, dict):
        # The run being reported. Its pull_requests list is empty for a fork's pull request,
        # so the number usually comes from the pr-number input.
        pulls = workflow_run.get("pull_requests") or []
        number = inputs.pr_number or (int(pulls[0]["number"]) if pulls else None)
        return Target(pr_number=number, head_sha=str(workflow_run.get("head_sha") or "") or None)

    pull = event.get("pull_request")
    if isinstance(pull, dict) and pull.get("number"):
        head = pull.get("head") or {}
        return Target(
            pr_number=inputs.pr_number or int(pull["number"]),
            head_sha=str(head.get("sha") or "") or None,
        )
    return Target(pr_number=inputs.pr_number)


def _comment_target(
    inputs: ActionInputs, context: RunnerContext, client: GitHubClient | None
) -> Target:
    event = context.event
    issue = event.get("issue") or {}
    comment = event.get("comment") or {}
    if event.get("action", "created") != "created":
        raise EventSkipped(f"the comment was {event.get('action')}, not created")
    command = parse_sweep_command(str(comment.get("body") or ""))
    if command is None:
        raise EventSkipped("the comment does not start with /sweep")
    number = int(issue.get("number") or 0)
    if not issue.get("pull_request"):
        raise EventSkipped(f"#{number} is an issue, and /sweep works on pull requests only")

    author = str((comment.get("user") or {}).get("login") or "unknown")
    association = str(comment.get("author_association") or "NONE")
    comment_id = int(comment["id"]) if comment.get("id") else None
    if association not in TRUSTED_ASSOCIATIONS:
        logger.warning(
            "ignoring /sweep by %s on #%d: their author_association is %s, and only %s may "
            "start a sweep",
            author, number, association, ", ".join(sorted(TRUSTED_ASSOCIATIONS)),
        )  # fmt: skip
        if client is not None and inputs.comment != "false":
            reply_untrusted(client, context, number, association, comment)
        raise EventSkipped(f"/sweep by {author}, who is not trusted to run it")

    head_sha = None
    if client is not None:
        if comment_id is not None:
            acknowledge(client, context.repository, comment_id)
        try:
            head_sha = str(client.get_pull_request(context.repository, number)["head"]["sha"])
        except (GitHubAPIError, KeyError, TypeError) as error:
            logger.warning("cannot read the head commit of #%d: %s", number, error)
    return Target(
        pr_number=inputs.pr_number or number,
        head_sha=head_sha,
        spec_text=command.spec_text,
        spec_source="<comment>" if command.spec_text is not None else None,
        command_comment_id=comment_id,
    )
