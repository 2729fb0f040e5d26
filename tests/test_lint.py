"""The linters configured in pyproject.toml, run as part of the suite so CI enforces them."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.conftest import REPO_ROOT


def run_tool(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=600
    )


def test_ruff_check_clean() -> None:
    assert shutil.which("ruff"), "ruff is not installed: pip install -e '.[test]'"
    paths = [
        name for name in ("src", "tests", "benchmarks", "scripts") if (REPO_ROOT / name).is_dir()
    ]
    completed = run_tool("ruff", "check", *paths)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_mypy_strict_clean() -> None:
    completed = run_tool(sys.executable, "-m", "mypy")
    assert completed.returncode == 0, completed.stdout + completed.stderr
