"""`dvc-sweep merge`: combine the results files of the shards of one sweep."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from dvc_sweep.commands._common import ArgumentParser, add_verbosity, run_command
from dvc_sweep.commands.run import DEFAULT_REPORT_FILE, exit_code_for
from dvc_sweep.dvc import fetch_bundle, find_repo_root
from dvc_sweep.report import render_markdown
from dvc_sweep.results import DEFAULT_RESULTS_FILE, merge_results, read_results, write_results

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `dvc-sweep merge`."""
    parser = ArgumentParser(
        prog="dvc-sweep merge",
        description="Combine the results files that `dvc-sweep run --shard K/N` wrote on "
        "several machines into one results file and one report, and optionally fetch "
        "their experiments from git bundles into this repository.",
        epilog="Exit codes: 0 all points succeeded, 1 some points failed, timed out or were "
        "not run, 2 invalid or mismatched results files, 3 a bundle could not be fetched.",
    )
    parser.add_argument(
        "parts",
        nargs="+",
        type=Path,
        metavar="RESULTS",
        help="the results files of the shards",
    )
    parser.add_argument(
        "--bundle",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="a git bundle written by `dvc-sweep run --bundle`, fetched into the repository "
        "in the current directory so `dvc exp show` lists its experiments (repeatable)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=Path(DEFAULT_RESULTS_FILE),
        help=f"where to write the merged results file (default: {DEFAULT_RESULTS_FILE})",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=Path(DEFAULT_REPORT_FILE),
        help=f"where to write the merged report (default: {DEFAULT_REPORT_FILE})",
    )
    add_verbosity(parser)
    return parser


def _merge(args: argparse.Namespace) -> int:
    parts = [(str(path), read_results(path)) for path in args.parts]
    merged = merge_results(parts)

    if args.bundle:
        repo_root = find_repo_root(Path.cwd())
        for bundle in args.bundle:
            if not bundle.exists():
                # `run --bundle` writes no file for a shard without a finished experiment.
                logger.warning("bundle %s not found: no experiments fetched from it", bundle)
                continue
            fetch_bundle(repo_root, bundle)
            logger.info("fetched the experiments of %s", bundle)

    write_results(merged, args.results)
    report = render_markdown(merged)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report, encoding="utf-8")
    sys.stdout.write(report)
    logger.info("merged %d results files into %s and %s", len(parts), args.results, args.report)
    return int(exit_code_for(merged))


def main(argv: list[str] | None = None) -> int:
    """Run `dvc-sweep merge` with `argv` and return the exit code."""
    return run_command(build_parser(), argv, _merge)
