"""Time dvc-sweep against the tutorial recipe, DVC's queue and the bare stage commands.

Each contender runs the same grid of the demo pipeline (the project at the repository
root) in its own fresh, committed copy under a temporary directory:

  (a) tutorial: one `dvc exp run --queue -S ...` per point, `dvc exp run --run-all`,
      then `dvc exp show --json`;
  (b) queue:    one `dvc exp run --queue` with DVC's sweep syntax, `dvc queue start -j N`,
      `dvc queue status` every POLL_INTERVAL seconds until nothing is queued or running,
      then `dvc exp show --json`;
  (c) dvc-sweep: `dvc-sweep run --jobs N`;
  (d) floor:    `python scripts/prepare.py` once, then `python scripts/train.py` per point
      in its own directory copy with its params written, N at a time, without DVC.

Contenders alternate within a round (the order rotates from round to round) and the
table shows medians over rounds. After each 6 x 6 dvc-sweep run (or the largest grid
measured), the same sweep runs a second time, when every point is reused.

Measured per run:
- wall time;
- CPU time (user + sys) of every process the run started, from `getrusage(RUSAGE_CHILDREN)`
  deltas, and an estimate of it by kind of process from psutil samples;
- peak memory, the largest sum of RSS over the process tree, sampled every 0.1 s with
  psutil. Shared pages count once per process, so the sum over-counts;
- the CPU time that processes outside the benchmark used on the machine meanwhile, in
  cores, so a noisy run can be recognised.

DVC's queue workers detach with a double fork. This script makes itself a child
subreaper (Linux `prctl(PR_SET_CHILD_SUBREAPER)`) so the detached workers stay its
descendants: they count in the memory samples, and reaping them adds their CPU time to
RUSAGE_CHILDREN. Linux only.

Usage: `python benchmarks/sweep_bench.py` (3 rounds, 3x3 and 6x6, 2 jobs);
`python benchmarks/sweep_bench.py --quick` (3x3, 1 round) while developing.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import itertools
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
from ruamel.yaml import YAML
from tabulate import tabulate

REPO_ROOT = Path(__file__).resolve().parent.parent
# The demo project, as tests/conftest.py copies it.
DEMO_FILES = (
    "params.yaml",
    "dvc.yaml",
    "dvc.lock",
    "metrics.json",
    "scripts",
    ".dvcignore",
    ".gitignore",
    ".dvc/config",
    ".dvc/.gitignore",
    "data/.gitignore",
)
GRIDS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "3x3": ((25, 50, 100), (2, 8, 32)),
    "6x6": ((10, 25, 50, 100, 150, 200), (2, 4, 8, 16, 32, 64)),
}
CONTENDERS = ("a", "b", "c", "d")
CONTENDER_NAMES = {
    "a": "(a) tutorial recipe",
    "b": "(b) DVC queue",
    "c": "(c) dvc-sweep",
    "d": "(d) floor, no DVC",
    "reuse": "(c) second run, all reused",
}
# Seconds between two `dvc queue status` calls of contender (b). Each call imports DVC and
# took about 0.85 core-seconds on the benchmark machine, time the queue's workers lose.
POLL_INTERVAL = 2.0
# Seconds to wait for detached DVC queue workers to exit after a run. DVC 3.67.1 stops an
# idle queue worker after 10 s (`timeout=10` in dvc/repo/experiments/queue/celery.py).
REAP_TIMEOUT = 60.0
SAMPLE_INTERVAL = 0.1
PR_SET_CHILD_SUBREAPER = 36


@dataclass
class Measurement:
    """One timed run of one contender on one grid."""

    contender: str
    grid: str
    round: int
    points: int
    wall: float
    cpu: float
    peak_rss: int
    foreign_cores: float
    load_before: float
    ok: bool
    note: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    # Contender (b) only: `dvc queue status` calls and their CPU time, part of `cpu`.
    polls: int = 0
    poll_cpu: float = 0.0
    # Sampled CPU seconds by process_kind(), an estimate that misses short processes.
    cpu_by_kind: dict[str, float] = field(default_factory=dict)


class BenchError(Exception):
    """A contender failed; the message names the command and its output."""


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    env["DVC_NO_ANALYTICS"] = "1"
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def run(cmd: Sequence[str], cwd: Path) -> str:
    """Run a command, return its standard output, raise BenchError when it fails.

    The output goes to temporary files, not pipes: `dvc queue start` leaves detached
    workers that inherit its standard output, and reading a pipe would wait for them.
    """
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        completed = subprocess.run(
            list(cmd), cwd=cwd, stdout=stdout, stderr=stderr, check=False, env=bench_env()
        )
        stdout.seek(0)
        stderr.seek(0)
        output = stdout.read().decode(errors="replace")
        errors = stderr.read().decode(errors="replace")
    if completed.returncode != 0:
        tail = (output + errors).strip()[-3000:]
        raise BenchError(f"{' '.join(cmd)} exited with {completed.returncode} in {cwd}:\n{tail}")
    return output


def point_key(n_est: object, min_split: object) -> str:
    return f"{n_est}/{min_split}"


def grid_points(grid: str) -> list[tuple[int, int]]:
    n_est, min_split = GRIDS[grid]
    return list(itertools.product(n_est, min_split))


# --- fresh copies of the demo project ---------------------------------------------------


def make_copy(destination: Path, grid: str) -> Path:
    """Copy the demo project to `destination`, add a sweep spec of `grid` and commit."""
    destination.mkdir(parents=True)
    for name in DEMO_FILES:
        source = REPO_ROOT / name
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    n_est, min_split = GRIDS[grid]
    (destination / "sweep.yaml").write_text(
        "name: bench\n"
        "method: grid\n"
        "metric:\n  name: avg_prec\n  goal: maximize\n"
        "parameters:\n"
        f"  train.n_est: {list(n_est)}\n"
        f"  train.min_split: {list(min_split)}\n",
        encoding="utf-8",
    )
    run(["git", "init", "--quiet", "--initial-branch=main"], destination)
    run(["git", "config", "user.name", "dvc-sweep benchmark"], destination)
    run(["git", "config", "user.email", "bench@dvc-sweep.invalid"], destination)
    run(["git", "config", "commit.gpgsign", "false"], destination)
    run(["git", "add", "--all"], destination)
    run(["git", "commit", "--quiet", "--message", "Demo project"], destination)
    return destination


# --- process accounting -----------------------------------------------------------------


def become_subreaper() -> None:
    """Adopt orphaned descendants, such as DVC's detached queue workers."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(error)}")


def reap_children() -> int:
    """Reap every child that has exited; return how many children are still running."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return 0
        if pid == 0:
            return len(psutil.Process().children())


def wait_for_descendants(timeout: float) -> None:
    """Reap descendants until none is left, then kill the ones still running by pid."""
    deadline = time.monotonic() + timeout
    while reap_children() and time.monotonic() < deadline:
        time.sleep(0.2)
    leftovers = psutil.Process().children(recursive=True)
    for process in leftovers:
        with contextlib.suppress(psutil.NoSuchProcess):
            print(f"  killing leftover process {process.pid}: {process.cmdline()}")
            process.kill()
    if leftovers:
        time.sleep(0.5)
        reap_children()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> float:
    """Return the CPU time all processes on the machine have used so far, in seconds."""
    times = psutil.cpu_times()
    busy: float = times.user + times.nice + times.system + times.irq + times.softirq
    return busy


def process_kind(process: psutil.Process) -> str:
    """Name the role of a process in a run from its command line, for the CPU breakdown."""
    words = process.cmdline()
    text = " ".join(words)
    programs = {Path(word).name for word in words[:2]}
    if "dvc-sweep" in programs:
        return "dvc-sweep command"
    for marker, kind in (
        ("scripts/train.py", "stage train.py"),
        ("scripts/prepare.py", "stage prepare.py"),
        ("dvc_sweep._worker", "dvc-sweep worker"),
        ("exp exec-run", "dvc exp exec-run"),
        ("exp queue-worker", "dvc exp queue-worker"),
        ("queue status", "dvc queue status"),
        ("exp show", "dvc exp show"),
        ("exp run", "dvc exp run"),
    ):
        if marker in text:
            return kind
    if words and Path(words[0]).name == "git":
        return "git"
    if words and "dvc" in text:
        return "dvc, other"
    return "other"


class MemorySampler:
    """Sample the summed RSS of this process's descendants in a background thread.

    It also keeps the last CPU time (user + sys) seen for each descendant, by
    `process_kind`. A process's CPU time after its last sample is missed, up to
    SAMPLE_INTERVAL each, so the breakdown is an estimate, lower than the total.
    """

    def __init__(self) -> None:
        self.peak = 0
        self._cpu_by_pid: dict[tuple[int, float], tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in me.children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    total += process.memory_info().rss
                    key = (process.pid, process.create_time())
                    kind = self._cpu_by_pid.get(key, ("", 0.0))[0] or process_kind(process)
                    times = process.cpu_times()
                    self._cpu_by_pid[key] = (kind, times.user + times.system)
            self.peak = max(self.peak, total)
            self._stop.wait(SAMPLE_INTERVAL)

    def cpu_by_kind(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for kind, seconds in self._cpu_by_pid.values():
            totals[kind] = totals.get(kind, 0.0) + seconds
        return {kind: round(seconds, 2) for kind, seconds in sorted(totals.items())}


@contextlib.contextmanager
def measured(record: dict[str, float], breakdown: dict[str, float]) -> Iterator[None]:
    """Fill `record` with wall, cpu, peak_rss and foreign_cores of the enclosed work.

    `breakdown` receives the sampled CPU seconds by kind of process.

    The wall time ends when the block ends. CPU time also counts descendants that are
    still running then (DVC's idle queue workers), after they exit.
    """
    reap_children()
    cpu_before = children_cpu()
    busy_before = machine_busy()
    record["load_before"] = os.getloadavg()[0]
    with MemorySampler() as sampler:
        started = time.monotonic()
        try:
            yield
        finally:
            record["wall"] = time.monotonic() - started
            busy_after = machine_busy()
            wait_for_descendants(REAP_TIMEOUT)
    record["cpu"] = children_cpu() - cpu_before
    record["peak_rss"] = sampler.peak
    breakdown.update(sampler.cpu_by_kind())
    # Descendants' CPU time counts only once they are reaped, which for DVC's detached
    # queue workers is after the block. Their CPU time after the block (idle, and
    # shutting down) makes this estimate of other processes' load slightly low.
    foreign = (busy_after - busy_before) - record["cpu"]
    record["foreign_cores"] = max(0.0, foreign) / record["wall"]


# --- the contenders ---------------------------------------------------------------------


def exp_show_metrics(repo: Path) -> dict[str, float]:
    """Return avg_prec of every experiment in `dvc exp show --json`, by point key."""
    data = json.loads(run(["dvc", "exp", "show", "--json"], repo))
    found: dict[str, float] = {}
    for record in data:
        for experiment in record.get("experiments") or []:
            for rev in experiment.get("revs") or []:
                files = (rev.get("data") or {}).get("metrics") or {}
                params = ((rev.get("data") or {}).get("params") or {}).get("params.yaml") or {}
                train = (params.get("data") or {}).get("train") or {}
                metrics = (files.get("metrics.json") or {}).get("data") or {}
                if "avg_prec" in metrics:
                    key = point_key(train.get("n_est"), train.get("min_split"))
                    found[key] = metrics["avg_prec"]
    return found


def run_tutorial(repo: Path, grid: str, _jobs: int, _stats: dict[str, float]) -> dict[str, float]:
    for n_est, min_split in grid_points(grid):
        run(
            [
                "dvc",
                "exp",
                "run",
                "--queue",
                "-S",
                f"train.n_est={n_est}",
                "-S",
                f"train.min_split={min_split}",
            ],
            repo,
        )
    run(["dvc", "exp", "run", "--run-all"], repo)
    return exp_show_metrics(repo)


def queue_busy(status: str) -> bool:
    """Tell from `dvc queue status` output whether a task is still queued or running."""
    for line in status.splitlines():
        words = line.split()
        if words and words[-1] in ("Queued", "Running"):
            return True
    return False


def run_queue(repo: Path, grid: str, jobs: int, stats: dict[str, float]) -> dict[str, float]:
    n_est, min_split = GRIDS[grid]
    run(
        [
            "dvc",
            "exp",
            "run",
            "--queue",
            "-S",
            "train.n_est=" + ",".join(map(str, n_est)),
            "-S",
            "train.min_split=" + ",".join(map(str, min_split)),
        ],
        repo,
    )
    run(["dvc", "queue", "start", "-j", str(jobs)], repo)
    while True:
        time.sleep(POLL_INTERVAL)
        # Adopted queue workers that exit become zombies until reaped here; no other
        # child is running between two `run` calls, so waitpid(-1) steals nothing.
        reap_children()
        cpu_before = children_cpu()
        status = run(["dvc", "queue", "status"], repo)
        stats["polls"] = stats.get("polls", 0) + 1
        stats["poll_cpu"] = stats.get("poll_cpu", 0.0) + children_cpu() - cpu_before
        if not queue_busy(status):
            break
    return exp_show_metrics(repo)


def run_dvc_sweep(repo: Path, _grid: str, jobs: int, _stats: dict[str, float]) -> dict[str, float]:
    run(["dvc-sweep", "run", "--jobs", str(jobs), "sweep.yaml"], repo)
    return dvc_sweep_metrics(repo)


def dvc_sweep_metrics(repo: Path) -> dict[str, float]:
    data = json.loads((repo / "sweep-results.json").read_text(encoding="utf-8"))
    found: dict[str, float] = {}
    for point in data["points"]:
        metrics = (point.get("metrics") or {}).get("metrics.json") or {}
        if point.get("status") == "success" and "avg_prec" in metrics:
            swept = point["swept"]
            found[point_key(swept["train.n_est"], swept["train.min_split"])] = metrics["avg_prec"]
    return found


def run_floor(repo: Path, grid: str, jobs: int, _stats: dict[str, float]) -> dict[str, float]:
    run(["python", "scripts/prepare.py"], repo)
    yaml = YAML(typ="rt")
    params = yaml.load(repo / "params.yaml")
    points = grid_points(grid)
    directories: list[Path] = []
    for index, (n_est, min_split) in enumerate(points, start=1):
        directory = repo / "points" / str(index)
        shutil.copytree(repo / "scripts", directory / "scripts")
        shutil.copytree(repo / "data" / "prepared", directory / "data" / "prepared")
        params["train"]["n_est"] = n_est
        params["train"]["min_split"] = min_split
        with (directory / "params.yaml").open("w", encoding="utf-8") as handle:
            yaml.dump(params, handle)
        directories.append(directory)

    pending = list(directories)
    running: list[tuple[subprocess.Popen[bytes], Path]] = []
    while pending or running:
        while pending and len(running) < jobs:
            directory = pending.pop(0)
            process = subprocess.Popen(
                ["python", "scripts/train.py"],
                cwd=directory,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=bench_env(),
            )
            running.append((process, directory))
        # Wait for whichever process ends first, so the next one starts at once.
        while all(entry[0].poll() is None for entry in running):
            time.sleep(0.01)
        for entry in list(running):
            process, directory = entry
            if process.poll() is not None:
                running.remove(entry)
                if process.returncode != 0:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    raise BenchError(f"train.py failed in {directory}: {stderr[-2000:]}")
                if process.stderr:
                    process.stderr.close()

    found: dict[str, float] = {}
    for (n_est, min_split), directory in zip(points, directories, strict=True):
        metrics = json.loads((directory / "metrics.json").read_text(encoding="utf-8"))
        found[point_key(n_est, min_split)] = metrics["avg_prec"]
    return found


Runner = Callable[[Path, str, int, dict[str, float]], dict[str, float]]
RUNNERS: dict[str, Runner] = {
    "a": run_tutorial,
    "b": run_queue,
    "c": run_dvc_sweep,
    "d": run_floor,
}


def measure(
    *,
    contender: str,
    grid: str,
    round_number: int,
    repo: Path,
    jobs: int,
    runner: Runner,
) -> Measurement:
    record: dict[str, float] = {}
    note = ""
    metrics: dict[str, float] = {}
    stats: dict[str, float] = {}
    breakdown: dict[str, float] = {}
    try:
        with measured(record, breakdown):
            metrics = runner(repo, grid, jobs, stats)
    except BenchError as error:
        note = str(error)
    expected = len(grid_points(grid))
    ok = not note and len(metrics) == expected
    if not note and not ok:
        note = f"{len(metrics)} of {expected} experiments have metrics"
    return Measurement(
        contender=contender,
        grid=grid,
        round=round_number,
        points=expected,
        wall=record.get("wall", float("nan")),
        cpu=record.get("cpu", float("nan")),
        peak_rss=int(record.get("peak_rss", 0)),
        foreign_cores=record.get("foreign_cores", float("nan")),
        load_before=record.get("load_before", float("nan")),
        ok=ok,
        note=note,
        metrics=metrics,
        polls=int(stats.get("polls", 0)),
        poll_cpu=stats.get("poll_cpu", 0.0),
        cpu_by_kind=breakdown,
    )


# --- the report -------------------------------------------------------------------------


def median_of(measurements: list[Measurement], attribute: str) -> float:
    values = [getattr(m, attribute) for m in measurements if m.ok]
    return statistics.median(values) if values else float("nan")


def summary_rows(measurements: list[Measurement], grids: Sequence[str]) -> list[list[str]]:
    rows: list[list[str]] = []
    for grid in grids:
        by_contender: dict[str, list[Measurement]] = {}
        for m in measurements:
            if m.grid == grid:
                by_contender.setdefault(m.contender, []).append(m)
        floor_wall = median_of(by_contender.get("d", []), "wall")
        floor_cpu = median_of(by_contender.get("d", []), "cpu")
        tutorial_wall = median_of(by_contender.get("a", []), "wall")
        for contender in (*CONTENDERS, "reuse"):
            runs = by_contender.get(contender)
            if not runs:
                continue
            wall = median_of(runs, "wall")
            cpu = median_of(runs, "cpu")
            points = runs[0].points
            overhead = (cpu - floor_cpu) / points if contender != "reuse" else cpu
            rows.append(
                [
                    grid,
                    CONTENDER_NAMES[contender],
                    f"{sum(m.ok for m in runs)}/{len(runs)}",
                    f"{wall:.1f}",
                    " ".join(f"{m.wall:.1f}" for m in runs),
                    f"{wall / floor_wall:.2f}",
                    f"{wall / tutorial_wall:.2f}",
                    f"{cpu:.1f}",
                    f"{cpu / floor_cpu:.2f}",
                    f"{overhead:.2f}" if contender != "reuse" else f"({cpu:.1f} total)",
                    f"{median_of(runs, 'peak_rss') / 2**20:.0f}",
                    f"{median_of(runs, 'foreign_cores'):.2f}",
                ]
            )
    return rows


HEADERS = [
    "grid",
    "contender",
    "ok runs",
    "wall s (median)",
    "wall s (each round)",
    "x floor (d)",
    "x tutorial (a)",
    "CPU s",
    "CPU x floor",
    "overhead core-s / exp",
    "peak RSS MiB",
    "other load, cores",
]


def check_metrics(measurements: list[Measurement]) -> list[str]:
    """Compare every contender's avg_prec per point with the floor's of the same round."""
    problems: list[str] = []
    floors = {(m.grid, m.round): m.metrics for m in measurements if m.contender == "d" and m.ok}
    for m in measurements:
        floor = floors.get((m.grid, m.round))
        if m.contender == "d" or not m.ok or floor is None:
            continue
        differing = sorted(key for key in floor if m.metrics.get(key) != floor[key])
        if differing:
            problems.append(
                f"{m.contender} {m.grid} round {m.round}: avg_prec differs from the floor "
                f"at n_est/min_split {', '.join(differing[:5])}"
            )
    return problems


def targets(measurements: list[Measurement], grids: Sequence[str]) -> list[list[str]]:
    rows: list[list[str]] = []

    def wall(contender: str, grid: str) -> float:
        runs = [m for m in measurements if m.contender == contender and m.grid == grid]
        return median_of(runs, "wall")

    for grid in grids:
        sweep = wall("c", grid)
        for other, limit in (("a", 0.25), ("b", 0.5), ("d", 1.5)):
            if other == "d" and grid != "6x6":
                continue
            ratio = sweep / wall(other, grid)
            if math.isnan(ratio):
                continue
            verdict = "met" if ratio <= limit else "missed"
            rows.append(
                [f"{grid}: (c) / {CONTENDER_NAMES[other]}", f"<= {limit}", f"{ratio:.2f}", verdict]
            )
    reuse = wall("reuse", grids[-1])
    if not math.isnan(reuse):
        verdict = "met" if reuse < 5 else "missed"
        rows.append([f"{grids[-1]}: second run, all reused", "< 5 s", f"{reuse:.1f} s", verdict])
    return rows


def machine_description() -> dict[str, Any]:
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    dvc_version = run(["dvc", "--version"], REPO_ROOT).strip()
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "dvc": dvc_version,
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# --- main -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time dvc-sweep against the tutorial recipe, DVC's queue and the bare "
        "stage commands on the demo pipeline, and print the side-by-side table.",
    )
    parser.add_argument(
        "--grids",
        default="3x3,6x6",
        help=f"comma-separated grids to run, from {', '.join(GRIDS)} (default: 3x3,6x6)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per grid (default: 3)")
    parser.add_argument("--jobs", type=int, default=2, help="experiments at a time (default: 2)")
    parser.add_argument(
        "--contenders",
        default="abcd",
        help="which contenders to run, as letters (default: abcd)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3x3 grid, 1 round: for checking the script, not for numbers",
    )
    parser.add_argument(
        "--no-reuse",
        action="store_true",
        help="skip the second dvc-sweep run that measures reuse",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write every measurement and the machine description to this JSON file",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where to create the copies (default: a new directory under the system temp dir)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the copies after measuring")
    parser.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="print the tables of a file written by --json instead of measuring",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.grids = "3x3"
        args.rounds = 1
    args.grid_list = [grid.strip() for grid in args.grids.split(",") if grid.strip()]
    unknown = [grid for grid in args.grid_list if grid not in GRIDS]
    if unknown:
        parser.error(f"unknown grid {unknown[0]!r}: choose from {', '.join(GRIDS)}")
    bad = set(args.contenders) - set(CONTENDERS)
    if bad:
        parser.error(f"unknown contender {sorted(bad)[0]!r}: choose letters from abcd")
    if args.rounds < 1 or args.jobs < 1:
        parser.error("--rounds and --jobs must be at least 1")
    return args


def cpu_breakdown_rows(measurements: list[Measurement], grids: Sequence[str]) -> list[list[str]]:
    rows: list[list[str]] = []
    for grid in grids:
        for contender in (*CONTENDERS, "reuse"):
            runs = [
                m
                for m in measurements
                if m.grid == grid and m.contender == contender and m.ok and m.cpu_by_kind
            ]
            kinds = sorted({kind for m in runs for kind in m.cpu_by_kind})
            medians = {
                kind: statistics.median(m.cpu_by_kind.get(kind, 0.0) for m in runs)
                for kind in kinds
            }
            parts = [
                f"{kind} {seconds:.1f}"
                for kind, seconds in sorted(medians.items(), key=lambda item: -item[1])
                if seconds >= 0.05
            ]
            if parts:
                rows.append([grid, CONTENDER_NAMES[contender], ", ".join(parts)])
    return rows


def print_tables(measurements: list[Measurement], grids: Sequence[str]) -> list[str]:
    """Print the summary and the targets; return the metric mismatches found."""
    print(tabulate(summary_rows(measurements, grids), headers=HEADERS, tablefmt="github"))
    print()
    print(
        tabulate(
            targets(measurements, grids),
            headers=["target", "limit", "measured", ""],
            tablefmt="github",
        )
    )
    breakdown_rows = cpu_breakdown_rows(measurements, grids)
    if breakdown_rows:
        print()
        print("CPU seconds by kind of process, sampled every 0.1 s (median over rounds):")
        print(tabulate(breakdown_rows, headers=["grid", "contender", "CPU s by process kind"]))
    for grid in grids:
        polled = [
            m for m in measurements if m.contender == "b" and m.grid == grid and m.ok and m.polls
        ]
        if polled:
            print(
                f"{grid}: (b) called `dvc queue status` {median_of(polled, 'polls'):.0f} times "
                f"(median), using {median_of(polled, 'poll_cpu'):.1f} core-s of its CPU time"
            )
    problems = check_metrics(measurements)
    for problem in problems:
        print(f"warning: {problem}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json is not None:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        print(f"machine: {saved['machine']}")
        print(f"jobs = {saved['jobs']}, {saved['rounds']} round(s), medians over rounds")
        print_tables([Measurement(**m) for m in saved["measurements"]], saved["grids"])
        return 0
    become_subreaper()
    machine = machine_description()
    print(
        f"machine: {machine['nproc']} CPUs ({machine['cpu_model']}), "
        f"{machine['memory_gib']} GiB, Python {machine['python']}, DVC {machine['dvc']}, "
        f"load average {machine['load_average_at_start']}"
    )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dvc-sweep-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    order = [c for c in CONTENDERS if c in args.contenders]
    reuse_grid = args.grid_list[-1]
    measurements: list[Measurement] = []
    started = time.monotonic()
    try:
        for round_number in range(1, args.rounds + 1):
            shift = (round_number - 1) % len(order)
            rotated = order[shift:] + order[:shift]
            for grid in args.grid_list:
                for contender in rotated:
                    repo = make_copy(workdir / f"r{round_number}-{grid}-{contender}", grid)
                    m = measure(
                        contender=contender,
                        grid=grid,
                        round_number=round_number,
                        repo=repo,
                        jobs=args.jobs,
                        runner=RUNNERS[contender],
                    )
                    measurements.append(m)
                    print(
                        f"round {round_number} {grid} {CONTENDER_NAMES[contender]}: "
                        f"{m.wall:.1f} s wall, {m.cpu:.1f} s CPU, "
                        f"{m.peak_rss / 2**20:.0f} MiB, other load {m.foreign_cores:.2f} cores"
                        + ("" if m.ok else f"  FAILED: {m.note}"),
                        flush=True,
                    )
                    if contender == "c" and grid == reuse_grid and not args.no_reuse and m.ok:
                        again = measure(
                            contender="reuse",
                            grid=grid,
                            round_number=round_number,
                            repo=repo,
                            jobs=args.jobs,
                            runner=run_dvc_sweep,
                        )
                        measurements.append(again)
                        print(
                            f"round {round_number} {grid} {CONTENDER_NAMES['reuse']}: "
                            f"{again.wall:.1f} s wall, {again.cpu:.1f} s CPU"
                            + ("" if again.ok else f"  FAILED: {again.note}"),
                            flush=True,
                        )
                    if not args.keep:
                        shutil.rmtree(repo, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(
        f"jobs = {args.jobs}, {args.rounds} round(s), medians over rounds; "
        f"{time.monotonic() - started:.0f} s in all"
    )
    problems = print_tables(measurements, args.grid_list)
    if args.json is not None:
        data = {
            "machine": machine,
            "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
            "jobs": args.jobs,
            "rounds": args.rounds,
            "grids": args.grid_list,
            "measurements": [asdict(m) for m in measurements],
        }
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    failed = [m for m in measurements if not m.ok]
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
