"""Reading and validating sweep specs: grammar, YAML 1.2 typing and every error message."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest

from dvc_sweep.errors import ExitCode, SpecError, SpecErrorGroup
from dvc_sweep.spec import (
    DEFAULT_GRID_MAX_EXPERIMENTS,
    ParamKey,
    SweepSpec,
    load_spec,
    parse_param_key,
    parse_timeout,
)

PARAMS = """\
train:
  n_est: 100
  min_split: 8
  max_depth: 6
  lr: 0.01
  criterion: gini
  opt:
    name: adam
    beta: 0.9
  layers: [32, 64]
prepare:
  seed: 20
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "params.yaml").write_text(PARAMS, encoding="utf-8")
    (tmp_path / "other.yaml").write_text("aug:\n  p: 0.5\n", encoding="utf-8")
    return tmp_path


def load(repo: Path, text: str, **kwargs: object) -> SweepSpec:
    spec_path = repo / "sweep.yaml"
    spec_path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_spec(spec_path, repo_root=repo, source="sweep.yaml", **kwargs)  # type: ignore[arg-type]


def errors_of(repo: Path, text: str, **kwargs: object) -> list[SpecError]:
    with pytest.raises(SpecErrorGroup) as caught:
        load(repo, text, **kwargs)
    return caught.value.errors


def only_error(repo: Path, text: str, **kwargs: object) -> SpecError:
    errors = errors_of(repo, text, **kwargs)
    assert len(errors) == 1, [str(error) for error in errors]
    return errors[0]


# Grammar.


def test_load_spec_full_grammar(repo: Path) -> None:
    spec = load(
        repo,
        """\
        name: rf-grid
        method: grid
        metric: {name: avg_prec, goal: maximize}
        parameters:
          train.n_est: {values: [100, 200, 300]}
          train.min_split: [8, 16, 32]
          train.max_depth: {min: 4, max: 12, step: 4}
          other.yaml:aug.p: {values: [0.1, 0.9]}
          +train.new: {value: x}
        max_experiments: 200
        seed: 0
        jobs: 2
        timeout: 20m
        """,
    )
    assert spec.name == "rf-grid"
    assert spec.method == "grid"
    assert spec.metric is not None
    assert spec.metric.name == "avg_prec"
    assert spec.metric.goal == "maximize"
    assert [p.values for p in spec.parameters] == [
        (100, 200, 300),
        (8, 16, 32),
        (4, 8, 12),
        (0.1, 0.9),
        ("x",),
    ]
    assert spec.max_experiments == 200
    assert spec.seed == 0
    assert spec.jobs == 2
    assert spec.timeout == 1200.0
    assert spec.source == "sweep.yaml"


def test_load_spec_defaults(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.n_est: [1, 2]\n")
    assert spec.name == "sweep"
    assert spec.method == "grid"
    assert spec.metric is None
    assert spec.max_experiments == DEFAULT_GRID_MAX_EXPERIMENTS
    assert spec.seed is None
    assert spec.jobs is None
    assert spec.timeout is None


def test_load_spec_parameter_positions(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.n_est: [1, 2]\n  train.lr: [0.1]\n")
    assert (spec.parameters[1].line, spec.parameters[1].column) == (3, 3)


def test_load_spec_text_overrides_file(repo: Path) -> None:
    spec = load_spec(
        repo / "missing.yaml",
        repo_root=repo,
        text="parameters:\n  train.n_est: [5]\n",
        source="<inline>",
    )
    assert spec.parameters[0].values == (5,)
    assert spec.source == "<inline>"


def test_load_spec_metric_file_prefix(repo: Path) -> None:
    spec = load(
        repo,
        "metric: {name: 'eval/metrics.json:avg_prec', goal: minimize}\n"
        "parameters:\n  train.n_est: [1]\n",
    )
    assert spec.metric is not None
    assert spec.metric.file == "eval/metrics.json"
    assert spec.metric.name == "avg_prec"
    assert spec.metric.goal == "minimize"


def test_parse_param_key_forms() -> None:
    assert parse_param_key("train.lr") == ParamKey("params.yaml", "train.lr", add=False)
    assert parse_param_key("other.yaml:aug.p") == ParamKey("other.yaml", "aug.p", add=False)
    assert parse_param_key("+train.new") == ParamKey("params.yaml", "train.new", add=True)
    assert parse_param_key("+other.yaml:a.b") == ParamKey("other.yaml", "a.b", add=True)
    assert parse_param_key("other.yaml:+a.b") == ParamKey("other.yaml", "a.b", add=True)
    assert parse_param_key("./params.yaml:a") == ParamKey("params.yaml", "a", add=False)


def test_param_key_display_and_override_target() -> None:
    assert parse_param_key("train.lr").display == "train.lr"
    assert parse_param_key("other.yaml:aug.p").display == "other.yaml:aug.p"
    assert parse_param_key("+train.new").override_target == "++train.new"
    assert parse_param_key("+other.yaml:a.b").override_target == "other.yaml:++a.b"
    assert parse_param_key("other.yaml:a.b").override_target == "other.yaml:a.b"


def test_load_spec_added_key_may_be_new(repo: Path) -> None:
    spec = load(repo, "parameters:\n  +train.brand_new.deep: [1]\n")
    assert spec.parameters[0].key.add


def test_load_spec_list_index_key(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.layers.1: [128]\n")
    assert spec.parameters[0].key.path == "train.layers.1"


def test_load_spec_grid_float_range(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.lr: {min: 0.1, max: 0.5, step: 0.1}\n")
    assert spec.parameters[0].values == (0.1, 0.2, 0.3, 0.4, 0.5)


def test_load_spec_grid_range_stops_below_max(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.n_est: {min: 1, max: 10, step: 4}\n")
    assert spec.parameters[0].values == (1, 5, 9)


def test_load_spec_mixed_int_float_allowed(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.lr: [0, 0.5, 1]\n")
    assert spec.parameters[0].values == (0, 0.5, 1)


def test_load_spec_null_mixes_with_any_type(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.max_depth: [null, 4, 8]\n")
    assert spec.parameters[0].values == (None, 4, 8)


def test_load_spec_random_defaults_seed(repo: Path) -> None:
    spec = load(
        repo,
        "method: random\nmax_experiments: 3\nparameters:\n"
        "  train.lr: {distribution: uniform, min: 0.1, max: 0.2}\n",
    )
    assert spec.seed == 0


def test_load_spec_random_infers_distribution(repo: Path) -> None:
    spec = load(
        repo,
        "method: random\nmax_experiments: 3\nparameters:\n"
        "  train.n_est: {min: 10, max: 20}\n  train.lr: {min: 0.1, max: 0.2}\n",
    )
    assert [p.distribution for p in spec.parameters] == ["int_uniform", "uniform"]


def test_load_spec_random_log_uniform_values_alias(repo: Path) -> None:
    spec = load(
        repo,
        "method: random\nmax_experiments: 3\nparameters:\n"
        "  train.lr: {distribution: log_uniform_values, min: 0.001, max: 0.1}\n",
    )
    assert spec.parameters[0].distribution == "log_uniform"


def test_load_spec_normal_defaults(repo: Path) -> None:
    spec = load(
        repo,
        "method: random\nmax_experiments: 3\nparameters:\n  train.lr: {distribution: normal}\n",
    )
    assert (spec.parameters[0].mu, spec.parameters[0].sigma) == (0, 1)


def test_load_spec_cap_lowers_random_count(repo: Path) -> None:
    spec = load(
        repo,
        "method: random\nmax_experiments: 50\nparameters:\n  train.lr: {min: 0.1, max: 0.2}\n",
        max_experiments_cap=5,
    )
    assert spec.max_experiments == 5


def test_load_spec_cap_above_spec_value_keeps_spec(repo: Path) -> None:
    spec = load(
        repo,
        "method: random\nmax_experiments: 4\nparameters:\n  train.lr: {min: 0.1, max: 0.2}\n",
        max_experiments_cap=10,
    )
    assert spec.max_experiments == 4


def test_load_spec_to_dict_is_plain(repo: Path) -> None:
    spec = load(
        repo,
        "metric: {name: avg_prec, goal: maximize}\nparameters:\n  train.n_est: [1, 2]\n",
    )
    data = spec.to_dict()
    assert data["parameters"][0] == {
        "key": "train.n_est",
        "file": "params.yaml",
        "path": "train.n_est",
        "add": False,
        "values": [1, 2],
    }
    assert data["metric"] == {"name": "avg_prec", "file": None, "goal": "maximize"}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("90s", 90.0),
        ("20m", 1200.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("2m30s", 150.0),
        ("0.5h", 1800.0),
        (None, None),
    ],
)
def test_parse_timeout_forms(text: object, seconds: float | None) -> None:
    assert parse_timeout(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "-5", "0", "0s", "h", True, [1], "1d"])
def test_parse_timeout_invalid(text: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        parse_timeout(text)


# YAML 1.2 typing, as DVC reads params.


def test_load_spec_yaml12_typing(repo: Path) -> None:
    spec = load(
        repo,
        """\
        parameters:
          +t.float: [1e-3]
          +t.on: [on]
          +t.no: [no]
          +t.octal: ["x", "010"]
          +t.ten: [010]
          +t.time: ['12:30']
          +t.bool: [true]
        """,
    )
    values = {p.key.path: p.values for p in spec.parameters}
    assert values["t.float"] == (0.001,)
    assert type(values["t.float"][0]) is float  # type: ignore[index]
    assert values["t.on"] == ("on",)
    assert values["t.no"] == ("no",)
    assert values["t.octal"] == ("x", "010")
    assert values["t.ten"] == (10,)
    assert type(values["t.ten"][0]) is int  # type: ignore[index]
    assert values["t.time"] == ("12:30",)
    assert values["t.bool"] == (True,)


def test_load_spec_values_are_plain_python(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.opt: [{name: sgd, beta: 0.5}]\n")
    value = spec.parameters[0].values[0]  # type: ignore[index]
    assert type(value) is dict
    assert type(value["beta"]) is float


def test_load_spec_params_file_yaml12(repo: Path) -> None:
    (repo / "params.yaml").write_text("flags:\n  on: 1\n", encoding="utf-8")
    spec = load(repo, "parameters:\n  flags.on: [2]\n")
    assert spec.parameters[0].key.path == "flags.on"


# Errors: every message names file:line:column.


def test_load_spec_error_min_greater_than_max(repo: Path) -> None:
    error = only_error(
        repo,
        """\
        method: random
        max_experiments: 5
        parameters:
          train.lr:
            distribution: log_uniform
            min: 0.1
            max: 0.01
        """,
    )
    assert str(error).startswith(
        "sweep.yaml:7:10: 'max' must be greater than 'min' for train.lr (got min=0.1, max=0.01)"
    )


def test_load_spec_error_is_exit_code_2(repo: Path) -> None:
    with pytest.raises(SpecErrorGroup) as caught:
        load(repo, "parameters: 5\n")
    assert caught.value.exit_code == ExitCode.INVALID_INPUT


def test_load_spec_collects_all_errors(repo: Path) -> None:
    errors = errors_of(
        repo,
        """\
        name: bad name
        method: grd
        metrc: {name: x}
        parameters:
          train.n_estt: [1, 2]
          train.min_split: [1, "x"]
          train.lr: {distribution: uniform, min: 0.1, max: 0.01}
        timeout: 5x
        """,
    )
    locations = sorted(error.location for error in errors)
    assert locations == sorted(
        [
            "sweep.yaml:1:7",
            "sweep.yaml:2:9",
            "sweep.yaml:3:1",
            "sweep.yaml:5:3",
            "sweep.yaml:6:24",
            "sweep.yaml:7:52",
            "sweep.yaml:8:10",
        ]
    )


def test_load_spec_error_unknown_top_level_key(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  train.n_est: [1]\nmax_experiment: 3\n")
    assert error.location == "sweep.yaml:3:1"
    assert "unknown top-level key 'max_experiment'; did you mean 'max_experiments'?" in str(error)


def test_load_spec_error_key_not_in_params(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  train.n_estt: [1]\n")
    assert error.location == "sweep.yaml:2:3"
    assert "key 'train.n_estt' not found in params.yaml; did you mean 'train.n_est'?" in str(error)
    assert "'+train.n_estt'" in str(error)


def test_load_spec_error_params_file_missing(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  missing.yaml:a.b: [1]\n")
    assert error.location == "sweep.yaml:2:3"
    assert "params file 'missing.yaml' for missing.yaml:a.b not found" in str(error)


def test_load_spec_error_params_file_invalid_yaml(repo: Path) -> None:
    (repo / "other.yaml").write_text("aug: [1,\n", encoding="utf-8")
    error = only_error(repo, "parameters:\n  other.yaml:aug.p: [1]\n")
    assert error.location == "sweep.yaml:2:3"
    assert "cannot read params file 'other.yaml'" in str(error)


def test_load_spec_error_params_file_outside_repo(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  ../x.yaml:a: [1]\n")
    assert "outside the repository" in str(error)


def test_load_spec_error_key_not_addressable(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  '+train.learning rate': [1]\n")
    assert error.location == "sweep.yaml:2:3"
    assert "key 'train.learning rate' in '+train.learning rate' cannot be set with" in str(error)


@pytest.mark.parametrize("key", ["+a..b", "+1", "+a.b c", "+a/b", "+a@b", "+.a", "+a.", "+é"])
def test_load_spec_error_key_grammar(repo: Path, key: str) -> None:
    error = only_error(repo, f"parameters:\n  '{key}': [1]\n")
    assert "cannot be set with 'dvc exp run -S'" in str(error)


@pytest.mark.parametrize("key", ["+a-b", "+$a", "+_a.0.b", "+a.b_c.d-e"])
def test_load_spec_key_grammar_accepted(repo: Path, key: str) -> None:
    spec = load(repo, f"parameters:\n  '{key}': [1]\n")
    assert spec.parameters[0].key.path == key[1:]


@pytest.mark.parametrize(
    "name", ["bad name", "a..b", "-a", "a.lock", "a.", "a/b", "a~b", "a^b", "a:b", "x" * 101]
)
def test_load_spec_error_invalid_name(repo: Path, name: str) -> None:
    error = only_error(repo, f"name: '{name}'\nparameters:\n  train.n_est: [1]\n")
    assert error.location == "sweep.yaml:1:7"
    assert f"invalid sweep name {name!r}" in str(error)


def test_load_spec_error_name_not_string(repo: Path) -> None:
    error = only_error(repo, "name: 5\nparameters:\n  train.n_est: [1]\n")
    assert "'name' must be a string (got 5)" in str(error)


def test_load_spec_error_invalid_method(repo: Path) -> None:
    error = only_error(repo, "method: bayes\nparameters:\n  train.n_est: [1]\n")
    assert error.location == "sweep.yaml:1:9"
    assert "invalid method 'bayes'" in str(error)


def test_load_spec_error_metric_not_mapping(repo: Path) -> None:
    error = only_error(repo, "metric: avg_prec\nparameters:\n  train.n_est: [1]\n")
    assert error.location == "sweep.yaml:1:9"
    assert "'metric' must be a mapping (got 'avg_prec')" in str(error)


def test_load_spec_error_metric_goal(repo: Path) -> None:
    error = only_error(repo, "metric: {name: a, goal: max}\nparameters:\n  train.n_est: [1]\n")
    assert error.location == "sweep.yaml:1:25"
    assert "'metric.goal' must be maximize or minimize (got 'max')" in str(error)


def test_load_spec_error_metric_unknown_key(repo: Path) -> None:
    error = only_error(
        repo, "metric: {name: a, goal: maximize, gaol: x}\nparameters:\n  train.n_est: [1]\n"
    )
    assert "unknown key 'gaol' in 'metric'; did you mean 'goal'?" in str(error)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("seed: x", "'seed' must be an integer (got 'x')"),
        ("seed: true", "'seed' must be an integer (got True)"),
        ("jobs: 0", "'jobs' must be an integer >= 1 (got 0)"),
        ("jobs: 1.5", "'jobs' must be an integer >= 1 (got 1.5)"),
        ("max_experiments: -1", "'max_experiments' must be an integer >= 1 (got -1)"),
        ("timeout: -5", "invalid timeout -5: it must be a positive duration"),
        ("timeout: 5 minutes", "invalid timeout '5 minutes': it must be a positive duration"),
    ],
)
def test_load_spec_error_wrong_types(repo: Path, line: str, message: str) -> None:
    error = only_error(repo, f"parameters:\n  train.n_est: [1]\n{line}\n")
    assert error.location.startswith("sweep.yaml:3:")
    assert message in str(error)


def test_load_spec_error_no_parameters(repo: Path) -> None:
    error = only_error(repo, "name: x\n")
    assert error.location == "sweep.yaml:1:1"
    assert "the spec has no 'parameters'" in str(error)


def test_load_spec_error_empty_parameters(repo: Path) -> None:
    error = only_error(repo, "parameters: {}\n")
    assert "'parameters' must be a non-empty mapping" in str(error)


def test_load_spec_error_not_a_mapping(repo: Path) -> None:
    error = only_error(repo, "- a\n- b\n")
    assert error.location == "sweep.yaml:1:1"


def test_load_spec_error_invalid_yaml(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  train.n_est: [1, 2\n")
    assert error.location.startswith("sweep.yaml:3:")
    assert "invalid YAML" in str(error)


def test_load_spec_error_duplicate_yaml_key(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  train.n_est: [1]\n  train.n_est: [2]\n")
    assert "invalid YAML" in str(error)


def test_load_spec_error_spec_missing(tmp_path: Path) -> None:
    with pytest.raises(SpecErrorGroup) as caught:
        load_spec(tmp_path / "sweep.yaml", repo_root=tmp_path)
    assert "sweep spec not found" in str(caught.value)


def test_load_spec_error_mixed_types(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  train.criterion: [gini, 1, entropy]\n")
    assert error.location == "sweep.yaml:2:27"
    assert "values of parameter train.criterion mix types: number 1 among string values" in str(
        error
    )


def test_load_spec_error_bool_int_mix(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  train.n_est: [1, true]\n")
    assert "mix types: bool True among number values" in str(error)


def test_load_spec_error_scalar_parameter(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  train.n_est: 5\n")
    assert error.location == "sweep.yaml:2:16"
    assert "must be a list of values or a mapping (got 5)" in str(error)
    assert "train.n_est: [5]" in str(error)


def test_load_spec_error_empty_values(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  train.n_est: {values: []}\n")
    assert "'values' of parameter train.n_est must be a non-empty list" in str(error)


def test_load_spec_error_unknown_parameter_field(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  train.n_est: {valeus: [1]}\n")
    assert error.location == "sweep.yaml:2:17"
    assert "unknown key 'valeus' for parameter train.n_est; did you mean 'values'?" in str(error)


def test_load_spec_error_unknown_distribution(repo: Path) -> None:
    error = only_error(
        repo,
        "method: random\nmax_experiments: 2\nparameters:\n"
        "  train.lr: {distribution: unifrom, min: 0, max: 1}\n",
    )
    assert "unknown distribution 'unifrom' for parameter train.lr; did you mean 'uniform'?" in (
        str(error)
    )


def test_load_spec_error_field_not_for_distribution(repo: Path) -> None:
    error = only_error(
        repo,
        "method: random\nmax_experiments: 2\nparameters:\n"
        "  train.lr: {distribution: uniform, min: 0, max: 1, sigma: 2}\n",
    )
    assert "'sigma' does not apply to distribution uniform of parameter train.lr" in str(error)


@pytest.mark.parametrize(
    "body",
    [
        "{distribution: uniform, min: 0, max: 1}",
        "{distribution: log_uniform, min: 0.1, max: 1}",
        "{distribution: int_uniform, min: 0, max: 1}",
        "{distribution: normal, mu: 0, sigma: 1}",
        "{distribution: q_uniform, min: 0, max: 1, q: 0.5}",
    ],
)
def test_load_spec_error_random_distribution_in_grid(repo: Path, body: str) -> None:
    error = only_error(repo, f"parameters:\n  train.lr: {body}\n")
    assert "is only for method: random" in str(error)


def test_load_spec_error_grid_range_without_step(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  train.n_est: {min: 1, max: 5}\n")
    assert "grid parameter train.n_est has 'min'/'max' but no 'step'" in str(error)


def test_load_spec_error_grid_probabilities(repo: Path) -> None:
    error = only_error(
        repo, "parameters:\n  train.n_est: {values: [1, 2], probabilities: [0.5, 0.5]}\n"
    )
    assert "'probabilities' of parameter train.n_est only apply to method: random" in str(error)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{min: 5, max: 1, step: 1}", "'max' must be greater than 'min' for train.n_est"),
        ("{min: 1, max: 5, step: 0}", "'step' must be greater than 0 for train.n_est"),
        ("{min: 1, max: x, step: 1}", "'max' of parameter train.n_est must be a finite number"),
        ("{min: 1, step: 1}", "parameter train.n_est needs 'max'"),
        ("{min: 1, max: .inf, step: 1}", "must be a finite number (got inf)"),
    ],
)
def test_load_spec_error_grid_range(repo: Path, body: str, message: str) -> None:
    error = only_error(repo, f"parameters:\n  train.n_est: {body}\n")
    assert message in str(error)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{distribution: log_uniform, min: 0, max: 1}", "'min' must be greater than 0"),
        ("{distribution: log_uniform, min: -1, max: 1}", "'min' must be greater than 0"),
        ("{distribution: q_log_uniform, min: 0, max: 8, q: 1}", "'min' must be greater than 0"),
        ("{distribution: normal, sigma: 0}", "'sigma' must be greater than 0"),
        ("{distribution: q_normal, q: 0}", "'q' must be greater than 0"),
        ("{distribution: q_uniform, min: 0.1, max: 0.2, q: 1}", "no multiple of q=1"),
        ("{distribution: int_uniform, min: 0.5, max: 3}", "'min' of parameter train.lr must be an"),
        ("{distribution: uniform, min: 1, max: 1}", "'max' must be greater than 'min'"),
        ("{distribution: uniform, max: 1}", "parameter train.lr needs 'min'"),
        ("{values: [1, 2], probabilities: [0.5, 0.6]}", "must sum to 1"),
        ("{values: [1, 2], probabilities: [1.0]}", "has 1 entries for 2 values"),
        ("{values: [1, 2], probabilities: [-0.5, 1.5]}", "must be a list of numbers >= 0"),
        ("{min: 0, max: 1, step: 0.000001}", "has 1000001 values"),
    ],
)
def test_load_spec_error_random_distribution(repo: Path, body: str, message: str) -> None:
    error = only_error(
        repo, f"method: random\nmax_experiments: 2\nparameters:\n  train.lr: {body}\n"
    )
    assert error.location.startswith("sweep.yaml:4:")
    assert message in str(error)


def test_load_spec_error_random_needs_max_experiments(repo: Path) -> None:
    error = only_error(repo, "method: random\nparameters:\n  train.lr: {min: 0.1, max: 0.2}\n")
    assert error.location == "sweep.yaml:1:9"
    assert "random search needs 'max_experiments'" in str(error)


def test_load_spec_error_grid_too_large(repo: Path) -> None:
    error = only_error(
        repo,
        "parameters:\n  train.n_est: [1, 2, 3]\n  train.min_split: [1, 2]\nmax_experiments: 5\n",
    )
    assert error.location == "sweep.yaml:4:18"
    assert "the grid has 6 points (3 x 2), more than max_experiments=5" in str(error)
    assert "set 'max_experiments: 6'" in str(error)


def test_load_spec_error_grid_larger_than_default(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  train.lr: {min: 0, max: 1, step: 0.0001}\n")
    assert f"the grid has 10001 points (10001), more than max_experiments={1000}" in str(error)
    assert "add 'max_experiments: 10001'" in str(error)


def test_load_spec_error_grid_larger_than_cap(repo: Path) -> None:
    error = only_error(
        repo, "parameters:\n  train.n_est: [1, 2, 3]\nmax_experiments: 10\n", max_experiments_cap=2
    )
    assert "the grid has 3 points (3), more than max_experiments=2" in str(error)
    assert "the caller limits a sweep to 2 experiments" in str(error)


def test_load_spec_grid_duplicates_count_once(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.n_est: [1, 1, 2]\nmax_experiments: 2\n")
    assert spec.max_experiments == 2


def test_load_spec_error_duplicate_parameter(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  train.n_est: [1]\n  params.yaml:train.n_est: [2]\n")
    assert error.location == "sweep.yaml:3:3"
    assert "parameter train.n_est is given twice (also as 'train.n_est')" in str(error)


def test_load_spec_error_overlapping_parameters(repo: Path) -> None:
    error = only_error(
        repo, "parameters:\n  train.opt: [{name: a, beta: 1}]\n  train.opt.name: [b]\n"
    )
    assert "parameter train.opt.name overlaps with 'train.opt'" in str(error)


def test_load_spec_error_dict_value_would_merge(repo: Path) -> None:
    error = only_error(repo, "parameters:\n  train.opt: [{name: sgd}]\n")
    assert error.location == "sweep.yaml:2:3"
    assert "would be merged into the mapping" in str(error)


def test_load_spec_dict_value_with_every_key(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.opt: [{name: sgd, beta: 0.5}]\n")
    assert spec.parameters[0].values == ({"name": "sgd", "beta": 0.5},)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("'???'", "OmegaConf's marker for a missing value"),
        ('"a\\0b"', "NUL"),
        ('"a\\x85b"', "U+0085"),
        ("2024-01-01", "dates and timestamps"),
        ("{1: a}", "dict key 1 cannot be written"),
        ("{true_: 1, 'a b': 2}", "dict key 'a b' cannot be written"),
        ("{'null': 1}", "dict key 'null' cannot be written"),
    ],
)
def test_load_spec_error_value_not_expressible(repo: Path, value: str, message: str) -> None:
    error = only_error(repo, f"parameters:\n  +t.x: [{value}]\n")
    assert error.location == "sweep.yaml:2:10"
    assert message in str(error)


def test_load_spec_non_finite_floats_allowed(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.lr: [.inf, -.inf, .nan]\n")
    values = spec.parameters[0].values
    assert values is not None
    assert values[0] == math.inf
    assert values[1] == -math.inf
    assert math.isnan(values[2])
