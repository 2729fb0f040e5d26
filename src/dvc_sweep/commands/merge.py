"""`dvc-sweep merge`: combine the results files of the shards of one sweep."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from dvc_sweep.commands._common import (
    ArgumentParser,
    add_output_arguments,
    add_verbosity,
    check_output_paths,
    exit_code_for,
    run_command,
    write_outputs,
)
from dvc_sweep.dvc import fetch_bundle, find_repo_root
from dvc_sweep.errors import UsageError
from dvc_sweep.results import merge_results, read_results

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `dvc-sweep merge`."""
    parser = ArgumentParser(
        prog="dvc-sweep merge",
        description="Combine the results files that `dvc-sweep run --shard K/N` wrote on "
        "several machines into one results file and one report, and optionally fetch "
        "their experiments from git bundles into this repository.",
        epilog="Exit codes: 0 all points succeeded, 1 some points failed, timed out or were "
        "not run, 2 invalid or mismatched results files, 3 a bundle could not be fetched. "
        "A bundle file that does not exist is skipped with a warning, because a shard "
        "without finished experiments writes none.",
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
    add_output_arguments(parser, what="merged ")
    add_verbosity(parser)
    return parser


def _merge(args: argparse.Namespace) -> int:
    check_output_paths(args.results, args.report)
    seen: dict[Path, Path] = {}
    for path in args.parts:
        if path.resolve() in seen:
            raise UsageError(
                f"{path} is given twice (also as {seen[path.resolve()]})",
                hint="pass each results file once",
            )
        seen[path.resolve()] = path
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

    write_outputs(merged, args.results, args.report)
    logger.info("merged %d results files", len(parts))
    return int(exit_code_for(merged))


def main(argv: list[str] | None = None) -> int:
    """Run `dvc-sweep merge` with `argv` and return the exit code."""
    return run_command(build_parser(), argv, _merge)
