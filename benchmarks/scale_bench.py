"""Time how dvc-sweep's own work grows with the size of a sweep.

Three measurements, each the median of several repeats:

1. Planning 10,000 points: `load_spec` + `plan_points` in-process, and the
   `dvc-sweep plan` command (with and without `--json`), for a 100 x 100 grid and for
   random search drawing 10,000 points.
2. Reporting 10,000 points from a results file: `read_results` + `render_markdown`
   in-process, and the `dvc-sweep report` command, on a synthetic results file in which
   1 % of the points failed with a log tail.
3. Collecting from a repository holding 100, 250 and 500 experiments of one baseline
   commit: `dvc_sweep.dvc.experiment_refs`, `dvc_sweep.dvc.exp_show` (one
   `dvc exp show --json`), and a second `dvc-sweep run` of a spec whose points are all
   those experiments, so every point is reused and only the reuse check, the collection
   and the report run. A `dvc` shim on PATH counts how often that run calls DVC.

The experiments are not run: each is a commit made with `git fast-import` on top of the
baseline, with params.yaml and metrics.json changed, under
`refs/exps/<baseline[:2]>/<baseline[2:]>/<name>`, the ref layout DVC 3 reads. Their
dvc.lock is the baseline's, which `dvc exp show` does not check.

Usage: `python benchmarks/scale_bench.py` (about two minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from tabulate import tabulate

from dvc_sweep import dvc
from dvc_sweep.plan import plan_points
from dvc_sweep.report import render_markdown
from dvc_sweep.results import (
    SCHEMA_VERSION,
    Baseline,
    PointResult,
    SweepResults,
    read_results,
    write_results,
)
from dvc_sweep.spec import load_spec
from sweep_bench import bench_env, make_copy, run

GRID_SPEC = textwrap.dedent(
    """\
    name: big
    method: grid
    max_experiments: 10000
    metric:
      name: avg_prec
      goal: maximize
    parameters:
      train.n_est: {n_est}
      train.min_split: {min_split}
    """
)
RANDOM_SPEC = textwrap.dedent(
    """\
    name: big
    method: random
    max_experiments: 10000
    seed: 7
    metric:
      name: avg_prec
      goal: maximize
    parameters:
      train.n_est:
        distribution: int_uniform
        min: 10
        max: 100000
      train.min_split:
        distribution: int_uniform
        min: 2
        max: 100000
    """
)
EXPERIMENT_COUNTS = (100, 250, 500)
# The grid of the synthetic experiments: 20 values of n_est times 25 of min_split, 500 points.
EXPERIMENT_GRID = (list(range(10, 210, 10)), list(range(2, 27)))
LIMIT_SECONDS = 2.0
COMMITTER = "dvc-sweep benchmark <bench@dvc-sweep.invalid> 1700000000 +0000"


@dataclass(frozen=True)
class Timing:
    """Median wall time and median CPU time (user + sys, children included), in seconds."""

    wall: float
    cpu: float


def cpu_seconds() -> float:
    """Return the user + sys CPU time of this process and its reaped children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(function: Callable[[], object], repeats: int) -> tuple[Timing, object]:
    """Return the median wall and CPU times of `repeats` calls and the last call's value."""
    walls: list[float] = []
    cpus: list[float] = []
    value: object = None
    for _ in range(repeats):
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        value = function()
        walls.append(time.perf_counter() - started)
        cpus.append(cpu_seconds() - cpu_before)
    return Timing(statistics.median(walls), statistics.median(cpus)), value


def command(cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Callable[[], str]:
    def call() -> str:
        completed = subprocess.run(
            list(cmd), cwd=cwd, capture_output=True, text=True, check=False, env=env or bench_env()
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} exited with {completed.returncode}: {completed.stderr[-2000:]}"
            )
        return completed.stdout

    return call


# --- 1. planning ------------------------------------------------------------------------


def bench_plan(workdir: Path, repeats: int) -> list[list[Any]]:
    repo = make_copy(workdir / "plan", "3x3")
    n_est = list(range(1, 101))
    min_split = list(range(2, 102))
    specs = {
        "grid 100 x 100": GRID_SPEC.format(n_est=n_est, min_split=min_split),
        "random, 10,000 draws": RANDOM_SPEC,
    }
    rows: list[list[Any]] = []
    for label, text in specs.items():
        path = repo / "big.yaml"
        path.write_text(text, encoding="utf-8")

        def plan(path: Path = path) -> int:
            return len(plan_points(load_spec(path, repo_root=repo)))

        timing, count = timed(plan, repeats)
        rows.append([f"plan, {label}, in-process", str(count), timing])
        for extra in ([], ["--json"]):
            timing, output = timed(command(["dvc-sweep", "plan", *extra, "big.yaml"], repo), 3)
            assert isinstance(output, str)  # noqa: S101  # command() returns the output
            name = "dvc-sweep plan" + (" --json" if extra else "")
            rows.append([f"{name}, {label}", f"{len(output) // 1024} KiB out", timing])
    return rows


# --- 2. reporting -----------------------------------------------------------------------


def synthetic_results(count: int) -> SweepResults:
    """Return results of `count` points of a grid, 1 % of them failed with a log tail."""
    rng = random.Random(3)
    baseline_params = {
        "params.yaml": {
            "prepare": {"test_size": 0.25, "seed": 20},
            "train": {"n_est": 100, "min_split": 8, "seed": 42},
        }
    }
    points: list[PointResult] = []
    for index in range(1, count + 1):
        n_est, min_split = 1 + (index - 1) // 100, 2 + (index - 1) % 100
        point = PointResult(
            index=index,
            name=f"big-{index}",
            status="success",
            swept={"train.n_est": n_est, "train.min_split": min_split},
            overrides=[f"train.n_est={n_est}", f"train.min_split={min_split}"],
            rev=f"{rng.getrandbits(160):040x}",
            params={
                "params.yaml": {
                    "prepare": {"test_size": 0.25, "seed": 20},
                    "train": {"n_est": n_est, "min_split": min_split, "seed": 42},
                }
            },
            metrics={
                "metrics.json": {
                    "avg_prec": round(rng.uniform(0.9, 1.0), 6),
                    "roc_auc": round(rng.uniform(0.9, 1.0), 6),
                }
            },
            duration=round(rng.uniform(1.0, 3.0), 3),
        )
        if index % 100 == 0:
            point.status = "failed"
            point.metrics = {}
            point.exit_status = 1
            point.error = "failed to reproduce 'train': exited with 1"
            point.log_tail = "\n".join(f"log line {line} of {point.name}" for line in range(60))
            point.log_path = f".dvc/tmp/dvc-sweep/logs/big/{point.name}.log"
        points.append(point)
    return SweepResults(
        schema_version=SCHEMA_VERSION,
        spec={"name": "big", "method": "grid", "metric": {"name": "avg_prec", "goal": "maximize"}},
        baseline=Baseline(
            commit="0" * 40,
            params=baseline_params,
            metrics={"metrics.json": {"avg_prec": 0.98, "roc_auc": 0.98}},
            source="commit",
        ),
        points=points,
        started_at="2024-01-01T00:00:00+00:00",
        finished_at="2024-01-01T01:00:00+00:00",
        wall_time=3600.0,
        jobs=2,
    )


def bench_report(workdir: Path, repeats: int) -> list[list[Any]]:
    path = workdir / "report" / "sweep-results.json"
    path.parent.mkdir(parents=True)
    write_results(synthetic_results(10_000), path)
    size = f"{path.stat().st_size // 1024} KiB file"
    rows: list[list[Any]] = []
    timing, results = timed(lambda: read_results(path), repeats)
    rows.append(["read_results, 10,000 points", size, timing])
    assert isinstance(results, SweepResults)  # noqa: S101  # read_results returns it
    timing, text = timed(lambda: render_markdown(results), repeats)
    rows.append(["render_markdown, 10,000 points", f"{len(str(text)) // 1024} KiB out", timing])
    for extra in ([], ["--max-rows", "20"], ["--format", "json"]):
        run_report = command(["dvc-sweep", "report", *extra, str(path)], path.parent)
        timing, output = timed(run_report, 3)
        name = " ".join(["dvc-sweep report", *extra])
        rows.append([f"{name}, 10,000 points", f"{len(str(output)) // 1024} KiB out", timing])
    return rows


# --- 3. collecting from many experiments ------------------------------------------------


def fast_import_stream(repo: Path, baseline: str, start: int, stop: int) -> bytes:
    """Return a `git fast-import` stream that adds experiments `start`..`stop - 1`."""
    spec = load_spec(repo / "sweep.yaml", repo_root=repo)
    points = plan_points(spec)[start:stop]
    yaml = YAML(typ="rt")
    params = yaml.load(repo / "params.yaml")
    rng = random.Random(start)
    prefix = dvc.experiment_ref_prefix(baseline)
    stream = io.BytesIO()

    def data(payload: bytes) -> None:
        stream.write(b"data %d\n" % len(payload) + payload + b"\n")

    for point in points:
        params["train"]["n_est"] = point.params["train.n_est"]
        params["train"]["min_split"] = point.params["train.min_split"]
        text = io.StringIO()
        yaml.dump(params, text)
        metrics = {"avg_prec": round(rng.uniform(0.9, 1.0), 6), "roc_auc": 0.98}
        stream.write(f"commit {prefix}{point.name}\ncommitter {COMMITTER}\n".encode())
        data(f"dvc: commit experiment {point.name}".encode())
        stream.write(f"from {baseline}\n".encode())
        stream.write(b"M 100644 inline params.yaml\n")
        data(text.getvalue().encode())
        stream.write(b"M 100644 inline metrics.json\n")
        data((json.dumps(metrics) + "\n").encode())
    return stream.getvalue()


def dvc_shim(directory: Path, log: Path) -> dict[str, str]:
    """Create a `dvc` wrapper that logs each call, and return an environment with it on PATH."""
    real = shutil.which("dvc")
    if real is None:
        raise RuntimeError("dvc was not found on PATH")
    directory.mkdir(parents=True)
    shim = directory / "dvc"
    shim.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env = bench_env()
    env["PATH"] = f"{directory}{os.pathsep}{env['PATH']}"
    return env


def bench_collect(workdir: Path, repeats: int, counts: Sequence[int]) -> list[list[Any]]:
    repo = make_copy(workdir / "collect", "3x3")
    n_est, min_split = EXPERIMENT_GRID
    (repo / "sweep.yaml").write_text(
        GRID_SPEC.format(n_est=n_est, min_split=min_split), encoding="utf-8"
    )
    run(["git", "commit", "--quiet", "--all", "--message", "Grid of 500 points"], repo)
    baseline = dvc.head_commit(repo)
    shim_log = workdir / "dvc-calls.log"
    shim_env = dvc_shim(workdir / "shim", shim_log)

    rows: list[list[Any]] = []
    existing = 0
    for count in counts:
        stream = fast_import_stream(repo, baseline, existing, count)
        subprocess.run(
            ["git", "fast-import", "--quiet"], cwd=repo, input=stream, check=True, env=bench_env()
        )
        existing = count
        label = f"{count} experiments"

        timing, refs = timed(lambda: dvc.experiment_refs(repo, baseline), repeats)
        assert isinstance(refs, dict)  # noqa: S101  # experiment_refs returns a dict
        rows.append([f"experiment_refs, {label}", f"{len(refs)} refs", timing])

        timing, parsed = timed(lambda: dvc.exp_show(repo, baseline), 3)
        assert isinstance(parsed, dvc.ExpShow)  # noqa: S101  # exp_show returns it
        with_metrics = sum(1 for record in parsed.experiments.values() if record.metrics)
        rows.append([f"exp_show, {label}", f"{with_metrics} with metrics", timing])

        spec_file = repo / f"first-{count}.yaml"
        spec_file.write_text(
            GRID_SPEC.format(n_est=n_est[: count // len(min_split)], min_split=min_split),
            encoding="utf-8",
        )
        shim_log.unlink(missing_ok=True)
        rerun = command(["dvc-sweep", "run", "--jobs", "2", str(spec_file.name)], repo, shim_env)
        timing, _ = timed(rerun, 3)
        calls = len(shim_log.read_text(encoding="utf-8").splitlines()) // 3
        results = json.loads((repo / "sweep-results.json").read_text(encoding="utf-8"))
        reused = sum(1 for point in results["points"] if point.get("reused"))
        rows.append(
            [
                f"dvc-sweep run, all {count} points reused",
                f"{reused} reused, {calls} dvc call(s) per run",
                timing,
            ]
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time planning and reporting 10,000 points, and collecting results "
        "from a repository holding 100 to 500 experiments.",
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="repeats of each in-process step (default: 5)"
    )
    parser.add_argument(
        "--experiments",
        default=",".join(map(str, EXPERIMENT_COUNTS)),
        help="comma-separated, increasing experiment counts to collect from, multiples of "
        f"25 up to 500 (default: {','.join(map(str, EXPERIMENT_COUNTS))})",
    )
    parser.add_argument(
        "--skip-collect",
        action="store_true",
        help="skip the repository of 500 experiments (the slowest part)",
    )
    args = parser.parse_args(argv)
    counts = [int(count) for count in args.experiments.split(",")]
    if any(count % 25 or not 0 < count <= 500 for count in counts) or counts != sorted(counts):
        parser.error("--experiments takes increasing multiples of 25 up to 500")

    workdir = Path(tempfile.mkdtemp(prefix="dvc-sweep-scale-"))
    try:
        rows = bench_plan(workdir, args.repeats) + bench_report(workdir, args.repeats)
        if not args.skip_collect:
            rows += bench_collect(workdir, args.repeats, counts)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"medians; the target for planning and reporting 10,000 points is {LIMIT_SECONDS:g} s; "
        f"load average now {', '.join(f'{load:.2f}' for load in os.getloadavg())}"
    )
    print(
        tabulate(
            [[name, size, f"{t.wall:.2f}", f"{t.cpu:.2f}"] for name, size, t in rows],
            headers=["step", "size", "wall s", "CPU s"],
            tablefmt="github",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
