"""`dvc-sweep plan`: list the points a sweep spec would run, running nothing."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from tabulate import tabulate

from dvc_sweep.commands._common import (
    ArgumentParser,
    add_spec_argument,
    add_verbosity,
    locate_root,
    run_command,
)
from dvc_sweep.dvc import exp_show, find_repo_root, head_commit
from dvc_sweep.errors import EnvironmentProblemError
from dvc_sweep.plan import plan_points
from dvc_sweep.spec import SweepSpec, load_spec
from dvc_sweep.sweep import check_metric

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `dvc-sweep plan`."""
    parser = ArgumentParser(
        prog="dvc-sweep plan",
        description="Validate a sweep spec and list the points it would run: the "
        "experiment name and the swept values of each (with --json, also the `-S` "
        "overrides). Nothing is run.",
        epilog="Exit codes: 0 the spec is valid, 2 invalid spec or usage.",
    )
    add_spec_argument(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the points as JSON, with the `-S` overrides of each, instead of a table",
    )
    add_verbosity(parser)
    return parser


def _plan(args: argparse.Namespace) -> int:
    repo_root = locate_root(Path.cwd())
    spec = load_spec(args.spec, repo_root=repo_root)
    _check_metric(spec)
    points = plan_points(spec)
    if args.json:
        data = {
            "spec": spec.to_dict(),
            "points": [
                {
                    "index": point.index,
                    "name": point.name,
                    "params": point.params,
                    "overrides": list(point.overrides),
                }
                for point in points
            ],
        }
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return 0

    # Values are printed as JSON, so that the string "1" and the number 1 look different.
    # json.dumps also escapes control characters that could disturb a terminal.
    keys = [parameter.key.display for parameter in spec.parameters]
    rows = [
        [str(point.index), point.name]
        + [json.dumps(point.params.get(key), ensure_ascii=False) for key in keys]
        for point in points
    ]
    table = tabulate(
        rows,
        headers=["#", "experiment", *keys],
        tablefmt="simple",
        disable_numparse=True,
    )
    noun = "point" if len(points) == 1 else "points"
    sys.stdout.write(f"{spec.method} sweep {spec.name!r}: {len(points)} {noun}\n\n{table}\n")
    return 0


def _check_metric(spec: SweepSpec) -> None:
    """Check the goal metric against HEAD's committed metrics, as `run` does first.

    Outside a DVC repository with a commit there is nothing to check against.
    """
    if spec.metric is None:
        return
    try:
        repo_root = find_repo_root(Path.cwd())
        baseline = head_commit(repo_root)
        shown = exp_show(repo_root, baseline)
    except EnvironmentProblemError as error:
        logger.debug("metric not checked: %s", error)
        return
    check_metric(spec, shown.baseline.metrics, baseline)


def main(argv: list[str] | None = None) -> int:
    """Run `dvc-sweep plan` with `argv` and return the exit code."""
    return run_command(build_parser(), argv, _plan)
