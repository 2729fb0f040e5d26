"""Argument handling and error reporting shared by the command modules."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from dvc_sweep.cli import configure_logging
from dvc_sweep.dvc import git_toplevel
from dvc_sweep.errors import ExitCode, SpecErrorGroup, SweepError, UsageError
from dvc_sweep.report import render_markdown
from dvc_sweep.results import DEFAULT_RESULTS_FILE, SweepResults, write_results

logger = logging.getLogger("dvc_sweep")


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors exit with `ExitCode.INVALID_INPUT`."""

    def error(self, message: str) -> None:  # type: ignore[override]  # argparse's NoReturn
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)  # noqa: T201  # argparse's channel
        raise SystemExit(int(ExitCode.INVALID_INPUT))


DEFAULT_SPEC_FILE = "sweep.yaml"
DEFAULT_REPORT_FILE = "sweep-report.md"


def add_spec_argument(parser: argparse.ArgumentParser) -> None:
    """Add the optional SPEC positional argument."""
    parser.add_argument(
        "spec",
        nargs="?",
        default=DEFAULT_SPEC_FILE,
        type=Path,
        help=f"the sweep spec file (default: {DEFAULT_SPEC_FILE})",
    )


def add_output_arguments(parser: argparse.ArgumentParser, *, what: str = "") -> None:
    """Add --results and --report; `what` qualifies the files in the help text."""
    parser.add_argument(
        "--results",
        type=Path,
        default=Path(DEFAULT_RESULTS_FILE),
        help=f"where to write the {what}results file (default: {DEFAULT_RESULTS_FILE})",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=Path(DEFAULT_REPORT_FILE),
        help=f"where to write the {what}markdown report (default: {DEFAULT_REPORT_FILE})",
    )


def check_output_paths(*paths: Path) -> None:
    """Raise UsageError when an output path cannot be written as a file, before any work."""
    for path in paths:
        if path.is_dir():
            raise UsageError(
                f"{path} is a directory, but a file path is expected",
                hint=f"name a file, for example {path / DEFAULT_RESULTS_FILE}",
            )


def write_outputs(results: SweepResults, results_path: Path, report_path: Path) -> None:
    """Write the results file and the report, and print the report on stdout."""
    write_results(results, results_path)
    report = render_markdown(results)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(report, encoding="utf-8")
    sys.stdout.write(report)
    sys.stdout.flush()
    logger.info("wrote %s and %s", results_path, report_path)


def exit_code_for(results: SweepResults) -> ExitCode:
    """Return 130 for an interrupted sweep, 1 when any point did not succeed, else 0."""
    if results.interrupted:
        return ExitCode.INTERRUPTED
    if any(point.status != "success" for point in results.points):
        return ExitCode.POINTS_FAILED
    return ExitCode.OK


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
    except SpecErrorGroup as group:
        for error in group.errors:
            print(f"error: {error}", file=sys.stderr)  # noqa: T201  # the user-facing error channel
        return int(group.exit_code)
    except SweepError as error:
        print(f"error: {error}", file=sys.stderr)  # noqa: T201  # the user-facing error channel
        return int(error.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)  # noqa: T201  # the user-facing error channel
        return int(ExitCode.INTERRUPTED)


def locate_root(start: Path) -> Path:
    """Return the git work-tree root above `start`, or `start` outside a git repository."""
    return git_toplevel(start) or start
