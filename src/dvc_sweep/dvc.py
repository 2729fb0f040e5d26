"""Git and DVC queries on the user's repository: checks, refs and `dvc exp show --json`."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvc_sweep.errors import EnvironmentProblemError

logger = logging.getLogger(__name__)

EXPS_REF_PREFIX = "refs/exps/"


@dataclass(frozen=True)
class ExperimentRecord:
    """One experiment as `dvc exp show --json` reports it."""

    name: str
    rev: str
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExpShow:
    """The baseline commit and its experiments, parsed from `dvc exp show --json`."""

    baseline: ExperimentRecord
    experiments: dict[str, ExperimentRecord]


def dvc_environment() -> dict[str, str]:
    """Return the environment for DVC subprocesses: the caller's, with DVC's telemetry off.

    DVC's usage analytics would otherwise send a request to a host outside this machine
    after a command.
    """
    env = dict(os.environ)
    env.setdefault("DVC_NO_ANALYTICS", "1")
    return env


def git(repo: Path, *args: str, check: bool = True) -> str:
    """Run a git command in `repo` and return its standard output, stripped."""
    completed = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and completed.returncode != 0:
        raise EnvironmentProblemError(
            f"git {' '.join(args)} failed in {repo} (exit {completed.returncode}): "
            f"{completed.stderr.strip()}"
        )
    return completed.stdout.strip()


def find_repo_root(start: Path) -> Path:
    """Return the root of the DVC repository containing `start`.

    That is the nearest directory at or above `start`, inside the git work tree, that
    contains a `.dvc` directory, so a DVC project in a subdirectory of a git repository (`dvc init
    --subdir`) works too. Raises EnvironmentProblemError with the fix when git or DVC is
    missing, when `start` is not inside a git repository with at least one commit, or when
    no `.dvc` directory is found.
    """
    if shutil.which("git") is None:
        raise EnvironmentProblemError("git was not found on PATH", hint="install git and try again")
    toplevel = git_toplevel(start)
    if toplevel is None:
        raise EnvironmentProblemError(
            f"{start} is not inside a git repository",
            hint="run dvc-sweep from a git repository initialised with `git init` and `dvc init`",
        )
    git_root = toplevel.resolve()
    root = _nearest_dvc_root(start.resolve(), git_root)
    if root is None:
        raise EnvironmentProblemError(
            f"{start} is not inside a DVC repository (no .dvc directory up to {git_root})",
            hint="run `dvc init` (or `dvc init --subdir` below the git root) and commit the result",
        )
    if git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False) == "":
        raise EnvironmentProblemError(
            f"the git repository at {git_root} has no commit yet",
            hint="DVC experiments are based on a commit: commit the project first",
        )
    if shutil.which("dvc") is None:
        raise EnvironmentProblemError(
            "the dvc command was not found on PATH",
            hint="install DVC in this environment, for example `pip install dvc`",
        )
    return root


def git_toplevel(start: Path) -> Path | None:
    """Return the root of the git work tree containing `start`, or None outside one."""
    completed = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        cwd=start,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        return None
    return Path(completed.stdout.strip())


def _nearest_dvc_root(start: Path, git_root: Path) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / ".dvc").is_dir():
            return directory
        if directory == git_root:
            return None
    return None


def git_location(repo: Path) -> tuple[Path, str]:
    """Return the git work-tree root of `repo` and the path of `repo` below it."""
    root = git(repo, "rev-parse", "--show-toplevel")
    prefix = git(repo, "rev-parse", "--show-prefix")
    return Path(root), prefix


def head_commit(repo: Path) -> str:
    """Return the full SHA of HEAD."""
    return git(repo, "rev-parse", "HEAD^{commit}")


def uncommitted_files(repo: Path) -> list[str]:
    """Return the tracked files whose working-tree or index state differs from HEAD."""
    completed = subprocess.run(
        ["git", "status", "--porcelain=v1", "--untracked-files=no", "-z"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    # Each entry is "XY PATH": two status letters, a space and the path, unstripped.
    return [entry[3:] for entry in completed.stdout.split("\0") if len(entry) > 3]


def experiment_ref_prefix(baseline: str) -> str:
    """Return the ref namespace DVC 3 keeps a baseline's experiments in."""
    return f"{EXPS_REF_PREFIX}{baseline[:2]}/{baseline[2:]}/"


def experiment_refs(repo: Path, baseline: str) -> dict[str, str]:
    """Map each experiment name of `baseline` to its commit SHA, from git refs alone."""
    prefix = experiment_ref_prefix(baseline)
    output = git(repo, "for-each-ref", "--format=%(objectname) %(refname)", prefix)
    refs: dict[str, str] = {}
    for line in output.splitlines():
        sha, _, ref = line.partition(" ")
        refs[ref[len(prefix) :]] = sha
    return refs


def dvc_version() -> str | None:
    """Return the installed DVC version, or None when DVC cannot be imported."""
    try:
        from importlib.metadata import version  # noqa: PLC0415  # only needed here

        return version("dvc")
    except ImportError:
        return None
    except Exception:  # noqa: BLE001  # PackageNotFoundError and broken metadata alike
        return None


def exp_show(repo: Path, baseline: str) -> ExpShow:
    """Run `dvc exp show --json` for one baseline commit and parse its output."""
    completed = subprocess.run(
        ["dvc", "exp", "show", "--json", "--hide-workspace", "--hide-queued", "--rev", baseline],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        env=dvc_environment(),
    )
    if completed.returncode != 0:
        raise EnvironmentProblemError(
            f"`dvc exp show --json --rev {baseline[:7]}` failed (exit {completed.returncode}): "
            f"{completed.stderr.strip()[-2000:]}",
            hint="run the same command in the repository to see DVC's full error",
        )
    try:
        data = json.loads(completed.stdout)
    except json.JSONDecodeError as error:
        raise EnvironmentProblemError(
            f"`dvc exp show --json` printed output that is not JSON: {error}",
        ) from error
    return parse_exp_show(data, baseline)


def parse_exp_show(data: Any, baseline: str) -> ExpShow:
    """Parse DVC 3's `exp show --json` list for the record of `baseline`.

    The list contains the workspace record (unless hidden) and one record per baseline commit.
    Each baseline record carries `experiments: [{name, revs: [{rev, name, data, error}]}]`.
    A params or metrics file that DVC could not read has `error` instead of `data`.
    """
    if not isinstance(data, list):
        raise EnvironmentProblemError("`dvc exp show --json` did not print a list of records")
    for record in data:
        if not isinstance(record, dict) or record.get("rev") != baseline:
            continue
        baseline_record = _record(record, name=str(record.get("name") or baseline[:7]))
        experiments: dict[str, ExperimentRecord] = {}
        for experiment in record.get("experiments") or []:
            for rev in experiment.get("revs") or []:
                name = rev.get("name") or experiment.get("name")
                if not name:
                    continue
                experiments[str(name)] = _record(rev, name=str(name))
        return ExpShow(baseline=baseline_record, experiments=experiments)
    raise EnvironmentProblemError(
        f"`dvc exp show --json` has no record for the baseline commit {baseline[:7]}",
    )


def _record(record: dict[str, Any], *, name: str) -> ExperimentRecord:
    data = record.get("data") or {}
    errors: list[str] = []
    if record.get("error"):
        errors.append(_error_text(record["error"]))
    params = _files(data.get("params") or {}, errors)
    metrics = _files(data.get("metrics") or {}, errors)
    return ExperimentRecord(
        name=name,
        rev=str(record.get("rev") or data.get("rev") or ""),
        params=params,
        metrics=metrics,
        errors=tuple(errors),
    )


def _files(files: dict[str, Any], errors: list[str]) -> dict[str, dict[str, Any]]:
    parsed: dict[str, dict[str, Any]] = {}
    for path, entry in files.items():
        if not isinstance(entry, dict):
            continue
        if entry.get("error"):
            errors.append(f"{path}: {_error_text(entry['error'])}")
            continue
        content = entry.get("data")
        if isinstance(content, dict):
            parsed[path] = content
    return parsed


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("msg") or error.get("type") or error)
    return str(error)


def bundle_experiments(repo: Path, baseline: str, names: list[str], path: Path) -> int:
    """Write the experiment refs `names` of `baseline` into the git bundle `path`.

    The bundle contains only the experiment commits, not the baseline's history, so the
    repository that fetches it must have the baseline commit. Returns the number of refs.
    """
    prefix = experiment_ref_prefix(baseline)
    existing = experiment_refs(repo, baseline)
    refs = [prefix + name for name in names if name in existing]
    if not refs:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    git(repo, "bundle", "create", "--quiet", str(path.resolve()), *refs, f"^{baseline}")
    return len(refs)


def fetch_bundle(repo: Path, path: Path) -> None:
    """Fetch every experiment ref of the git bundle `path` into `repo`."""
    git(repo, "bundle", "verify", "--quiet", str(path.resolve()))
    git(
        repo,
        "fetch",
        "--quiet",
        "--no-tags",
        str(path.resolve()),
        f"+{EXPS_REF_PREFIX}*:{EXPS_REF_PREFIX}*",
    )
