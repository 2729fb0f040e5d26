"""The `dvc-sweep` command line: one sub-command per verb, each in `dvc_sweep.commands`."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from dvc_sweep import __version__
from dvc_sweep.errors import ExitCode

COMMANDS = {
    "plan": "List the points a sweep spec would run, without running anything.",
    "run": "Run every point of a sweep spec as a DVC experiment and report the results.",
    "report": "Render the report of a results file again, as markdown or JSON.",
    "merge": "Combine the results files of the shards of one sweep, run on several machines.",
    "github": "Run a sweep inside a GitHub Actions job and keep one PR comment up to date.",
}

USAGE = "dvc-sweep [--version] {plan,run,report,merge,github} ..."


def configure_logging(verbosity: int) -> None:
    """Send progress and diagnostics to stderr, so stdout carries only the report."""
    level = logging.INFO
    if verbosity < 0:
        level = logging.WARNING
    elif verbosity > 0:
        level = logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dvc-sweep: %(message)s"))
    root = logging.getLogger("dvc_sweep")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the sub-command named by the first argument and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        parser = argparse.ArgumentParser(
            prog="dvc-sweep",
            usage=USAGE,
            description="Hyperparameter sweeps of a DVC pipeline, run as parallel DVC experiments.",
            epilog="Run `dvc-sweep COMMAND --help` for the options of a command. "
            "Exit codes: 0 all points succeeded, 1 some points failed or timed out, "
            "2 invalid spec or usage, 3 environment problem, 130 interrupted.",
        )
        subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
        for name, summary in COMMANDS.items():
            subparsers.add_parser(name, help=summary)
        parser.print_help(sys.stdout if args else sys.stderr)
        return int(ExitCode.OK if args else ExitCode.INVALID_INPUT)
    if args[0] == "--version":
        print(f"dvc-sweep {__version__}")  # noqa: T201  # the one output of --version
        return int(ExitCode.OK)
    command = args[0]
    if command not in COMMANDS:
        print(  # noqa: T201  # usage errors go to stderr before logging is set up
            f"dvc-sweep: error: unknown command {command!r}; choose one of "
            f"{', '.join(COMMANDS)} (see `dvc-sweep --help`); options such as -q go "
            "after the command",
            file=sys.stderr,
        )
        return int(ExitCode.INVALID_INPUT)
    module = importlib.import_module(f"dvc_sweep.commands.{command}")
    exit_code: int = module.main(args[1:])
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
