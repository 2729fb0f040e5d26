"""The GitHub Actions entry point: run a sweep for the event and keep one PR comment current.

The composite action in ``action/action.yml`` passes its inputs as ``INPUT_*`` environment
variables and runs ``dvc-sweep github``, which calls `run_action` with the environment the
runner sets (``GITHUB_EVENT_NAME``, ``GITHUB_EVENT_PATH``, ``GITHUB_STEP_SUMMARY`` ...).

What each event does:

- ``pull_request``: sweep the checked-out head, comment on the pull request of the payload.
- ``issue_comment``: a comment that starts with ``/sweep`` on a pull request, by an owner,
  member or collaborator, runs the sweep (a fenced YAML block in the comment replaces the
  spec file). Anyone else gets a reply and nothing runs.
- ``workflow_dispatch``, ``push`` and the rest: sweep, write the job summary, and comment
  only when the ``pr-number`` input names a pull request.

In a matrix, the ``shard`` input runs one shard of the sweep and writes a git bundle of
its experiments, and only shard 1 comments, with its progress. A later job with the
``merge`` input merges the shards' results files, fetches their bundles and publishes
the whole sweep's report as a normal run does. ``from-results`` publishes the results
file of another workflow run (the pattern for pull requests from forks).

`dvc_sweep._events` reads the inputs and the event, and `dvc_sweep._comment` writes the
pull request comment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import IO

from dvc_sweep._comment import (
    PROGRESS_INTERVAL,
    ProgressUpdater,
    PullRequestComment,
    failed_body,
    final_footer,
    guess_sweep_name,
    invalid_spec_body,
    running_body,
)
from dvc_sweep._events import (
    ActionInputs,
    EventSkipped,
    RunnerContext,
    Target,
    optional_path,
    resolve_target,
)
from dvc_sweep._workflow import StepSummary, WorkflowCommands, workflow_logging, write_outputs
from dvc_sweep.dvc import fetch_bundle, find_repo_root, head_commit
from dvc_sweep.errors import (
    ExitCode,
    SpecError,
    SpecErrorGroup,
    SweepError,
    UsageError,
)
from dvc_sweep.github import (
    COMMENT_MAX_CHARS,
    GITHUB_ACTIONS_BOT_LOGIN,
    CommentUpserter,
    GitHubAPIError,
    GitHubClient,
    RetryPolicy,
    comment_marker,
)
from dvc_sweep.plan import plan_points
from dvc_sweep.report import (
    best_point,
    fenced_block,
    goal_metric_value,
    render_markdown,
)
from dvc_sweep.results import SweepResults, merge_results, read_results, write_results
from dvc_sweep.spec import DEFAULT_NAME, SweepSpec, load_spec
from dvc_sweep.sweep import Progress, run_sweep, write_bundle

logger = logging.getLogger(__name__)

#: Room left in a comment for the marker and the footer around the report.
COMMENT_RESERVED_CHARS = 2_000

#: Length of the body sent after GitHub rejected the full one as too long.
SHORT_COMMENT_CHARS = 8_000

RESULTS_FILE = "sweep-results.json"
REPORT_FILE = "sweep-report.md"
#: The git bundle of a shard's experiments, written next to its results file.
BUNDLE_FILE = "sweep-experiments.bundle"


# -- outputs -----------------------------------------------------------------------------------


def _json_value(value: object) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value
    return json.dumps(value)


# -- the run -----------------------------------------------------------------------------------


@dataclasses.dataclass
class _Run:
    """State shared by the steps of one action run."""

    inputs: ActionInputs
    context: RunnerContext
    commands: WorkflowCommands
    summary: StepSummary
    client: GitHubClient | None
    comment: PullRequestComment
    outputs: dict[str, str]
    authors: frozenset[str] | None = None


def run_action(
    environ: Mapping[str, str],
    *,
    stream: IO[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    progress_interval: float = PROGRESS_INTERVAL,
) -> int:
    """Run the action for the event the environment describes and return the exit code.

    ``stream`` receives the workflow commands (stderr by default). ``sleep`` and ``clock``
    drive the API client's retry waits, so tests can pass fakes.
    """
    commands = WorkflowCommands(stream)
    token = environ.get("INPUT_TOKEN", "").strip()
    # Mask first, before anything could print the token.
    commands.add_mask(token)

    context: RunnerContext | None = None
    summary = StepSummary(optional_path(environ.get("GITHUB_STEP_SUMMARY")))
    try:
        inputs = ActionInputs.from_env(environ)
        context = RunnerContext.from_env(environ)
    except SweepError as error:
        return _fail(error, commands, summary, context=None)

    client = _make_client(inputs, context, sleep=sleep, clock=clock)
    run = _Run(
        inputs=inputs,
        context=context,
        commands=commands,
        summary=summary,
        client=client,
        comment=PullRequestComment(None),
        outputs={
            "best-experiment": "",
            "best-params": "{}",
            "best-metric": "",
            "results-file": "",
            "report-file": "",
            "bundle-file": "",
            "comment-url": "",
        },
    )
    try:
        return _run(run, progress_interval=progress_interval)
    except EventSkipped as skipped:
        logger.info("nothing to do: %s", skipped.reason)
        return int(ExitCode.OK)
    except SweepError as error:
        return _fail(error, commands, summary, context=context)
    finally:
        run.outputs["comment-url"] = run.comment.url or ""
        write_outputs(context.output, run.outputs)
        if client is not None:
            client.close()


def _make_client(
    inputs: ActionInputs,
    context: RunnerContext,
    *,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> GitHubClient | None:
    if not inputs.token:
        if inputs.comment != "false":
            logger.warning("the token input is empty, so no pull request comment is written")
        return None
    if not context.api_url:
        logger.warning("GITHUB_API_URL is not set, so no pull request comment is written")
        return None
    return GitHubClient(
        inputs.token, api_url=context.api_url, retry=RetryPolicy(), sleep=sleep, clock=clock
    )


def _run(run: _Run, *, progress_interval: float) -> int:
    inputs, context = run.inputs, run.context
    target = resolve_target(inputs, context, run.client)

    working_directory = Path(inputs.working_directory)
    if not working_directory.is_absolute():
        working_directory = context.workspace / working_directory
    if not working_directory.is_dir():
        raise UsageError(
            f"invalid input working-directory: {inputs.working_directory!r} is not a directory "
            f"under {context.workspace}",
        )
    if inputs.from_results is not None:
        return _report_only(run, target, working_directory)
    if inputs.merge:
        return _merge(run, target, working_directory)
    repo_root = find_repo_root(working_directory)

    spec_text, source = _spec_source(inputs, target)
    if spec_text is None:
        guessed_name = guess_sweep_name(_read_or_none(working_directory / inputs.spec_file))
    else:
        guessed_name = guess_sweep_name(spec_text)
    if target.pr_number is None:
        logger.info(
            "the %s event has no pull request, so no comment is written", context.event_name
        )
    elif inputs.comment == "false":
        logger.info("the comment input is false, so no comment is written")
    elif inputs.shard is not None and inputs.shard.index != 1:
        logger.info(
            "shard %d of %d writes no comment: shard 1 shows the progress, and the job "
            "with the merge input writes the report",
            inputs.shard.index, inputs.shard.count,
        )  # fmt: skip
    # Until the spec is valid, its name is a guess from the raw YAML.
    run.comment = _pull_request_comment(run, target, guessed_name)

    spec = _load_spec(run, working_directory, repo_root, spec_text, source)
    if spec.name != guessed_name:
        run.comment = _pull_request_comment(run, target, spec.name)
    return _sweep(
        run,
        spec,
        target,
        repo_root=repo_root,
        working_directory=working_directory,
        progress_interval=progress_interval,
    )


def _pull_request_comment(run: _Run, target: Target, sweep_name: str) -> PullRequestComment:
    """Return the comment of this workflow and sweep, disabled when there is none to write."""
    if run.client is None or target.pr_number is None or run.inputs.comment == "false":
        return PullRequestComment(None)
    if run.inputs.shard is not None and run.inputs.shard.index != 1:
        return PullRequestComment(None)
    if run.authors is None:
        run.authors = _comment_authors(run.inputs, run.client)
    return PullRequestComment(
        CommentUpserter(
            run.client,
            run.context.repository,
            target.pr_number,
            comment_marker(run.context.workflow, sweep_name),
            run.authors,
        )
    )


def _spec_source(inputs: ActionInputs, target: Target) -> tuple[str | None, str]:
    if target.spec_text is not None:
        return target.spec_text, target.spec_source or "<comment>"
    if inputs.spec is not None:
        return inputs.spec, "<inline>"
    return None, inputs.spec_file


def _read_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _comment_authors(inputs: ActionInputs, client: GitHubClient) -> frozenset[str]:
    """Return the logins whose comments may be ours: the input, GET /user, or the bot."""
    if inputs.comment_author:
        return frozenset({inputs.comment_author})
    try:
        login = client.authenticated_login()
    except GitHubAPIError as error:
        logger.debug("GET /user failed: %s", error)
        login = None
    if login:
        logger.debug("the token belongs to %s", login)
        return frozenset({login})
    logger.debug(
        "GET /user is not readable with this token (an installation token such as "
        "GITHUB_TOKEN), so comments by %s count as ours; set the comment-author input for "
        "a GitHub App token",
        GITHUB_ACTIONS_BOT_LOGIN,
    )
    return frozenset({GITHUB_ACTIONS_BOT_LOGIN})


def _load_spec(
    run: _Run, working_directory: Path, repo_root: Path, spec_text: str | None, source: str
) -> SweepSpec:
    spec_path = working_directory / run.inputs.spec_file
    if spec_text is None:
        # Name the file relative to the repository, as the annotations need it.
        with contextlib.suppress(ValueError):
            source = spec_path.resolve().relative_to(repo_root.resolve()).as_posix()
    try:
        return load_spec(
            spec_path,
            repo_root=repo_root,
            text=spec_text,
            source=source,
            max_experiments_cap=run.inputs.max_experiments,
        )
    except SpecErrorGroup as errors:
        _report_invalid_spec(run, errors.errors, source, repo_root)
        raise


def _report_invalid_spec(run: _Run, errors: list[SpecError], source: str, repo_root: Path) -> None:
    context = run.context
    for error in errors:
        annotation_file = _workspace_path(context.workspace, repo_root, error.file)
        message = error.message + (f" (hint: {error.hint})" if error.hint else "")
        run.commands.error(
            message,
            file=annotation_file,
            line=error.line,
            column=error.column,
            title="invalid sweep spec",
        )
    run.summary.append(
        f"## dvc-sweep: the sweep spec `{source}` is invalid\n\n"
        f"{fenced_block(chr(10).join(str(error) for error in errors), 'text')}\n"
    )
    if run.comment.marker is not None:
        run.comment.write(invalid_spec_body(run.comment.marker, errors, source, context))


def _workspace_path(workspace: Path, repo_root: Path, file: str) -> str | None:
    """Return ``file`` (relative to the repository) relative to the workspace, if it is a file."""
    if file.startswith("<"):
        return None
    path = repo_root / file
    try:
        return path.resolve().relative_to(workspace.resolve()).as_posix()
    except ValueError:
        return file


def _sweep(
    run: _Run,
    spec: SweepSpec,
    target: Target,
    *,
    repo_root: Path,
    working_directory: Path,
    progress_interval: float,
) -> int:
    context, inputs = run.context, run.inputs
    tested = head_commit(repo_root)
    if target.head_sha and target.head_sha != tested:
        logger.warning(
            "the workspace is at commit %s, not at the pull request head %s; check out the "
            "head commit to sweep it",
            tested[:7], target.head_sha[:7],
        )  # fmt: skip
    marker = comment_marker(context.workflow, spec.name)
    shard = inputs.shard

    def post_progress(done: int, total: int) -> None:
        run.comment.write(
            running_body(
                marker, spec.name, context, done=done, total=total, commit=tested, shard=shard
            )
        )

    points = plan_points(spec)
    if shard is not None:
        # The same selection as run_sweep makes: every N-th point, starting at point K.
        points = [point for point in points if (point.index - 1) % shard.count == shard.index - 1]
    updater = ProgressUpdater(post_progress, interval=progress_interval)
    updater.start(0, len(points))

    def on_progress(progress: Progress) -> None:
        updater.update(progress.done, progress.total)

    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if _main_thread() else None
    try:
        results = run_sweep(
            spec, repo_root=repo_root, jobs=inputs.jobs, on_progress=on_progress, shard=shard
        )
    except Exception as error:
        # Replace the "running" comment, which would otherwise stay forever.
        updater.stop()
        run.comment.write(failed_body(marker, spec.name, error, context))
        raise
    finally:
        updater.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

    results_file = working_directory / RESULTS_FILE
    write_results(results, results_file)
    if shard is not None:
        _write_bundle(run, results, repo_root, working_directory / BUNDLE_FILE)
        # The job with the merge input writes the report into the comment.
        done = sum(1 for point in results.points if point.status != "not_run")
        post_progress(done, len(results.points))
    return _publish(
        run,
        results,
        marker=marker,
        head_sha=target.head_sha,
        results_file=results_file,
        report_file=working_directory / REPORT_FILE,
        final_comment=shard is None,
    )


def _write_bundle(run: _Run, results: SweepResults, repo_root: Path, bundle_file: Path) -> None:
    """Write the shard's finished experiments to a git bundle for the merge job to fetch."""
    if write_bundle(results, repo_root, bundle_file):
        run.outputs["bundle-file"] = str(bundle_file.resolve())


def _merge(run: _Run, target: Target, working_directory: Path) -> int:
    """Merge the results files of a matrix's shards, then publish them as a sweep's results.

    The git bundles found in the directories of the results files are fetched into the
    repository at working-directory, so its `dvc exp show` lists every shard's experiments.
    """
    context = run.context
    results_file = working_directory / RESULTS_FILE
    paths = _merge_paths(run.inputs.merge, working_directory, exclude=results_file)
    first = read_results(paths[0])
    name = str(first.spec.get("name") or DEFAULT_NAME)
    run.comment = _pull_request_comment(run, target, name)
    marker = comment_marker(context.workflow, name)
    bundles = sorted({bundle for path in paths for bundle in path.parent.glob("*.bundle")})
    try:
        parts = [(_display_path(paths[0], working_directory), first)]
        parts += [
            (_display_path(path, working_directory), read_results(path)) for path in paths[1:]
        ]
        merged = merge_results(parts)
        if bundles:
            repo_root = find_repo_root(working_directory)
            for bundle in bundles:
                fetch_bundle(repo_root, bundle)
                logger.info("fetched the experiments of %s", bundle)
    except SweepError as error:
        # Replace shard 1's "running" comment, which would otherwise stay forever.
        run.comment.write(failed_body(marker, name, error, context))
        raise
    logger.info("merged %d results files and %d bundles", len(parts), len(bundles))

    tested = merged.baseline.commit
    if target.head_sha and target.head_sha != tested:
        logger.warning(
            "the shards tested commit %s, not the pull request head %s; check out the head "
            "commit in the matrix jobs",
            tested[:7], target.head_sha[:7],
        )  # fmt: skip
    write_results(merged, results_file)
    return _publish(
        run,
        merged,
        marker=marker,
        head_sha=target.head_sha,
        results_file=results_file,
        report_file=working_directory / REPORT_FILE,
    )


def _merge_paths(
    patterns: tuple[str, ...], working_directory: Path, *, exclude: Path
) -> list[Path]:
    """Expand the merge input's paths and glob patterns, relative to `working_directory`."""
    paths: dict[Path, None] = {}
    for pattern in patterns:
        # Path.glob rejects absolute patterns before Python 3.13, and the input may have them.
        matches = sorted(glob.glob(pattern, root_dir=working_directory, recursive=True))  # noqa: PTH207
        if not matches:
            logger.warning("no results file matches %r in %s", pattern, working_directory)
        for match in matches:
            path = (working_directory / match).resolve()
            if path == exclude.resolve():
                logger.warning("not merging %s: the merged results are written to that file", match)
                continue
            if path.is_file():
                paths[path] = None
    if not paths:
        raise UsageError(
            f"invalid input merge: no results file matches {' '.join(patterns)!r} in "
            f"{working_directory}",
            hint="download the matrix jobs' artifacts first, and give their paths relative to "
            "working-directory, for example shards/*/sweep-results.json",
        )
    return list(paths)


def _display_path(path: Path, working_directory: Path) -> str:
    try:
        return path.relative_to(working_directory.resolve()).as_posix()
    except ValueError:
        return str(path)


def _report_only(run: _Run, target: Target, working_directory: Path) -> int:
    """Publish the results file of another run: the comment, the summary and the outputs.

    The results file may come from a fork's pull request, so it is checked against the
    event: it must be of the commit the reported run tested, and the pull request must
    still be at that commit, or no comment is written.
    """
    context = run.context
    results_file = Path(run.inputs.from_results or "")
    if not results_file.is_absolute():
        results_file = working_directory / results_file
    results = read_results(results_file)
    tested = results.baseline.commit
    if target.head_sha and tested != target.head_sha:
        raise UsageError(
            f"the results file {results_file} is of commit {tested[:7]}, but the workflow run "
            f"being reported tested {target.head_sha[:7]}",
            hint="download the results artifact of the run that triggered this workflow",
        )
    name = str(results.spec.get("name") or DEFAULT_NAME)
    run.comment = _pull_request_comment(run, target, name)
    if run.comment.marker is not None and run.client is not None and target.pr_number:
        pull = run.client.get_pull_request(context.repository, target.pr_number)
        pull_head = str((pull.get("head") or {}).get("sha") or "")
        if pull_head != tested:
            logger.warning(
                "not commenting on #%d: it is at commit %s, not at %s, which the results are "
                "of (the pull request was updated, or the pr-number does not belong to that "
                "run)",
                target.pr_number, pull_head[:7], tested[:7],
            )  # fmt: skip
            run.comment = PullRequestComment(None)
    return _publish(
        run,
        results,
        marker=comment_marker(context.workflow, name),
        head_sha=None,
        results_file=results_file,
        report_file=working_directory / REPORT_FILE,
    )


def _publish(
    run: _Run,
    results: SweepResults,
    *,
    marker: str,
    head_sha: str | None,
    results_file: Path,
    report_file: Path,
    final_comment: bool = True,
) -> int:
    """Write the report file, the job summary, the final comment and the outputs."""
    context = run.context
    full_report = render_markdown(results, run_url=context.run_url, chart=True)
    report_file.write_text(full_report, encoding="utf-8")
    logger.info("wrote %s and %s", results_file, report_file)

    _write_summary(run, results, full_report)
    footer = final_footer(context, results.baseline.commit, head_sha)
    budget = COMMENT_MAX_CHARS - len(marker) - len(footer) - COMMENT_RESERVED_CHARS
    body = f"{marker}\n" + render_markdown(
        results, run_url=context.run_url, chart=True, max_chars=budget
    ) + footer  # fmt: skip
    short = f"{marker}\n" + render_markdown(
        results, run_url=context.run_url, chart=False, max_chars=SHORT_COMMENT_CHARS
    ) + footer  # fmt: skip
    if final_comment:
        run.comment.write(body, short_body=short)

    best = best_point(results)
    run.outputs.update(
        {
            "best-experiment": best.name if best else "",
            "best-params": json.dumps(best.swept if best else {}, sort_keys=False),
            "best-metric": _json_value(goal_metric_value(results, best)) if best else "",
            "results-file": str(results_file.resolve()),
            "report-file": str(report_file.resolve()),
        }
    )
    return int(_exit_code(run, results))


def _write_summary(run: _Run, results: SweepResults, full_report: str) -> None:

    # Leave room for a later error section of this step.
    limit = run.summary.remaining - 4096
    text = full_report
    max_chars = len(text)
    while len(text.encode("utf-8")) > limit and max_chars > 0:
        # Multi-byte characters make bytes exceed characters; shrink in proportion.
        max_chars = int(max_chars * limit / len(text.encode("utf-8")) * 0.95)
        text = render_markdown(
            results, run_url=run.context.run_url, chart=True, max_chars=max_chars
        )
    run.summary.append(text)


def _exit_code(run: _Run, results: SweepResults) -> ExitCode:
    if results.interrupted:
        return ExitCode.INTERRUPTED
    failed = [point for point in results.points if point.status != "success"]
    if failed and run.inputs.fail_on_error:
        logger.error(
            "%d of %d points did not succeed; set fail-on-error to 'false' to pass the step "
            "anyway",
            len(failed), len(results.points),
        )  # fmt: skip
        return ExitCode.POINTS_FAILED
    if run.comment.failure is not None and run.inputs.comment == "required":
        logger.error("the pull request comment could not be written, and comment is 'required'")
        return ExitCode.ENVIRONMENT
    return ExitCode.OK


def _fail(
    error: SweepError,
    commands: WorkflowCommands,
    summary: StepSummary,
    *,
    context: RunnerContext | None,
) -> int:
    """Report an error as an annotation and in the job summary, and return its exit code."""
    if not isinstance(error, SpecErrorGroup):
        # Spec errors were annotated one by one, with their places in the file.
        commands.error(str(error), title="dvc-sweep failed")
        run_link = f" ({context.run_url})" if context and context.run_url else ""
        summary.append(f"## dvc-sweep failed{run_link}\n\n{error.message}\n")
        if error.hint:
            summary.append(f"\nHint: {error.hint}\n")
    return int(error.exit_code)


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def run_in_runner(*, verbose: bool = False) -> int:
    """Run the action with the process environment, logging in the runner's format."""
    with workflow_logging(None, verbose=verbose or os.environ.get("RUNNER_DEBUG") == "1"):
        try:
            return run_action(os.environ)
        except KeyboardInterrupt:
            logger.error("interrupted")  # noqa: TRY400  # no traceback for Ctrl-C
            return int(ExitCode.INTERRUPTED)
