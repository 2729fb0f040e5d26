"""Expand a `SweepSpec` into points and render each point as ``dvc exp run -S`` overrides.

DVC parses every ``-S`` argument with Hydra's override grammar and applies it with
OmegaConf, then writes the params file with ruamel.yaml. `render_value` writes values so
that they survive all three with their type: a string that Hydra would read as a number,
boolean or null, or that contains characters its grammar reserves, is quoted, and
OmegaConf interpolations (``${...}``) inside strings are escaped.

Random draws use `random.Random(spec.seed)` alone, so the same seed gives the same points
on every platform, with or without numpy.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dvc_sweep.spec import (
    HYDRA_KEYWORDS,
    Parameter,
    ParamKey,
    SweepSpec,
    unsupported_value_reason,
)

logger = logging.getLogger(__name__)

# A string that Hydra reads as a string when written bare: one ID token of its lexer.
_BARE_STRING_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INTERPOLATION_RE = re.compile(r"(\\*)\$\{")
# Random search stops drawing after this many draws per requested point when it keeps
# drawing points it already has (a small discrete search space).
_DRAWS_PER_POINT = 1000


@dataclass(frozen=True)
class Point:
    """One set of param values to run as a DVC experiment."""

    index: int
    name: str
    params: dict[str, Any]
    overrides: tuple[str, ...]


def plan_points(spec: SweepSpec) -> list[Point]:
    """Expand the spec into points, numbered from 1 in a stable order.

    A grid yields the cartesian product of the parameters' distinct values, the first
    parameter varying slowest. Random search draws `spec.max_experiments` distinct points.
    When the search space has fewer points than that, it stops with a warning after
    `_DRAWS_PER_POINT` draws per requested point.
    """
    assignments = _grid(spec.parameters) if spec.method == "grid" else _random(spec)
    points = []
    for index, values in enumerate(assignments, start=1):
        params = {
            parameter.key.display: value
            for parameter, value in zip(spec.parameters, values, strict=True)
        }
        overrides = tuple(
            render_override(parameter.key, value)
            for parameter, value in zip(spec.parameters, values, strict=True)
        )
        points.append(
            Point(index=index, name=f"{spec.name}-{index}", params=params, overrides=overrides)
        )
    return points


def _distinct(values: tuple[Any, ...]) -> list[Any]:
    """Drop repeated values, keeping 1, 1.0 and True apart as DVC does."""
    seen: set[str] = set()
    result = []
    for value in values:
        rendered = render_value(value)
        if rendered not in seen:
            seen.add(rendered)
            result.append(value)
    return result


def _grid(parameters: tuple[Parameter, ...]) -> list[tuple[Any, ...]]:
    columns = []
    for parameter in parameters:
        if parameter.values is None:
            raise ValueError(f"grid parameter {parameter.key.display} has no values")
        columns.append(_distinct(parameter.values))
    return list(itertools.product(*columns))


def _random(spec: SweepSpec) -> list[tuple[Any, ...]]:
    rng = random.Random(spec.seed)  # noqa: S311  # search points, not secrets
    draws = [_sampler(parameter) for parameter in spec.parameters]
    requested = spec.max_experiments
    seen: set[tuple[str, ...]] = set()
    result: list[tuple[Any, ...]] = []
    for _ in range(requested * _DRAWS_PER_POINT):
        if len(result) == requested:
            break
        values = tuple(draw(rng) for draw in draws)
        identity = tuple(render_value(value) for value in values)
        if identity not in seen:
            seen.add(identity)
            result.append(values)
    if len(result) < requested:
        logger.warning(
            "random search found only %d distinct points of max_experiments=%d in %d draws; "
            "running %d",
            len(result),
            requested,
            requested * _DRAWS_PER_POINT,
            len(result),
        )
    return result


def _sampler(parameter: Parameter) -> Callable[[random.Random], Any]:
    """Return the function that draws one value of `parameter`."""
    if parameter.values is not None:
        values = parameter.values
        probabilities = parameter.probabilities
        return lambda rng: draw_categorical(rng, values, probabilities)
    low, high, q = parameter.min, parameter.max, parameter.q
    mu = parameter.mu if parameter.mu is not None else 0
    sigma = parameter.sigma if parameter.sigma is not None else 1
    name = parameter.distribution
    bounded = ("uniform", "int_uniform", "log_uniform", "q_uniform", "q_log_uniform")
    if name in bounded and (low is None or high is None):
        raise ValueError(f"distribution {name} of {parameter.key.display} needs min and max")
    if name == "uniform":
        return lambda rng: draw_uniform(rng, low, high)  # type: ignore[arg-type]
    if name == "int_uniform":
        return lambda rng: draw_int_uniform(rng, int(low), int(high))  # type: ignore[arg-type]
    if name == "log_uniform":
        return lambda rng: draw_log_uniform(rng, low, high)  # type: ignore[arg-type]
    if name == "normal":
        return lambda rng: draw_normal(rng, mu, sigma)
    if q is None:
        raise ValueError(f"distribution {name} of {parameter.key.display} needs q")
    if name == "q_uniform":
        return lambda rng: draw_q_uniform(rng, low, high, q)  # type: ignore[arg-type]
    if name == "q_log_uniform":
        return lambda rng: draw_q_log_uniform(rng, low, high, q)  # type: ignore[arg-type]
    if name == "q_normal":
        return lambda rng: draw_q_normal(rng, mu, sigma, q)
    raise ValueError(f"unknown distribution {name!r} of {parameter.key.display}")


def draw_categorical(
    rng: random.Random, values: tuple[Any, ...], probabilities: tuple[float, ...] | None
) -> Any:
    """Pick one of `values`, with the given probabilities or all equally likely."""
    if probabilities is None:
        return rng.choice(values)
    return rng.choices(values, weights=probabilities)[0]


def draw_uniform(rng: random.Random, low: float, high: float) -> float:
    """Draw a float uniformly from [low, high): low is inclusive, high is exclusive.

    A draw that floating-point rounding puts on `high` is drawn again.
    """
    while True:
        value = low + (high - low) * rng.random()
        if low <= value < high:
            return float(value)


def draw_int_uniform(rng: random.Random, low: int, high: int) -> int:
    """Draw an integer uniformly from [low, high]: both bounds are inclusive."""
    return rng.randint(low, high)


def draw_log_uniform(rng: random.Random, low: float, high: float) -> float:
    """Draw a float from [low, high) whose logarithm is uniform: low inclusive, high exclusive.

    The bounds are the values themselves, not their logarithms (W&B calls this
    log_uniform_values). Both must be > 0.
    """
    log_low, log_high = math.log(low), math.log(high)
    while True:
        value = math.exp(log_low + (log_high - log_low) * rng.random())
        if low <= value < high:
            return value


def draw_normal(rng: random.Random, mu: float, sigma: float) -> float:
    """Draw a float from the normal distribution N(mu, sigma), which has no bounds."""
    return rng.normalvariate(mu, sigma)


def _quantise(value: float, q: float) -> int | float:
    """Round `value` to the nearest multiple of `q`: an int when q is an int."""
    multiple = round(value / q)
    if isinstance(q, int):
        return multiple * q
    # Decimal keeps multiples of 0.1 as 0.3 rather than 0.30000000000000004.
    return float(Decimal(repr(q)) * multiple)


def draw_q_uniform(rng: random.Random, low: float, high: float, q: float) -> int | float:
    """Draw a multiple of q from [low, high], both inclusive: a uniform draw, rounded.

    A draw that rounds to a multiple outside the bounds is drawn again, so the bounds hold
    even when they are not multiples of q.
    """
    while True:
        value = _quantise(low + (high - low) * rng.random(), q)
        if low <= value <= high:
            return value


def draw_q_log_uniform(rng: random.Random, low: float, high: float, q: float) -> int | float:
    """Draw a multiple of q from [low, high], both inclusive: a log-uniform draw, rounded.

    As for q_uniform, draws that round to outside the bounds are drawn again.
    """
    log_low, log_high = math.log(low), math.log(high)
    while True:
        value = _quantise(math.exp(log_low + (log_high - log_low) * rng.random()), q)
        if low <= value <= high:
            return value


def draw_q_normal(rng: random.Random, mu: float, sigma: float, q: float) -> int | float:
    """Draw a multiple of q from N(mu, sigma), rounded, without bounds."""
    return _quantise(rng.normalvariate(mu, sigma), q)


def render_override(key: ParamKey, value: object) -> str:
    """Render one ``-S`` argument, e.g. ``train.n_est=100`` or ``train.tag='a,b'``."""
    return f"{key.override_target}={render_value(value)}"


def render_value(value: object) -> str:
    """Write `value` as a literal of Hydra's override grammar that keeps its type.

    Floats use repr, which round-trips exactly (``inf``, ``-inf`` and ``nan`` included).
    Lists and dicts keep their shape. Raise ValueError for a value that `spec.py` rejects
    because no override can express it.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _render_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(render_value(item) for item in value) + "]"
    if isinstance(value, dict):
        reason = unsupported_value_reason(value)
        if reason:
            raise ValueError(reason)
        return "{" + ",".join(f"{key}:{render_value(item)}" for key, item in value.items()) + "}"
    raise ValueError(f"values of type {type(value).__name__} cannot be rendered")


def _render_string(text: str) -> str:
    reason = unsupported_value_reason(text)
    if reason:
        raise ValueError(reason)
    if _BARE_STRING_RE.fullmatch(text) and text.lower() not in HYDRA_KEYWORDS:
        return text
    # OmegaConf resolves ${...} in any string, unless an odd number of backslashes comes
    # before it. So n backslashes before ${ become 2n + 1.
    text = _INTERPOLATION_RE.sub(lambda match: match.group(1) * 2 + "\\${", text)
    quote = '"' if "'" in text and '"' not in text else "'"
    # Inside Hydra quotes only backslashes before a quote are escapes: n backslashes then
    # a quote become 2n + 1 backslashes then the quote, and n trailing backslashes
    # (before the closing quote) become 2n.
    text = re.sub(rf"(\\*){quote}", lambda match: match.group(1) * 2 + "\\" + quote, text)
    text = re.sub(r"(\\+)$", lambda match: match.group(1) * 2, text)
    return f"{quote}{text}{quote}"
