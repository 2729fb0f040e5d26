"""A long-lived worker process that runs DVC experiments in its own clone of the repository.

The executor starts one worker per parallel slot, each in a separate `git clone --shared`
whose DVC cache is the main repository's. Separate clones do not contend for DVC's
repository lock (`.dvc/tmp/lock`), and one Python process per slot pays the cost of
importing DVC once instead of once per experiment.

Protocol: the executor writes one JSON request per line to the worker's standard input,
`{"name": ..., "overrides": [...], "log": PATH}`, and the worker writes one JSON response
per line to the file descriptor named by `--reply-fd`. Standard output and standard error,
which DVC and the stage commands write to, are redirected into the request's log file while
the experiment runs. A first reply `{"ready": true}` means the worker has imported DVC.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

EXIT_STATUS_PATTERN = re.compile(r"exited with (-?\d+)")


@contextlib.contextmanager
def _redirect_output(log_path: Path) -> Iterator[None]:
    """Point file descriptors 1 and 2, and so every child process, at `log_path`."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, log_fd):
            os.close(fd)


def _reset_workspace() -> None:
    """Return the clone's tracked files to HEAD and drop untracked, unignored files.

    DVC leaves an experiment's params and outputs in the workspace after it runs, and
    would fold them into the next experiment. Ignored files, such as the outputs of
    stages that did not change, are kept so DVC can skip those stages.
    """
    subprocess.run(["git", "reset", "--quiet", "--hard", "HEAD"], check=True)
    subprocess.run(["git", "clean", "--quiet", "--force", "-d"], check=True)


def _describe_failure(error: BaseException) -> tuple[str, int | None]:
    """Join the messages of an exception chain and find the stage's exit status in them."""
    messages: list[str] = []
    exit_status: int | None = None
    current: BaseException | None = error
    while current is not None and len(messages) < 8:
        text = str(current).strip() or type(current).__name__
        if text not in messages:
            messages.append(text)
        match = EXIT_STATUS_PATTERN.search(text)
        if match:
            exit_status = int(match.group(1))
        current = current.__cause__ or current.__context__
    return ": ".join(messages), exit_status


def _run_one(request: dict[str, Any], baseline: str) -> dict[str, Any]:
    from dvc.repo import Repo  # noqa: PLC0415  # imported once by main() before any request

    name = str(request["name"])
    overrides = [str(item) for item in request["overrides"]]
    log_path = Path(request["log"])
    log_path.parent.mkdir(parents=True, exist_ok=True)

    with _redirect_output(log_path):
        # The log is the experiment's own output, so the command goes on its first line.
        print(f"$ dvc exp run -n {name} " + " ".join(f"-S {item}" for item in overrides))  # noqa: T201
        try:
            _reset_workspace()
            with Repo(".") as repo:
                result = repo.experiments.run(params=overrides, name=name)
                metrics = _workspace_metrics(repo)
        except Exception as error:  # noqa: BLE001  # any DVC failure is this point's result
            message, exit_status = _describe_failure(error)
            print(f"dvc-sweep: experiment {name} failed: {message}", file=sys.stderr)  # noqa: T201
            return {"status": "failed", "error": message, "exit_status": exit_status}

    revs = list(result or {})
    if not revs:
        return {
            "status": "failed",
            "error": "DVC reported no experiment commit",
            "exit_status": None,
        }
    ref = f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}"
    return {"status": "success", "rev": revs[0], "ref": ref, "metrics": metrics}


def _workspace_metrics(repo: Any) -> dict[str, Any]:
    return _workspace_files(repo.metrics.show())


def _workspace_files(shown: dict[str, Any]) -> dict[str, Any]:
    """Return `{file: data}` from DVC's `metrics.show()` or `params.show()` of the workspace."""
    files = (shown.get("") or {}).get("data") or {}
    return {
        path: entry["data"]
        for path, entry in files.items()
        if isinstance(entry, dict) and isinstance(entry.get("data"), dict)
    }


def _baseline_snapshot() -> dict[str, Any]:
    """Read the params and metrics of the clone's clean checkout of the baseline commit.

    Only files that git tracks are in the checkout, so metrics that DVC caches instead of
    committing are absent, as they are from `dvc exp show` for the commit.
    """
    from dvc.repo import Repo  # noqa: PLC0415  # imported once by main() before any request

    with Repo(".") as repo:
        return {
            "params": _workspace_files(repo.params.show()),
            "metrics": _workspace_files(repo.metrics.show()),
        }


def _configure_cache(main_repo: Path) -> None:
    """Make this clone use the main repository's DVC cache, so outputs land where users look.

    Unless the project chose a cache link type, the clone links outputs from the cache
    instead of copying them (DVC's default), so a large data set is not copied into every
    worker's clone. DVC removes or unprotects an output before its stage runs, so a
    linked output is not written through into the cache.
    """
    from dvc.config import Config  # noqa: PLC0415  # imported once by main() before any request
    from dvc.repo import Repo  # noqa: PLC0415  # imported once by main() before any request

    # Reading the main repository's config is enough: opening it as a Repo costs about
    # 0.2 s per worker. DVC resolves a relative cache.dir against the config file.
    main_config = Config(dvc_dir=str(main_repo / ".dvc"))["cache"]
    cache_dir = main_config.get("dir") or str(main_repo / ".dvc" / "cache")
    link_type_set = bool(main_config.get("type"))
    with Repo(".") as clone, clone.config.edit("local") as config:
        config["cache"]["dir"] = cache_dir
        if not link_type_set:
            config["cache"]["type"] = "reflink,hardlink,symlink,copy"


def main(argv: list[str] | None = None) -> int:
    """Serve experiment requests until standard input closes."""
    parser = argparse.ArgumentParser(prog="python -m dvc_sweep._worker")
    parser.add_argument("--main-repo", required=True, type=Path)
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--reply-fd", required=True, type=int)
    parser.add_argument(
        "--read-baseline",
        action="store_true",
        help="send the baseline's params and metrics with the ready reply",
    )
    args = parser.parse_args(argv)

    replies = os.fdopen(args.reply_fd, "w", encoding="utf-8", buffering=1)

    def reply(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    try:
        import dvc.repo  # noqa: F401, PLC0415  # paid once here rather than per experiment

        _configure_cache(args.main_repo)
        ready: dict[str, Any] = {"ready": True}
        if args.read_baseline:
            ready["baseline"] = _baseline_snapshot()
    except Exception as error:  # noqa: BLE001  # reported to the executor, which stops
        reply({"ready": False, "error": _describe_failure(error)[0]})
        return 1
    reply(ready)

    for line in sys.stdin:
        if not line.strip():
            continue
        reply(_run_one(json.loads(line), args.baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
