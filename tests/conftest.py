"""Fixtures that build real git + DVC repositories for the tests."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_FILES = (
    "params.yaml",
    "dvc.yaml",
    "dvc.lock",
    "metrics.json",
    "sweep.yaml",
    "scripts",
    ".dvcignore",
    ".gitignore",
    ".dvc/config",
    ".dvc/.gitignore",
    "data/.gitignore",
)


@pytest.fixture(autouse=True)
def _quiet_dvc(monkeypatch: pytest.MonkeyPatch) -> None:
    # DVC's analytics would send a request off this machine after each command.
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    # The command-line entry points configure the "dvc_sweep" logger for a terminal, which
    # would hide later tests' records from caplog.
    yield
    logger = logging.getLogger("dvc_sweep")
    logger.handlers.clear()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def git(repo: Path, *args: str) -> str:
    completed = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return completed.stdout.strip()


def init_repo(path: Path) -> Path:
    """Turn `path` into a git repository with a local identity and commit everything."""
    git(path, "init", "--quiet", "--initial-branch=main")
    return init_repo_at(path, path)


def init_repo_at(top: Path, project: Path) -> Path:
    """Configure the git repository at `top` and commit everything; return `project`."""
    git(top, "config", "user.name", "dvc-sweep tests")
    git(top, "config", "user.email", "tests@dvc-sweep.invalid")
    git(top, "config", "commit.gpgsign", "false")
    git(top, "add", "--all")
    git(top, "commit", "--quiet", "--message", "Initial commit")
    return project


def copy_demo(destination: Path) -> Path:
    """Copy the demo DVC project at the repository root into `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        source = REPO_ROOT / name
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    return destination


@pytest.fixture
def demo_repo(tmp_path: Path) -> Path:
    """A fresh git repository holding a copy of the demo pipeline, committed."""
    return init_repo(copy_demo(tmp_path / "demo"))


# A pipeline of one stage that runs in a few tenths of a second: it reads `x` and `y`
# from params.yaml, sleeps `sleep` seconds, exits with `fail` when that is not 0, and
# writes `score` to metrics.json.
TINY_STEP = textwrap.dedent(
    """\
    import json, os, sys, time
    from pathlib import Path
    from ruamel.yaml import YAML

    params = YAML(typ="safe").load(Path("params.yaml"))["step"]
    print("step pid:", os.getpid(), flush=True)
    print("step params:", json.dumps(params), flush=True)
    time.sleep(params["sleep"])
    if params["fail"]:
        print("step failed on purpose", file=sys.stderr, flush=True)
        sys.exit(params["fail"])
    score = params["x"] * 10 + params["y"]
    Path("metrics.json").write_text(json.dumps({"score": score}) + "\\n")
    """
)


def make_tiny_repo(path: Path, *, commit_metrics: bool = True, subdir: bool = False) -> Path:
    """Build and commit the tiny pipeline described at TINY_STEP.

    With `subdir`, `path` is below an existing git work tree and becomes a DVC project
    made with `dvc init --subdir`.
    """
    path.mkdir(parents=True, exist_ok=True)
    (path / "step.py").write_text(TINY_STEP)
    (path / "params.yaml").write_text("step:\n  x: 1\n  y: 2\n  sleep: 0\n  fail: 0\n  tag: base\n")
    (path / "dvc.yaml").write_text(
        textwrap.dedent(
            f"""\
            stages:
              step:
                cmd: {shlex.quote(sys.executable)} step.py
                deps: [step.py]
                params: [step]
                metrics:
                  - metrics.json:
                      cache: false
            """
        )
    )
    if not subdir:
        subprocess.run(["git", "init", "--quiet", "--initial-branch=main"], cwd=path, check=True)
    init = ["dvc", "init", "--quiet", *(["--subdir"] if subdir else [])]
    subprocess.run(init, cwd=path, check=True)
    subprocess.run(["dvc", "config", "core.analytics", "false"], cwd=path, check=True)
    if commit_metrics:
        subprocess.run(["dvc", "repro", "--quiet"], cwd=path, check=True)
    if subdir:
        top = Path(git(path, "rev-parse", "--show-toplevel"))
        return init_repo_at(top, path)
    return init_repo(path)


@pytest.fixture
def tiny_repo(tmp_path: Path) -> Path:
    """A committed repository of the tiny pipeline, with its metrics committed."""
    return make_tiny_repo(tmp_path / "tiny")


@pytest.fixture
def chdir(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Change the working directory for one test."""

    def change(path: Path) -> None:
        monkeypatch.chdir(path)

    yield change
    os.chdir(REPO_ROOT)
