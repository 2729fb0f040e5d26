"""`dvc-sweep run`: run a sweep spec and write the results file and the report."""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path
from types import FrameType

from dvc_sweep.commands._common import (
    ArgumentParser,
    add_output_arguments,
    add_spec_argument,
    add_verbosity,
    check_output_paths,
    exit_code_for,
    run_command,
    write_outputs,
)
from dvc_sweep.dvc import find_repo_root
from dvc_sweep.errors import UsageError
from dvc_sweep.results import Shard
from dvc_sweep.spec import load_spec
from dvc_sweep.sweep import run_sweep, write_bundle

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `dvc-sweep run`."""
    parser = ArgumentParser(
        prog="dvc-sweep run",
        description="Run every point of a sweep spec as a DVC experiment of the current "
        "commit, write the results file and the markdown report, and print the report. "
        "Uncommitted changes are not part of the experiments.",
        epilog="Exit codes: 0 all points succeeded, 1 some points failed or timed out, "
        "2 invalid spec or usage, 3 environment problem, 130 interrupted.",
    )
    add_spec_argument(parser)
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        help="experiments to run at a time (default: the spec's jobs, else the CPU count)",
    )
    add_output_arguments(parser)
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help="where to keep one log per experiment (default: .dvc/tmp/dvc-sweep/logs/NAME)",
    )
    parser.add_argument(
        "--shard",
        type=parse_shard,
        default=None,
        metavar="K/N",
        help="run only shard K of N: every N-th point, starting at point K, for one job of "
        "a CI matrix; `dvc-sweep merge` combines the shards' results files",
    )
    parser.add_argument(
        "--bundle",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write this run's experiments to a git bundle, which `dvc-sweep merge "
        "--bundle` fetches into another clone",
    )
    add_verbosity(parser)
    return parser


def parse_shard(text: str) -> Shard:
    """Parse `K/N` into a Shard, for argparse."""
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit()) or not 1 <= int(index) <= int(count):
        message = f"invalid shard {text!r}: write K/N with 1 <= K <= N, for example 2/4"
        raise argparse.ArgumentTypeError(message)
    return Shard(index=int(index), count=int(count))


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1 (got {args.jobs})")
    check_output_paths(args.results, args.report, *([args.bundle] if args.bundle else []))
    repo_root = find_repo_root(Path.cwd())
    spec = load_spec(args.spec, repo_root=repo_root)

    # SIGTERM (a cancelled CI job) stops the sweep the same way as Ctrl-C does. SIGINT gets
    # a handler too, because a shell script starts background jobs with SIGINT ignored.
    previous = {
        number: signal.signal(number, _raise_interrupt)
        for number in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        results = run_sweep(
            spec, repo_root=repo_root, jobs=args.jobs, log_dir=args.log_dir, shard=args.shard
        )
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)

    write_outputs(results, args.results, args.report)
    if args.bundle is not None:
        write_bundle(results, repo_root, args.bundle)
    return int(exit_code_for(results))


def main(argv: list[str] | None = None) -> int:
    """Run `dvc-sweep run` with `argv` and return the exit code."""
    return run_command(build_parser(), argv, _run)
