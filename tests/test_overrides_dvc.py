"""Values rendered by plan.render_value reach DVC's params with the same value and type.

Three levels, from fast to real: Hydra's override parser followed by OmegaConf (what DVC
applies), DVC's own `apply_overrides` on a params file read back with ruamel.yaml, and
`dvc exp run -S ...` in a real repository read back through `dvc exp show --json`.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from dvc.utils.hydra import apply_overrides
from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from ruamel.yaml import YAML

from dvc_sweep.plan import render_override, render_value
from dvc_sweep.spec import HYDRA_KEYWORDS, ParamKey, parse_param_key, unsupported_value_reason

KEY_COUNT = 10

# Strings that Hydra, OmegaConf or YAML would read as something else if written bare.
NASTY_STRINGS = [
    "",
    " ",
    " padded ",
    "a,b",
    "a b",
    "1e-3",
    "1.0",
    "-5",
    "+1",
    ".5",
    "0x10",
    "010",
    "1_000",
    "695e0514",
    "inf",
    "-inf",
    "NaN",
    ".inf",
    "true",
    "False",
    "on",
    "no",
    "yes",
    "null",
    "NULL",
    "~",
    "12:30",
    "2024-01-01",
    "a=b",
    "=",
    ":",
    "a: b",
    "[1, 2]",
    "{a: 1}",
    "(x)",
    "f(x)",
    "'",
    '"',
    "it's",
    'say "hi"',
    "\\",
    "a\\",
    "\\'",
    "\\\\'",
    "'\\",
    "${x}",
    "${oc.env:HOME}",
    "\\${x}",
    "$${x}",
    "a${",
    "#comment",
    "- item",
    "&anchor",
    "*alias",
    "!tag",
    "%x",
    "@x",
    "`x`",
    "|",
    ">",
    "?",
    "tab\there",
    "line\nbreak",
    "\r\n",
    "é ü ∑ 😀",
    "-",
    "--",
    "key:value",
    "\\(",
    "\\,",
]


def _scalars() -> st.SearchStrategy[Any]:
    text = st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=12,
    ).filter(lambda value: unsupported_value_reason(value) is None)
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(NASTY_STRINGS),
        text,
    )


_DICT_KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True).filter(
    lambda key: key.lower() not in HYDRA_KEYWORDS
)

VALUES = st.recursive(
    _scalars(),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(_DICT_KEYS, children, max_size=3),
    ),
    max_leaves=6,
)


def same_value(expected: Any, actual: Any) -> bool:
    """Compare values and types recursively: 1, 1.0 and True differ and NaN equals NaN."""
    if type(expected) is not type(actual):
        return False
    if isinstance(expected, float):
        if math.isnan(expected):
            return math.isnan(actual)
        return expected == actual and math.copysign(1, expected) == math.copysign(1, actual)
    if isinstance(expected, list):
        return len(expected) == len(actual) and all(
            same_value(item, other) for item, other in zip(expected, actual, strict=True)
        )
    if isinstance(expected, dict):
        return list(expected) == list(actual) and all(
            same_value(expected[key], actual[key]) for key in expected
        )
    return bool(expected == actual)


def _plain(data: Any) -> Any:
    """Turn ruamel's round-trip types into plain Python values."""
    if isinstance(data, dict):
        return {key: _plain(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_plain(item) for item in data]
    if data is None or isinstance(data, bool):
        return data
    if isinstance(data, int):
        return int(data)
    if isinstance(data, float):
        return float(data)
    if isinstance(data, str):
        return str(data)
    return data


def _initial_params() -> str:
    return "".join(f"k{index}: 0\n" for index in range(KEY_COUNT))


# Hydra + OmegaConf, as DVC applies an override (DVC 3.67, Hydra 1.3).


def _apply_with_omegaconf(rendered: str) -> Any:
    override = OverridesParser.create().parse_override(f"k={rendered}")
    config = OmegaConf.create({"k": override.value()}, flags={"allow_objects": True})
    return OmegaConf.to_object(config)["k"]  # type: ignore[index]


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_render_value_round_trips_through_hydra(value: Any) -> None:
    assert same_value(value, _apply_with_omegaconf(render_value(value)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(VALUES, min_size=1, max_size=KEY_COUNT))
def test_render_value_round_trips_through_apply_overrides(values: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        params = Path(directory) / "params.yaml"
        params.write_text(_initial_params(), encoding="utf-8")
        apply_overrides(
            str(params), [f"k{index}={render_value(value)}" for index, value in enumerate(values)]
        )
        data = _plain(YAML(typ="rt").load(params.read_text(encoding="utf-8")))
    for index, value in enumerate(values):
        assert same_value(value, data[f"k{index}"]), (index, value, data[f"k{index}"])


@pytest.mark.parametrize("value", NASTY_STRINGS)
def test_render_value_nasty_string_round_trips(value: str) -> None:
    assert _apply_with_omegaconf(render_value(value)) == value


# Real DVC: one `dvc exp run --temp` per example.


def _run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    return subprocess.run(
        list(args), cwd=repo, env=env, capture_output=True, text=True, check=False
    )


def _checked(repo: Path, *args: str) -> str:
    completed = _run(repo, *args)
    assert completed.returncode == 0, (args, completed.stdout, completed.stderr)
    return completed.stdout


@pytest.fixture(scope="module")
def overrides_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git + DVC repository whose one stage depends on params k0..k9."""
    repo = tmp_path_factory.mktemp("overrides")
    (repo / "params.yaml").write_text(_initial_params(), encoding="utf-8")
    keys = ", ".join(f"k{index}" for index in range(KEY_COUNT))
    (repo / "other.yaml").write_text("aug:\n  p: 0.5\n", encoding="utf-8")
    (repo / "dvc.yaml").write_text(
        f"stages:\n  noop:\n    cmd: python -c pass\n    params: [{keys}, {{other.yaml: [aug]}}]\n",
        encoding="utf-8",
    )
    _checked(repo, "git", "init", "--quiet", "--initial-branch=main")
    _checked(repo, "git", "config", "user.email", "tests@dvc-sweep.invalid")
    _checked(repo, "git", "config", "user.name", "dvc-sweep tests")
    _checked(repo, "git", "config", "commit.gpgsign", "false")
    _checked(repo, "dvc", "init", "--quiet")
    _checked(repo, "dvc", "config", "core.analytics", "false")
    _checked(repo, "git", "add", "--all")
    _checked(repo, "git", "commit", "--quiet", "--message", "Initial commit")
    return repo


def _experiment_params(repo: Path, name: str) -> dict[str, Any]:
    records = json.loads(_checked(repo, "dvc", "exp", "show", "--json"))
    for record in records:
        for experiment in record.get("experiments") or []:
            for rev in experiment.get("revs") or []:
                if rev.get("name") == name:
                    data: dict[str, Any] = rev["data"]["params"]["params.yaml"]["data"]
                    return data
    raise AssertionError(f"experiment {name} not found in dvc exp show --json")


_EXPERIMENT_COUNTER = iter(range(1, 1_000_000))


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(VALUES, min_size=1, max_size=KEY_COUNT))
def test_render_override_reaches_dvc_exp_show(overrides_repo: Path, values: list[Any]) -> None:
    name = f"prop-{next(_EXPERIMENT_COUNTER)}"
    keys = [ParamKey(file="params.yaml", path=f"k{index}", add=False) for index in range(10)]
    command = ["dvc", "exp", "run", "--temp", "--name", name]
    for key, value in zip(keys, values, strict=False):
        command += ["-S", render_override(key, value)]
    _checked(overrides_repo, *command)
    params = _experiment_params(overrides_repo, name)
    for index, value in enumerate(values):
        assert same_value(value, params[f"k{index}"]), (index, value, params[f"k{index}"])


def test_render_override_added_key_reaches_dvc(overrides_repo: Path) -> None:
    added = parse_param_key("+extra.nested")
    existing = parse_param_key("+k0")
    _checked(
        overrides_repo,
        "dvc",
        "exp",
        "run",
        "--temp",
        "--name",
        "added-keys",
        "-S",
        render_override(added, "a,b"),
        "-S",
        render_override(existing, 1.5),
    )
    params = _experiment_params(overrides_repo, "added-keys")
    assert params["extra"] == {"nested": "a,b"}
    assert same_value(1.5, params["k0"])


def test_render_override_nasty_strings_reach_dvc(overrides_repo: Path) -> None:
    keys = [parse_param_key(f"+nasty.s{index}") for index in range(len(NASTY_STRINGS))]
    command = ["dvc", "exp", "run", "--temp", "--name", "nasty-strings"]
    for key, value in zip(keys, NASTY_STRINGS, strict=True):
        command += ["-S", render_override(key, value)]
    _checked(overrides_repo, *command)
    params = _experiment_params(overrides_repo, "nasty-strings")
    for index, value in enumerate(NASTY_STRINGS):
        assert params["nasty"][f"s{index}"] == value, (index, value)


def test_render_override_other_params_file_reaches_dvc(overrides_repo: Path) -> None:
    _checked(
        overrides_repo,
        "dvc",
        "exp",
        "run",
        "--temp",
        "--name",
        "other-file",
        "-S",
        render_override(parse_param_key("other.yaml:aug.p"), "0.9"),
        "-S",
        render_override(parse_param_key("+other.yaml:aug.q"), [1, 2]),
    )
    records = json.loads(_checked(overrides_repo, "dvc", "exp", "show", "--json"))
    revs = [
        rev
        for record in records
        for experiment in record.get("experiments") or []
        for rev in experiment.get("revs") or []
        if rev.get("name") == "other-file"
    ]
    assert revs[0]["data"]["params"]["other.yaml"]["data"] == {"aug": {"p": "0.9", "q": [1, 2]}}
