"""Run DVC experiments in parallel, each worker in its own clone, losing no outcome.

Each parallel slot gets a `git clone --shared` of the repository at the baseline commit,
with the main repository's DVC cache, and one long-lived worker process in it (see
`dvc_sweep._worker`). A finished experiment's ref is fetched into the main repository at
once, so `dvc exp show`, `dvc exp apply` and a later sweep see it even if this process is
killed afterwards. The executor records every outcome itself: DVC keeps no trace of an
experiment that failed outside its queue.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dvc_sweep.dvc import dvc_environment, git, git_location

logger = logging.getLogger(__name__)

Status = Literal["success", "failed", "timeout", "not_run"]

# Seconds a worker may take to clone, import DVC and configure its cache.
WORKER_START_TIMEOUT = 300.0
# Seconds between SIGTERM and SIGKILL when stopping a worker's process group.
KILL_GRACE = 5.0
LOG_TAIL_LINES = 60
LOG_TAIL_CHARS = 6000


@dataclass(frozen=True)
class Task:
    """One experiment to run: its DVC name and its `-S` overrides."""

    index: int
    name: str
    overrides: tuple[str, ...]


@dataclass
class Outcome:
    """The outcome of one task: its status, experiment commit, timing and log."""

    task: Task
    status: Status
    rev: str | None = None
    duration: float | None = None
    exit_status: int | None = None
    error: str | None = None
    log_path: Path | None = None
    log_tail: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


class WorkerStartError(Exception):
    """A worker process could not be started. The message gives the reason."""


class _Worker:
    """One worker process, its clone and the pipe it replies on."""

    def __init__(self, process: subprocess.Popen[bytes], reply_fd: int, clone: Path) -> None:
        self.process = process
        self.reply_fd = reply_fd
        self.clone = clone
        self._buffer = b""

    def send(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None  # noqa: S101  # started with stdin=PIPE
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()

    def receive(self, deadline: float | None, stop: threading.Event) -> dict[str, Any] | None:
        """Return the next reply, or None when the deadline passed or `stop` was set.

        Raises EOFError when the worker exited without replying.
        """
        while b"\n" not in self._buffer:
            if stop.is_set():
                return None
            wait = 0.2
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                wait = min(wait, remaining)
            ready, _, _ = select.select([self.reply_fd], [], [], wait)
            if not ready:
                continue
            chunk = os.read(self.reply_fd, 65536)
            if not chunk:
                raise EOFError
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message

    def kill(self) -> None:
        """Stop the worker and every process it started (they share its process group)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(KILL_GRACE)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        else:
            # The worker is gone, but a stage it started may still run in its group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.close()

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        with contextlib.suppress(OSError):
            os.close(self.reply_fd)


class Executor:
    """Run tasks `jobs` at a time in worker clones of `repo` at commit `baseline`.

    Call `start()`, then `submit()` any number of times, then `finish()`, which waits for
    every task and returns the outcomes in task order. KeyboardInterrupt while waiting stops
    the workers: tasks that did not finish are returned as `not_run`.
    """

    def __init__(
        self,
        repo: Path,
        baseline: str,
        *,
        jobs: int,
        timeout: float | None,
        log_dir: Path,
        on_outcome: Callable[[Outcome], None] | None = None,
        read_baseline: bool = False,
    ) -> None:
        self.repo = repo
        self.baseline = baseline
        self.jobs = max(1, jobs)
        self.timeout = timeout
        self.log_dir = log_dir
        self.on_outcome = on_outcome
        self.read_baseline = read_baseline
        self.interrupted = False
        self._baseline: dict[str, Any] | None = None
        self._baseline_ready = threading.Event()
        self._failed_starts = 0
        self.started = False
        self._tasks: queue.Queue[Task | None] = queue.Queue()
        self._outcomes: dict[int, Outcome] = {}
        self._submitted: list[Task] = []
        self._stop = threading.Event()
        self._fetch_lock = threading.Lock()
        self._outcome_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._work_dir: Path | None = None
        self._git_root: Path = repo
        self._subdir = ""
        self._generation = 0
        self._generation_lock = threading.Lock()

    def start(self) -> None:
        """Start the worker threads, which clone and start their workers straight away."""
        self.started = True
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._work_dir = Path(tempfile.mkdtemp(prefix="dvc-sweep-"))
        # Every worker, and every restart after a timeout, clones the same work tree.
        self._git_root, self._subdir = git_location(self.repo)
        for slot in range(self.jobs):
            thread = threading.Thread(target=self._serve, args=(slot,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, tasks: Iterable[Task]) -> None:
        """Queue tasks for the workers."""
        for task in tasks:
            self._submitted.append(task)
            self._tasks.put(task)

    def finish(self) -> list[Outcome]:
        """Wait for every submitted task, shut the workers down and return the outcomes."""
        for _ in self._threads:
            self._tasks.put(None)
        try:
            for thread in self._threads:
                while thread.is_alive():
                    thread.join(0.2)
        except KeyboardInterrupt:
            self.interrupted = True
            logger.warning("interrupted: stopping the workers and keeping finished experiments")
            self._stop.set()
            for thread in self._threads:
                thread.join()
        finally:
            if self._work_dir is not None:
                shutil.rmtree(self._work_dir, ignore_errors=True)

        outcomes: list[Outcome] = []
        for task in self._submitted:
            outcome = self._outcomes.get(task.index)
            if outcome is None:
                outcome = Outcome(task, "not_run", error="the sweep was interrupted first")
            outcomes.append(outcome)
        return outcomes

    def baseline_snapshot(self) -> dict[str, Any] | None:
        """Wait for the first worker to start and return the baseline it read.

        Returns `{"params": ..., "metrics": ...}` in the `{file: data}` form, or None when
        `read_baseline` is off or no worker could start.
        """
        if not self.read_baseline or not self.started:
            return None
        while not self._baseline_ready.wait(0.2):
            pass
        return self._baseline

    def abort(self) -> None:
        """Stop the workers without running the queued tasks, and remove their clones."""
        self._stop.set()
        self.finish()

    def _serve(self, slot: int) -> None:
        worker: _Worker | None = None
        start_error: str | None = None
        try:
            try:
                worker = self._start_worker(slot)
            except WorkerStartError as error:
                start_error = str(error)
                logger.error("worker %d could not start: %s", slot, error)  # noqa: TRY400  # no traceback: the message is complete
                with self._generation_lock:
                    self._failed_starts += 1
                    if self._failed_starts == self.jobs:
                        self._baseline_ready.set()

            while not self._stop.is_set():
                task = self._tasks.get()
                if task is None:
                    break
                if start_error is not None:
                    self._record(Outcome(task, "failed", error=f"worker failed: {start_error}"))
                    continue
                assert worker is not None  # noqa: S101  # start_error is set otherwise
                outcome, healthy = self._run_task(worker, task)
                if outcome is not None:
                    self._record(outcome)
                if not healthy:
                    worker.kill()
                    shutil.rmtree(worker.clone, ignore_errors=True)
                    worker = None
                    if self._stop.is_set():
                        break
                    try:
                        worker = self._start_worker(slot)
                    except WorkerStartError as error:
                        start_error = str(error)
                        logger.error("worker %d could not restart: %s", slot, error)  # noqa: TRY400  # the message is complete
        finally:
            if worker is not None:
                if self._stop.is_set():
                    worker.kill()
                else:
                    worker.close()
                    try:
                        worker.process.wait(30)
                    except subprocess.TimeoutExpired:
                        worker.kill()

    def _run_task(self, worker: _Worker, task: Task) -> tuple[Outcome | None, bool]:
        """Run one task; return its outcome (None if interrupted) and whether the worker lives."""
        log_path = self.log_dir / f"{task.name}.log"
        started = time.monotonic()
        deadline = started + self.timeout if self.timeout is not None else None
        try:
            request = {"name": task.name, "overrides": list(task.overrides), "log": str(log_path)}
            worker.send(request)
            reply = worker.receive(deadline, self._stop)
        except (EOFError, BrokenPipeError, OSError):
            duration = time.monotonic() - started
            code = worker.process.poll()
            return (
                Outcome(
                    task,
                    "failed",
                    duration=duration,
                    error=f"the worker process exited unexpectedly (exit status {code})",
                    log_path=log_path,
                    log_tail=read_log_tail(log_path),
                ),
                False,
            )
        duration = time.monotonic() - started
        if reply is None:
            if self._stop.is_set():
                return None, False
            return (
                Outcome(
                    task,
                    "timeout",
                    duration=duration,
                    error=f"timed out after {self.timeout:g} s; its process tree was killed",
                    log_path=log_path,
                    log_tail=None,
                ),
                False,
            )

        if reply.get("status") != "success" and self._stop.is_set():
            # Stopping kills workers and removes their clones, which can make a running
            # experiment fail. Such a point counts as not run, because the stop caused it.
            return None, False
        if reply.get("status") == "success":
            rev = str(reply["rev"])
            self._fetch(worker.clone, str(reply["ref"]))
            return (
                Outcome(
                    task,
                    "success",
                    rev=rev,
                    duration=duration,
                    log_path=log_path,
                    metrics=dict(reply.get("metrics") or {}),
                ),
                True,
            )
        return (
            Outcome(
                task,
                "failed",
                duration=duration,
                exit_status=reply.get("exit_status"),
                error=str(reply.get("error") or "the experiment failed"),
                log_path=log_path,
                log_tail=read_log_tail(log_path),
            ),
            True,
        )

    def _record(self, outcome: Outcome) -> None:
        if outcome.status == "timeout" and outcome.log_path is not None:
            outcome.log_tail = read_log_tail(outcome.log_path)
        with self._outcome_lock:
            self._outcomes[outcome.task.index] = outcome
            if self.on_outcome is not None:
                self.on_outcome(outcome)

    def _fetch(self, clone: Path, ref: str) -> None:
        """Copy one experiment ref and its objects from a worker clone into the main repository."""
        with self._fetch_lock:
            git(self.repo, "fetch", "--quiet", "--no-tags", str(clone), f"+{ref}:{ref}")

    def _start_worker(self, slot: int) -> _Worker:
        assert self._work_dir is not None  # noqa: S101  # set by start()
        with self._generation_lock:
            self._generation += 1
            clone = self._work_dir / f"worker-{slot}-{self._generation}"
        git_root, subdir = self._git_root, self._subdir
        try:
            git(
                self.repo,
                "clone",
                "--quiet",
                "--shared",
                "--no-checkout",
                "--",
                str(git_root),
                str(clone),
            )
            git(clone, "checkout", "--quiet", "--detach", self.baseline)
            local_config = self.repo / ".dvc" / "config.local"
            if local_config.is_file():
                shutil.copy2(local_config, clone / subdir / ".dvc" / "config.local")
        except Exception as error:
            raise WorkerStartError(f"could not clone the repository: {error}") from error

        read_fd, write_fd = os.pipe()
        stderr_path = self._work_dir / f"worker-{slot}-{self._generation}.stderr"
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dvc_sweep._worker",
                    "--main-repo",
                    str(self.repo),
                    "--baseline",
                    self.baseline,
                    "--reply-fd",
                    str(write_fd),
                    *(["--read-baseline"] if self.read_baseline else []),
                ],
                cwd=clone / subdir,
                stdin=subprocess.PIPE,
                stdout=stderr,
                stderr=stderr,
                pass_fds=(write_fd,),
                start_new_session=True,
                env=dvc_environment(),
            )
        os.close(write_fd)
        worker = _Worker(process, read_fd, clone)
        try:
            ready = worker.receive(time.monotonic() + WORKER_START_TIMEOUT, self._stop)
        except EOFError:
            ready = {"ready": False, "error": read_log_tail(stderr_path) or "no output"}
        if ready is None or not ready.get("ready"):
            worker.kill()
            if ready is not None:
                reason = str(ready.get("error"))
            elif self._stop.is_set():
                reason = "the sweep was stopped first"
            else:
                reason = f"timed out after {WORKER_START_TIMEOUT:g} s"
            raise WorkerStartError(f"the worker in {clone} did not start: {reason}")
        if "baseline" in ready and not self._baseline_ready.is_set():
            self._baseline = dict(ready["baseline"])
            self._baseline_ready.set()
        logger.debug("worker %d ready in %s", slot, clone)
        return worker


def read_log_tail(
    path: Path, lines: int = LOG_TAIL_LINES, chars: int = LOG_TAIL_CHARS
) -> str | None:
    """Return the last lines of a log file, or None when there is no log."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - chars * 2))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    tail = "\n".join(text.splitlines()[-lines:])
    return tail[-chars:] if tail else None
