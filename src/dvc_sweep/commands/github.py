"""`dvc-sweep github`: the entry point the GitHub Action runs in a workflow job."""

from __future__ import annotations

import argparse

from dvc_sweep.commands._common import ArgumentParser
from dvc_sweep.errors import ExitCode


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `dvc-sweep github`."""
    parser = ArgumentParser(
        prog="dvc-sweep github",
        description="Run the sweep that the GitHub Actions event asks for (or one shard of "
        "it, or merge the shards' results), write the job summary and the step outputs, and "
        "keep one pull request comment up to date. The "
        "action's inputs come from the INPUT_* environment variables that action/action.yml "
        "sets, and the event from the runner's GITHUB_* variables.",
        epilog="Exit codes: 0 done (also when the comment could not be written, unless the "
        "comment input is 'required'), 1 some points failed or timed out and fail-on-error "
        "is 'true', 2 invalid spec or input, 3 environment problem, 130 interrupted.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true",
        help="also print debug lines (set as well when the runner's debug logging is on)",
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `dvc-sweep github` with `argv` and return the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else int(ExitCode.INVALID_INPUT)

    # The action module imports DVC helpers; import it only once the arguments are valid.
    from dvc_sweep.action import run_in_runner  # noqa: PLC0415

    return run_in_runner(verbose=args.verbose)
