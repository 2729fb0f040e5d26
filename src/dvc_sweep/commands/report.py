"""`dvc-sweep report`: render a results file again, as markdown or JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dvc_sweep.commands._common import ArgumentParser, add_verbosity, run_command
from dvc_sweep.errors import UsageError
from dvc_sweep.report import render_json, render_markdown
from dvc_sweep.results import DEFAULT_RESULTS_FILE, read_results


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `dvc-sweep report`."""
    parser = ArgumentParser(
        prog="dvc-sweep report",
        description="Render the report of a sweep from its results file, without running anything.",
        epilog="Exit codes: 0 rendered, 2 missing or invalid results file, or usage error.",
    )
    parser.add_argument(
        "results",
        nargs="?",
        default=Path(DEFAULT_RESULTS_FILE),
        type=Path,
        help=f"the results file (default: {DEFAULT_RESULTS_FILE})",
    )
    parser.add_argument(
        "--format",
        choices=("md", "json"),
        default="md",
        help="md for the markdown report (default), json for the results data",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        default=None,
        help="keep the baseline and this many best rows in the table (default: all)",
    )
    add_verbosity(parser)
    return parser


def _report(args: argparse.Namespace) -> int:
    if args.max_rows is not None and args.max_rows < 1:
        raise UsageError(f"--max-rows must be at least 1 (got {args.max_rows})")
    results = read_results(args.results)
    if args.format == "json":
        sys.stdout.write(render_json(results))
    else:
        sys.stdout.write(render_markdown(results, max_rows=args.max_rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run `dvc-sweep report` with `argv` and return the exit code."""
    return run_command(build_parser(), argv, _report)
