"""Run a validated sweep spec: reuse finished experiments, run the rest, collect the results."""

from __future__ import annotations

import copy
import datetime
import difflib
import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvc_sweep import dvc
from dvc_sweep.errors import SpecError, SpecErrorGroup
from dvc_sweep.executor import Executor, Outcome, Task
from dvc_sweep.plan import Point, plan_points
from dvc_sweep.results import (
    SCHEMA_VERSION,
    Baseline,
    PointResult,
    Shard,
    SweepResults,
    flatten_file_metrics,
)
from dvc_sweep.spec import SweepSpec

logger = logging.getLogger(__name__)

BASELINE_SUFFIX = "baseline"


@dataclass(frozen=True)
class Progress:
    """A progress report: how many points are finished, and the one that just finished."""

    done: int
    total: int
    point: PointResult | None


def default_log_dir(repo_root: Path, spec: SweepSpec) -> Path:
    """Return where experiment logs go by default: under `.dvc/tmp`, which git ignores."""
    return repo_root / ".dvc" / "tmp" / "dvc-sweep" / "logs" / spec.name


def run_sweep(
    spec: SweepSpec,
    *,
    repo_root: Path,
    jobs: int | None = None,
    log_dir: Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    shard: Shard | None = None,
) -> SweepResults:
    """Run every point of `spec` as a DVC experiment of HEAD and return the results.

    Experiments that already exist for the same baseline commit with the same params are
    reused. With `shard`, only every `shard.count`-th point is run, starting at
    `shard.index`. Only shard 1 runs the baseline when it needs running, and
    `merge_results` combines the shards. KeyboardInterrupt stops the run: finished
    experiments are kept, the others are `not_run`, and the returned results have
    `interrupted` set.
    """
    started_at = datetime.datetime.now(datetime.timezone.utc)
    started = time.monotonic()
    baseline_sha = dvc.head_commit(repo_root)
    jobs = jobs or spec.jobs or os.cpu_count() or 1
    log_dir = log_dir or default_log_dir(repo_root, spec)

    dirty = dvc.uncommitted_files(repo_root)
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        logger.warning(
            "uncommitted changes in %s are not part of the experiments, which run on commit %s; "
            "commit them to include them",
            shown,
            baseline_sha[:7],
        )

    points = plan_points(spec)
    if shard is not None:
        points = [point for point in points if (point.index - 1) % shard.count == shard.index - 1]
    executor = Executor(
        repo_root,
        baseline_sha,
        jobs=max(1, min(jobs, len(points) + 1)),
        timeout=spec.timeout,
        log_dir=log_dir,
    )
    existing_refs = dvc.experiment_refs(repo_root, baseline_sha)
    if not existing_refs:
        # Nothing can be reused, so the workers start at once, and the first one to be
        # ready reads the baseline in-process, which costs less than `dvc exp show`.
        executor.read_baseline = True
        executor.start()
    try:
        shown_before = _read_baseline(executor, repo_root, baseline_sha)
        check_metric(spec, shown_before.baseline.metrics, baseline_sha)
        baseline_needs_run = not shown_before.baseline.metrics and (
            shard is None or shard.index == 1
        )
        plan = _assign(
            spec, points, shown_before, existing_refs, baseline_needs_run=baseline_needs_run
        )
    except BaseException:
        if executor.started:
            executor.abort()
        raise
    total = len(plan.points) + (1 if baseline_needs_run else 0)
    done = sum(1 for point in plan.points if point.reused)
    if baseline_needs_run and plan.baseline_task is None:
        done += 1
    for point in plan.points:
        if point.reused:
            logger.info(
                "%s reused: experiment %s already has these params",
                point.name,
                (point.rev or "")[:7],
            )

    counter = {"done": done}
    baseline_outcomes: list[Outcome] = []

    def report(outcome: Outcome) -> None:
        counter["done"] += 1
        if plan.baseline_task is not None and outcome.task == plan.baseline_task:
            baseline_outcomes.append(outcome)
        result = plan.by_name.get(outcome.task.name)
        if result is not None:
            _apply_outcome(result, outcome)
        _log_outcome(outcome, counter["done"], total, spec)
        if on_progress is not None:
            on_progress(Progress(counter["done"], total, result))

    executor.on_outcome = report
    tasks = plan.tasks
    if tasks and not executor.started:
        executor.jobs = max(1, min(jobs, len(tasks)))
        executor.start()
    if on_progress is not None:
        on_progress(Progress(done, total, None))
    executor.submit(tasks)
    if executor.started:
        executor.finish()
    interrupted = executor.interrupted
    for point in plan.points:
        if point.status == "not_run" and point.error is None and not point.reused:
            point.error = "the sweep was interrupted first"

    # There is no second `dvc exp show`, because it would take as long as a short
    # experiment. Reused points and the baseline come from the first one. New experiments
    # carry the metrics their worker read through DVC, and the params DVC applied, which
    # equal the planned ones.
    _collect(plan.points, shown_before, spec)
    baseline = _baseline(
        shown_before,
        baseline_sha,
        plan.baseline_name,
        baseline_outcomes[0] if baseline_outcomes else None,
    )

    finished_at = datetime.datetime.now(datetime.timezone.utc)
    return SweepResults(
        schema_version=SCHEMA_VERSION,
        spec=spec.to_dict(),
        baseline=baseline,
        points=plan.points,
        started_at=started_at.isoformat(timespec="seconds"),
        finished_at=finished_at.isoformat(timespec="seconds"),
        wall_time=round(time.monotonic() - started, 3),
        jobs=jobs,
        interrupted=interrupted,
        dvc_version=dvc.dvc_version(),
        shard=shard,
    )


def _read_baseline(executor: Executor, repo_root: Path, baseline: str) -> dvc.ExpShow:
    """Return the baseline and its experiments, from a worker when one read it."""
    snapshot = executor.baseline_snapshot()
    if snapshot is None:
        return dvc.exp_show(repo_root, baseline)
    record = dvc.ExperimentRecord(
        name=baseline[:7],
        rev=baseline,
        params=snapshot.get("params") or {},
        metrics=snapshot.get("metrics") or {},
    )
    return dvc.ExpShow(baseline=record, experiments={})


@dataclass
class _Plan:
    points: list[PointResult]
    by_name: dict[str, PointResult]
    tasks: list[Task]
    baseline_task: Task | None
    baseline_name: str | None


def _assign(
    spec: SweepSpec,
    points: list[Point],
    shown: dvc.ExpShow,
    existing_refs: dict[str, str],
    *,
    baseline_needs_run: bool,
) -> _Plan:
    """Match planned points with reusable experiments and name the ones still to run."""
    by_params: dict[str, dvc.ExperimentRecord] = {}
    for candidate in shown.experiments.values():
        if candidate.errors or not candidate.metrics:
            continue
        by_params.setdefault(_params_key(candidate.params), candidate)

    results: list[PointResult] = []
    by_name: dict[str, PointResult] = {}
    tasks: list[Task] = []
    taken = set(existing_refs)
    for point in points:
        expected = expected_params(shown.baseline.params, spec, point.params)
        expected_key = _params_key(expected)
        record: dvc.ExperimentRecord | None = shown.experiments.get(point.name)
        if record is None or _params_key(record.params) != expected_key or not record.metrics:
            record = by_params.get(expected_key)
        result = PointResult(
            index=point.index,
            name=point.name,
            status="not_run",
            swept=dict(point.params),
            overrides=list(point.overrides),
        )
        if record is not None:
            result.name = record.name
            result.rev = record.rev
            result.status = "success"
            result.reused = True
        else:
            name = point.name
            if name in taken:
                digest = hashlib.sha256("\0".join(point.overrides).encode()).hexdigest()[:6]
                name = f"{point.name}-{digest}"
                logger.warning(
                    "experiment %s already exists with other params; naming this point %s",
                    point.name,
                    name,
                )
            taken.add(name)
            result.name = name
            tasks.append(Task(point.index, name, tuple(point.overrides)))
        results.append(result)
        by_name[result.name] = result

    baseline_task: Task | None = None
    baseline_name: str | None = None
    if baseline_needs_run:
        baseline_name = f"{spec.name}-{BASELINE_SUFFIX}"
        baseline_record = shown.experiments.get(baseline_name)
        if baseline_record is None or not baseline_record.metrics:
            baseline_task = Task(0, baseline_name, ())
            tasks.insert(0, baseline_task)
    return _Plan(results, by_name, tasks, baseline_task, baseline_name)


def write_bundle(results: SweepResults, repo_root: Path, path: Path) -> int:
    """Write the finished experiments of `results` to the git bundle `path`.

    An older bundle at `path` is removed first, because a merge would otherwise fetch its
    stale experiments when this run finished none. Returns the number of experiments.
    """
    path.unlink(missing_ok=True)
    names = [point.name for point in results.points if point.status == "success"]
    if results.baseline.name:
        names.append(results.baseline.name)
    count = dvc.bundle_experiments(repo_root, results.baseline.commit, names, path)
    if count:
        logger.info("wrote %d experiments to the bundle %s", count, path)
    else:
        logger.warning("no finished experiments, so no bundle was written to %s", path)
    return count


def check_metric(spec: SweepSpec, metrics: dict[str, dict[str, Any]], commit: str) -> None:
    """Raise SpecErrorGroup when the spec's metric is not among the commit's metrics.

    Only a commit with committed metrics can be checked; without them the metric is
    checked when the report is made.
    """
    if spec.metric is None or not metrics:
        return
    files = {spec.metric.file: metrics.get(spec.metric.file, {})} if spec.metric.file else metrics
    keys = sorted({key for data in metrics.values() for key in flatten_file_metrics(data)})
    if any(spec.metric.name in flatten_file_metrics(data) for data in files.values()):
        return
    where = f" in {spec.metric.file}" if spec.metric.file else ""
    suggestion = difflib.get_close_matches(spec.metric.name, keys, n=1)
    hint = f"did you mean {suggestion[0]!r}? " if suggestion else ""
    hint += f"The metrics of commit {commit[:7]} are: {', '.join(keys)}."
    raise SpecErrorGroup(
        [
            SpecError(
                f"metric {spec.metric.name!r} not found{where} at commit {commit[:7]}",
                file=spec.source,
                line=spec.metric.line,
                column=spec.metric.column,
                hint=hint,
            )
        ]
    )


def expected_params(
    baseline: dict[str, dict[str, Any]], spec: SweepSpec, values: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Return the params files of `baseline` with a point's swept values set, as DVC would.

    `values` maps each parameter's display key to its value, in spec order (`Point.params`).
    """
    params = copy.deepcopy(baseline)
    for parameter, value in zip(spec.parameters, values.values(), strict=True):
        node: Any = params.setdefault(parameter.key.file, {})
        parts = parameter.key.path.split(".")
        for part in parts[:-1]:
            if isinstance(node, list) and part.isdigit():
                node = node[int(part)]
            else:
                node = node.setdefault(part, {})
        last = parts[-1]
        if isinstance(node, list) and last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return params


def _params_key(params: dict[str, dict[str, Any]]) -> str:
    """Return a canonical text for params, in which True and 1, or 1 and 1.0, differ."""
    return repr(_typed(params))


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(key), _typed(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(_typed(item) for item in value)
    return (type(value).__name__, value)


def _apply_outcome(result: PointResult, outcome: Outcome) -> None:
    result.status = outcome.status
    result.rev = outcome.rev
    result.duration = round(outcome.duration, 3) if outcome.duration is not None else None
    result.exit_status = outcome.exit_status
    result.error = outcome.error
    result.log_tail = outcome.log_tail
    result.log_path = str(outcome.log_path) if outcome.log_path is not None else None
    if outcome.metrics:
        result.metrics = outcome.metrics


def _log_outcome(outcome: Outcome, done: int, total: int, spec: SweepSpec) -> None:
    seconds = f"{outcome.duration:.1f} s" if outcome.duration is not None else "-"
    if outcome.status == "success":
        logger.info(
            "[%d/%d] %s succeeded%s (%s)",
            done,
            total,
            outcome.task.name,
            _metric_text(outcome.metrics, spec),
            seconds,
        )
    else:
        logger.warning(
            "[%d/%d] %s %s (%s): %s",
            done,
            total,
            outcome.task.name,
            outcome.status.replace("_", " "),
            seconds,
            outcome.error,
        )


def _metric_text(metrics: dict[str, Any], spec: SweepSpec) -> str:
    if spec.metric is None:
        return ""
    for path, data in metrics.items():
        if spec.metric.file is not None and path != spec.metric.file:
            continue
        value: Any = data
        for part in spec.metric.name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, float):
            return f", {spec.metric.name}={value:.6g}"
        if value is not None:
            return f", {spec.metric.name}={value}"
    return ""


def _collect(points: list[PointResult], shown: dvc.ExpShow, spec: SweepSpec) -> None:
    """Fill in the params and metrics of every successful point."""
    for point in points:
        if point.status != "success":
            continue
        record = shown.experiments.get(point.name) if point.reused else None
        if record is not None:
            point.rev = record.rev
            point.params = record.params
            point.metrics = record.metrics
            if record.errors and point.error is None:
                point.error = "; ".join(record.errors)
        else:
            point.params = expected_params(shown.baseline.params, spec, point.swept)


def _baseline(
    shown: dvc.ExpShow, commit: str, baseline_name: str | None, outcome: Outcome | None
) -> Baseline:
    if shown.baseline.metrics:
        return Baseline(
            commit=commit,
            params=shown.baseline.params,
            metrics=shown.baseline.metrics,
            source="commit",
        )
    if outcome is not None and outcome.status == "success" and outcome.metrics:
        return Baseline(
            commit=commit,
            params=shown.baseline.params,
            metrics=outcome.metrics,
            source="run",
            name=outcome.task.name,
        )
    record = shown.experiments.get(baseline_name) if baseline_name else None
    if record is not None and record.metrics:
        return Baseline(
            commit=commit,
            params=record.params,
            metrics=record.metrics,
            source="run",
            name=record.name,
        )
    return Baseline(commit=commit, params=shown.baseline.params, metrics={}, source="missing")
