"""The sweep's pull request comment: writing it, its progress updates and its bodies.

`PullRequestComment` creates or updates the one comment of a workflow and sweep, and stops
commenting with a warning after the first failure. `ProgressUpdater` posts the sweep's
progress to it from a background thread. The body builders (`running_body`,
`final_footer`, `failed_body`, `invalid_spec_body`) return the markdown for each state of
the sweep, and `acknowledge` and `reply_untrusted` respond to a ``/sweep`` comment.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from dvc_sweep.errors import SpecError, SweepError
from dvc_sweep.github import CommentUpserter, GitHubAPIError, GitHubClient, IntegrationAccessError
from dvc_sweep.report import escape_markdown, fenced_block
from dvc_sweep.results import Shard
from dvc_sweep.spec import DEFAULT_NAME

if TYPE_CHECKING:
    # Only for annotations, because _events imports this module at run time.
    from dvc_sweep._events import RunnerContext

logger = logging.getLogger(__name__)

SWEEP_COMMAND = "/sweep"

#: Minimum seconds between two progress updates of the comment while the sweep runs.
PROGRESS_INTERVAL = 10.0

_SHA_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


# -- the pull request comment ------------------------------------------------------------------


class PullRequestComment:
    """The sweep's comment on one pull request, degrading to a warning when it cannot be written.

    After the first failure (a read-only fork token, an API outage past the retries) no
    further request is sent, and `failure` keeps the error for the exit code.
    """

    def __init__(self, upserter: CommentUpserter | None) -> None:
        self._upserter = upserter
        self._lock = threading.Lock()
        self.failure: GitHubAPIError | None = None
        self.url: str | None = None

    @property
    def marker(self) -> str | None:
        """The hidden marker of the comment, or None when no comment is written."""
        return self._upserter.marker if self._upserter is not None else None

    def write(self, body: str, *, short_body: str | None = None) -> None:
        """Create or update the comment; on failure warn once and stop commenting."""
        with self._lock:
            if self._upserter is None or self.failure is not None:
                return
            try:
                comment = self._upserter.upsert(body, short_body=short_body)
            except GitHubAPIError as error:
                self.failure = error
                _warn_comment_failure(error)
                return
            self.url = comment.html_url or self.url


def _warn_comment_failure(error: GitHubAPIError) -> None:
    if isinstance(error, IntegrationAccessError):
        logger.warning(
            "cannot write the pull request comment: the token is read-only (%s). A pull "
            "request from a fork gets a read-only GITHUB_TOKEN whatever the workflow's "
            "permissions say. The report is in the job summary. To comment anyway, give the "
            "job `permissions: pull-requests: write` for pull requests of this repository, "
            "and for forks upload the results as an artifact and comment from a workflow "
            "triggered by `workflow_run` (see docs/github-action.md).",
            error.api_message or error.status,
        )
        return
    logger.warning(
        "cannot write the pull request comment: %s. The report is in the job summary.%s",
        error.message, f" Hint: {error.hint}" if error.hint else "",
    )  # fmt: skip


class ProgressUpdater:
    """Posts progress to the comment from a background thread, at most every `interval` s.

    `update` only records the progress, so the sweep's threads never wait for GitHub.
    """

    def __init__(
        self,
        post: Callable[[int, int], None],
        *,
        interval: float = PROGRESS_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._post = post
        self._interval = interval
        self._clock = clock
        self._latest: tuple[int, int] | None = None
        self._posted: tuple[int, int] | None = None
        self._last_post = -math.inf
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dvc-sweep-progress", daemon=True)

    def start(self, done: int, total: int) -> None:
        """Post the first progress at once, then start the background thread."""
        self._posted = (done, total)
        self._last_post = self._clock()
        self._post(done, total)
        self._thread.start()

    def update(self, done: int, total: int) -> None:
        """Record the newest progress; the thread posts it when the interval has passed."""
        self._latest = (done, total)
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread without posting what is pending: the final comment follows."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stopping.is_set():
                return
            wait = self._last_post + self._interval - self._clock()
            # Only stop() ends this wait early; updates meanwhile replace `_latest`.
            if wait > 0 and self._stopping.wait(wait):
                return
            latest = self._latest
            if latest is None or latest == self._posted:
                continue
            self._posted = latest
            self._last_post = self._clock()
            try:
                self._post(*latest)
            except Exception:  # a progress update must never end the sweep
                logger.warning("cannot post the sweep's progress", exc_info=True)


# -- comment bodies ----------------------------------------------------------------------------


def _link(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url else text


def _commit_text(context: RunnerContext, sha: str) -> str:
    # A results file from a fork's artifact could carry any text as its commit.
    if not _SHA_RE.fullmatch(sha):
        return escape_markdown(sha[:40])
    return _link(f"`{sha[:7]}`", context.commit_url(sha))


def running_body(
    marker: str,
    name: str,
    context: RunnerContext,
    *,
    done: int,
    total: int,
    commit: str | None,
    shard: Shard | None = None,
) -> str:
    """Return the comment body shown while the sweep, or shard 1 of a matrix, runs."""
    on_commit = f" on commit {_commit_text(context, commit)}" if commit else ""
    run = _link("workflow run", context.run_url)
    if shard is None:
        status = f"{done} of {total} points done{on_commit}. "
        ending = "when the sweep ends"
    else:
        status = (
            f"{done} of {total} points of shard {shard.index} of {shard.count} done{on_commit}; "
            "the other shards run on their own runners. "
        )
        ending = "of all shards when they are merged"
    return (
        f"{marker}\n"
        f"### ⏳ dvc-sweep: {escape_markdown(name)} is running\n\n"
        f"{status}This comment will show the ranked results {ending}. Progress: {run}.\n"
    )


def final_footer(context: RunnerContext, tested: str, head_sha: str | None) -> str:
    """Return the line under the report that names the commit tested.

    The report itself links the workflow run.
    """
    parts = [f"Commit tested: {_commit_text(context, tested)}"]
    if head_sha and head_sha != tested:
        parts.append(
            f"the pull request head is {_commit_text(context, head_sha)}, so these results "
            "are not of the head"
        )
    return "\n" + " · ".join(parts) + "\n"


def failed_body(marker: str, name: str, error: Exception, context: RunnerContext) -> str:
    """Return the comment body for a sweep that stopped with an error before its report."""
    text = str(error) if isinstance(error, SweepError) else f"{type(error).__name__}: {error}"
    run = f" Details: {_link('workflow run', context.run_url)}." if context.run_url else ""
    return (
        f"{marker}\n"
        f"### ❌ dvc-sweep: {escape_markdown(name)} failed before it could report\n\n"
        f"{fenced_block(text, 'text')}\n\n"
        f"No results were written.{run}\n"
    )


def fenced_inline(text: str) -> str:
    """Return `text` as a markdown code span, delimited by more backticks than any run in it.

    GitHub shows a code span's content literally, so HTML and mentions in it stay inert.
    """
    text = " ".join(text.splitlines())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{padding}{text}{padding}{ticks}"


def invalid_spec_body(
    marker: str, errors: list[SpecError], source: str, context: RunnerContext
) -> str:
    """Return the short comment body for a spec that failed validation."""
    count = len(errors)
    problems = "\n".join(str(error) for error in errors)
    # A fence keeps quoted values from becoming markdown or @mentions.
    block = fenced_block(problems, "text")
    next_step = (
        "Fix the spec and push again"
        if source not in ("<comment>", "<inline>")
        else "Fix the spec and run the sweep again"
    )
    run = f" Details: {_link('workflow run', context.run_url)}." if context.run_url else ""
    if source == "<comment>":
        # Line numbers count from the first line inside the comment's yaml block.
        what = "the sweep spec in the `/sweep` comment (lines counted in its yaml block)"
    elif source == "<inline>":
        what = "the inline sweep spec"
    else:
        # GitHub shows entities inside a code span literally, so the path is not escaped.
        what = f"the sweep spec {fenced_inline(source)}"
    return (
        f"{marker}\n"
        f"### ❌ dvc-sweep: {what} is invalid\n\n"
        f"Nothing ran: {count} {'problem was' if count == 1 else 'problems were'} found.\n\n"
        f"{block}\n\n"
        f"{next_step}.{run}\n"
    )


def guess_sweep_name(text: str | None) -> str:
    """Return the ``name`` of a spec that may be invalid, for the comment marker."""
    if text is None:
        return DEFAULT_NAME
    try:
        document = YAML(typ="safe").load(text)
    except YAMLError:
        return DEFAULT_NAME
    if isinstance(document, dict) and isinstance(document.get("name"), str):
        return str(document["name"]) or DEFAULT_NAME
    return DEFAULT_NAME


# -- replies to a /sweep comment ---------------------------------------------------------------


def acknowledge(client: GitHubClient, repository: str, comment_id: int) -> None:
    """Add the ``eyes`` reaction to a ``/sweep`` comment, logging a warning when that fails."""
    try:
        client.create_comment_reaction(repository, comment_id, "eyes")
    except GitHubAPIError as error:
        logger.warning("cannot react to comment %d: %s", comment_id, error)


def reply_untrusted(
    client: GitHubClient,
    context: RunnerContext,
    number: int,
    association: str,
    comment: Mapping[str, Any],
) -> None:
    """Reply on pull request ``number`` that the ``/sweep`` in ``comment`` did not run.

    A failed reply is logged as a warning, not raised.
    """
    link = comment.get("html_url")
    comment_link = f"[this comment]({link})" if isinstance(link, str) and link else "this comment"
    body = (
        f"`{SWEEP_COMMAND}` did not run for {comment_link}: only owners, members and collaborators "
        f"of this repository can start a sweep, and the comment's author association is "
        f"`{association}`. A maintainer can comment `{SWEEP_COMMAND}` to run it."
    )
    try:
        reply = client.create_issue_comment(context.repository, number, body)
        logger.info("replied to the untrusted /sweep on #%d: %s", number, reply.html_url)
    except GitHubAPIError as error:
        logger.warning("cannot reply to the /sweep comment on #%d: %s", number, error)
