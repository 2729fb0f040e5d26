"""Planning points from a spec: grid expansion, random draws and their bounds, rendering."""

from __future__ import annotations

import logging
import math
import random
import textwrap
from pathlib import Path
from typing import Any

import pytest

from dvc_sweep.plan import (
    Point,
    _sampler,
    draw_int_uniform,
    draw_log_uniform,
    draw_normal,
    draw_q_log_uniform,
    draw_q_normal,
    draw_q_uniform,
    draw_uniform,
    plan_points,
    render_override,
    render_value,
)
from dvc_sweep.spec import SweepSpec, load_spec, parse_param_key

DRAWS = 20_000


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "params.yaml").write_text(
        "train:\n  n_est: 1\n  min_split: 2\n  lr: 0.1\n  tag: x\n", encoding="utf-8"
    )
    (tmp_path / "other.yaml").write_text("aug:\n  p: 0.5\n", encoding="utf-8")
    return tmp_path


def load(repo: Path, text: str) -> SweepSpec:
    path = repo / "sweep.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_spec(path, repo_root=repo)


RANDOM_SPEC = """\
name: rs
method: random
max_experiments: 20
seed: {seed}
parameters:
  train.n_est: {{distribution: int_uniform, min: 10, max: 500}}
  train.lr: {{distribution: log_uniform, min: 0.0001, max: 0.1}}
  train.tag: {{values: [a, b, c], probabilities: [0.2, 0.3, 0.5]}}
"""


# Grid.


def test_plan_points_grid_product_order(repo: Path) -> None:
    spec = load(repo, "name: g\nparameters:\n  train.n_est: [1, 2]\n  train.tag: [a, b]\n")
    points = plan_points(spec)
    assert [point.params for point in points] == [
        {"train.n_est": 1, "train.tag": "a"},
        {"train.n_est": 1, "train.tag": "b"},
        {"train.n_est": 2, "train.tag": "a"},
        {"train.n_est": 2, "train.tag": "b"},
    ]


def test_plan_points_grid_names_and_overrides(repo: Path) -> None:
    spec = load(repo, "name: g\nparameters:\n  train.n_est: [1]\n  other.yaml:aug.p: [0.25]\n")
    assert plan_points(spec) == [
        Point(
            index=1,
            name="g-1",
            params={"train.n_est": 1, "other.yaml:aug.p": 0.25},
            overrides=("train.n_est=1", "other.yaml:aug.p=0.25"),
        )
    ]


def test_plan_points_grid_duplicates_run_once(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.n_est: [1, 2, 1, 2]\n  train.tag: [a, a]\n")
    assert [point.params["train.n_est"] for point in plan_points(spec)] == [1, 2]


def test_plan_points_grid_keeps_int_float_bool_apart(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.lr: [1, 1.0, 1]\n")
    assert [point.overrides for point in plan_points(spec)] == [("train.lr=1",), ("train.lr=1.0",)]


def test_plan_points_grid_range(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.n_est: {min: 4, max: 12, step: 4}\n")
    assert [point.params["train.n_est"] for point in plan_points(spec)] == [4, 8, 12]


def test_plan_points_added_key_override(repo: Path) -> None:
    spec = load(repo, "parameters:\n  +train.new: [a b]\n")
    assert plan_points(spec)[0].overrides == ("++train.new='a b'",)


def test_plan_points_stable(repo: Path) -> None:
    spec = load(repo, "parameters:\n  train.n_est: [3, 1, 2]\n")
    assert plan_points(spec) == plan_points(spec)


# Random.


def test_plan_points_random_same_seed_same_points(repo: Path) -> None:
    first = plan_points(load(repo, RANDOM_SPEC.format(seed=7)))
    second = plan_points(load(repo, RANDOM_SPEC.format(seed=7)))
    assert first == second


def test_plan_points_random_other_seed_other_points(repo: Path) -> None:
    first = plan_points(load(repo, RANDOM_SPEC.format(seed=7)))
    second = plan_points(load(repo, RANDOM_SPEC.format(seed=8)))
    assert [p.params for p in first] != [p.params for p in second]


def test_plan_points_random_count_and_names(repo: Path) -> None:
    points = plan_points(load(repo, RANDOM_SPEC.format(seed=1)))
    assert [point.name for point in points] == [f"rs-{index}" for index in range(1, 21)]


def test_plan_points_random_points_distinct(repo: Path) -> None:
    points = plan_points(load(repo, RANDOM_SPEC.format(seed=1)))
    assert len({point.overrides for point in points}) == len(points)


def test_plan_points_random_prefix_stable(repo: Path) -> None:
    # More points with the same seed extend the list, so finished experiments are reused.
    few = plan_points(load(repo, RANDOM_SPEC.format(seed=3)))
    spec = load(
        repo, RANDOM_SPEC.format(seed=3).replace("max_experiments: 20", "max_experiments: 30")
    )
    assert plan_points(spec)[:20] == few


def test_plan_points_random_small_space_warns(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    spec = load(
        repo,
        "method: random\nmax_experiments: 5\nparameters:\n  train.tag: [a, b]\n",
    )
    with caplog.at_level(logging.WARNING, logger="dvc_sweep.plan"):
        points = plan_points(spec)
    assert sorted(point.params["train.tag"] for point in points) == ["a", "b"]
    assert "found only 2 distinct points of max_experiments=5" in caplog.text


def test_plan_points_random_zero_probability_never_drawn(repo: Path) -> None:
    spec = load(
        repo,
        "method: random\nmax_experiments: 3\nparameters:\n"
        "  train.tag: {values: [a, b, c], probabilities: [0.5, 0, 0.5]}\n"
        "  train.n_est: {min: 1, max: 1000}\n",
    )
    tags = {point.params["train.tag"] for point in plan_points(spec)}
    assert "b" not in tags


def test_plan_points_random_range_with_step(repo: Path) -> None:
    spec = load(
        repo,
        "method: random\nmax_experiments: 4\nparameters:\n"
        "  train.lr: {min: 0.1, max: 0.4, step: 0.1}\n",
    )
    values = sorted(point.params["train.lr"] for point in plan_points(spec))
    assert values == [0.1, 0.2, 0.3, 0.4]


def test_draw_categorical_frequencies(repo: Path) -> None:
    spec = load(
        repo,
        "method: random\nmax_experiments: 1\nparameters:\n"
        "  train.tag: {values: [a, b], probabilities: [0.9, 0.1]}\n",
    )
    draw = _sampler(spec.parameters[0])
    rng = random.Random(0)
    share = sum(draw(rng) == "a" for _ in range(DRAWS)) / DRAWS
    assert 0.88 < share < 0.92


# Bounds of each distribution, checked over many seeded draws.


def draws(function: Any, *args: Any) -> list[Any]:
    rng = random.Random(1234)
    return [function(rng, *args) for _ in range(DRAWS)]


def test_draw_uniform_bounds() -> None:
    values = draws(draw_uniform, 2.0, 3.0)
    assert min(values) >= 2.0
    assert max(values) < 3.0
    assert min(values) < 2.001
    assert max(values) > 2.999


def test_draw_uniform_excludes_max_after_rounding() -> None:
    # With bounds one ulp apart every draw rounds to low or high, and high is drawn again.
    low = 1.0
    high = math.nextafter(low, 2.0)
    assert set(draws(draw_uniform, low, high)) == {low}


def test_draw_int_uniform_both_bounds_inclusive() -> None:
    values = draws(draw_int_uniform, 1, 4)
    assert set(values) == {1, 2, 3, 4}
    assert all(type(value) is int for value in values)


def test_draw_log_uniform_bounds() -> None:
    values = draws(draw_log_uniform, 1e-4, 1e-1)
    assert min(values) >= 1e-4
    assert max(values) < 1e-1


def test_draw_log_uniform_is_uniform_in_log() -> None:
    values = draws(draw_log_uniform, 1e-4, 1.0)
    share = sum(value < 1e-2 for value in values) / DRAWS
    assert 0.47 < share < 0.53


def test_draw_normal_moments() -> None:
    values = draws(draw_normal, 5.0, 2.0)
    mean = sum(values) / DRAWS
    std = math.sqrt(sum((value - mean) ** 2 for value in values) / DRAWS)
    assert abs(mean - 5.0) < 0.1
    assert abs(std - 2.0) < 0.1


def test_draw_q_uniform_both_bounds_inclusive() -> None:
    values = draws(draw_q_uniform, 0.0, 1.0, 0.25)
    assert set(values) == {0.0, 0.25, 0.5, 0.75, 1.0}


def test_draw_q_uniform_bounds_not_multiples() -> None:
    values = draws(draw_q_uniform, 0.3, 1.1, 0.5)
    assert set(values) == {0.5, 1.0}


def test_draw_q_uniform_int_q_gives_ints() -> None:
    values = draws(draw_q_uniform, 0, 100, 10)
    assert all(type(value) is int for value in values)
    assert set(values) == set(range(0, 101, 10))


def test_draw_q_uniform_decimal_multiples() -> None:
    values = draws(draw_q_uniform, 0.0, 1.0, 0.1)
    assert set(values) == {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0}


def test_draw_q_log_uniform_bounds() -> None:
    values = draws(draw_q_log_uniform, 1, 1000, 1)
    assert min(values) == 1
    assert max(values) == 1000


def test_draw_q_normal_multiples() -> None:
    values = draws(draw_q_normal, 0.0, 10.0, 5)
    assert all(value % 5 == 0 for value in values)


def test_plan_points_random_every_distribution(repo: Path) -> None:
    spec = load(
        repo,
        """\
        method: random
        max_experiments: 50
        seed: 11
        parameters:
          +d.uniform: {distribution: uniform, min: -1, max: 1}
          +d.int_uniform: {distribution: int_uniform, min: -3, max: 3}
          +d.log_uniform: {distribution: log_uniform, min: 0.01, max: 10}
          +d.normal: {distribution: normal, mu: 100, sigma: 1}
          +d.q_uniform: {distribution: q_uniform, min: 0, max: 10, q: 2}
          +d.q_log_uniform: {distribution: q_log_uniform, min: 1, max: 64, q: 1}
          +d.q_normal: {distribution: q_normal, mu: 0, sigma: 3, q: 0.5}
          +d.categorical: {distribution: categorical, values: [x, y]}
          +d.constant: {distribution: constant, value: 7}
        """,
    )
    points = plan_points(spec)
    assert len(points) == 50
    for point in points:
        params = point.params
        assert -1 <= params["d.uniform"] < 1
        assert -3 <= params["d.int_uniform"] <= 3
        assert 0.01 <= params["d.log_uniform"] < 10
        assert 90 < params["d.normal"] < 110
        assert params["d.q_uniform"] in {0, 2, 4, 6, 8, 10}
        assert 1 <= params["d.q_log_uniform"] <= 64
        assert (params["d.q_normal"] * 2).is_integer()
        assert params["d.categorical"] in {"x", "y"}
        assert params["d.constant"] == 7


# Rendering.


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-12, "-12"),
        (0.1, "0.1"),
        (1e-05, "1e-05"),
        (1e16, "1e+16"),
        (-0.0, "-0.0"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (math.nan, "nan"),
        ("gini", "gini"),
        ("a_b-c", "a_b-c"),
        ("a,b", "'a,b'"),
        ("a b", "'a b'"),
        ("1e-3", "'1e-3'"),
        ("100", "'100'"),
        ("true", "'true'"),
        ("Null", "'Null'"),
        ("nan", "'nan'"),
        ("", "''"),
        ("it's", '"it\'s"'),
        ('it\'s "x"', "'it\\'s \"x\"'"),
        ("a\\", "'a\\\\'"),
        ("${x}", "'\\${x}'"),
        ("(x)", "'(x)'"),
        ("[1]", "'[1]'"),
        ("a=b", "'a=b'"),
        ([1, "a,b", [None]], "[1,'a,b',[null]]"),
        ({"a": 1, "b": {"c": "x y"}}, "{a:1,b:{c:'x y'}}"),
        ([], "[]"),
        ({}, "{}"),
        ((1, 2), "[1,2]"),
    ],
)
def test_render_value_literals(value: object, rendered: str) -> None:
    assert render_value(value) == rendered


@pytest.mark.parametrize("value", ["???", "a\x00b", "a\x85b", {1: 2}, {"true": 1}, object()])
def test_render_value_rejects_inexpressible(value: object) -> None:
    with pytest.raises(ValueError):
        render_value(value)


def test_render_override_forms() -> None:
    assert render_override(parse_param_key("train.tag"), "a,b") == "train.tag='a,b'"
    assert render_override(parse_param_key("other.yaml:aug.p"), 0.5) == "other.yaml:aug.p=0.5"
    assert render_override(parse_param_key("+a.b"), None) == "++a.b=null"
    assert render_override(parse_param_key("+o.yaml:a"), [1]) == "o.yaml:++a=[1]"
