"""Argument handling and error reporting shared by the command modules."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from dvc_sweep.cli import configure_logging
from dvc_sweep.errors import ExitCode, SweepError

logger = logging.getLogger("dvc_sweep")


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors exit with `ExitCode.INVALID_INPUT`."""

    def error(self, message: str) -> None:  # type: ignore[override]  # argparse's NoReturn
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)  # noqa: T201  # argparse's channel
        raise SystemExit(int(ExitCode.INVALID_INPUT))


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """Add -q/--quiet and -v/--verbose."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-q",
        "--quiet",
        action="store_const",
        const=-1,
        dest="verbosity",
        default=0,
        help="print only warnings and errors on stderr",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_const",
        const=1,
        dest="verbosity",
        help="also print debug messages on stderr",
    )


def run_command(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    body: Callable[[argparse.Namespace], int],
) -> int:
    """Parse `argv`, run `body` and turn dvc-sweep's errors into messages and exit codes."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0) if isinstance(exit_.code, int) else int(ExitCode.INVALID_INPUT)
    configure_logging(args.verbosity)
    try:
        return body(args)
    except SweepError as error:
        print(f"error: {error}", file=sys.stderr)  # noqa: T201  # the user-facing error channel
        return int(error.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)  # noqa: T201  # the user-facing error channel
        return int(ExitCode.INTERRUPTED)


def locate_root(start: Path) -> Path:
    """Return the git work-tree root above `start`, or `start` outside a git repository."""
    import subprocess  # noqa: PLC0415  # only this helper needs it

    completed = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        cwd=start,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode == 0:
        return Path(completed.stdout.strip())
    return start
