"""The metric formulas of the spec, computed exactly from raw inputs.

Standard library only: the service client and the rollback check use it too.
Amounts are decimal strings ("1250000.00") parsed into ``Decimal``; counts are
JSON integers.  A float is never accepted for either: a float has already lost
the cents before we see it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

AMOUNT = "amount"
COUNT = "count"
_AMOUNT_TEXT = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,12})?\Z")


class MetricError(ValueError):
    """An input cannot give a metric; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Metric:
    name: str
    formula: str
    inputs: tuple[tuple[str, str], ...]
    compute: Callable[[dict[str, Decimal]], Decimal]
    denominator: str
    higher_is_better: bool
    unit: str = "ratio"


def _ratio(numerator: str, denominator: str) -> Callable[[dict[str, Decimal]], Decimal]:
    return lambda v: v[numerator] / v[denominator]


def _relative_gap(a: str, b: str) -> Callable[[dict[str, Decimal]], Decimal]:
    return lambda v: abs(v[a] - v[b]) / v[b]


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "drift_ppm",
            "|ledger_total - legacy_total| / legacy_total * 1e6",
            (("ledger_total", AMOUNT), ("legacy_total", AMOUNT)),
            lambda v: abs(v["ledger_total"] - v["legacy_total"]) / v["legacy_total"] * 1_000_000,
            "legacy_total",
            higher_is_better=False,
            unit="ppm",
        ),
        Metric(
            "write_error_rate",
            "failed_ledger_writes / total_ledger_writes",
            (("failed_ledger_writes", COUNT), ("total_ledger_writes", COUNT)),
            _ratio("failed_ledger_writes", "total_ledger_writes"),
            "total_ledger_writes",
            higher_is_better=False,
        ),
        Metric(
            "synthetic_completeness",
            "synthetic_lines / legacy_allocations_count",
            (("synthetic_lines", COUNT), ("legacy_allocations_count", COUNT)),
            _ratio("synthetic_lines", "legacy_allocations_count"),
            "legacy_allocations_count",
            higher_is_better=True,
        ),
        Metric(
            "backfill_progress",
            "allocations_backfilled / legacy_allocations_count",
            (("allocations_backfilled", COUNT), ("legacy_allocations_count", COUNT)),
            _ratio("allocations_backfilled", "legacy_allocations_count"),
            "legacy_allocations_count",
            higher_is_better=True,
        ),
        Metric(
            "replay_accuracy",
            "1 - |debt_replay - debt_ground| / debt_ground",
            (("debt_replay", AMOUNT), ("debt_ground", AMOUNT)),
            lambda v: 1 - _relative_gap("debt_replay", "debt_ground")(v),
            "debt_ground",
            higher_is_better=True,
        ),
        Metric(
            "repair_success_rate",
            "repairs_succeeded / repairs_attempted",
            (("repairs_succeeded", COUNT), ("repairs_attempted", COUNT)),
            _ratio("repairs_succeeded", "repairs_attempted"),
            "repairs_attempted",
            higher_is_better=True,
        ),
        Metric(
            "repair_fail_ratio",
            "repairs_failed / repairs_attempted",
            (("repairs_failed", COUNT), ("repairs_attempted", COUNT)),
            _ratio("repairs_failed", "repairs_attempted"),
            "repairs_attempted",
            higher_is_better=False,
        ),
        Metric(
            "delivery_success_rate",
            "events_delivered / events_enqueued",
            (("events_delivered", COUNT), ("events_enqueued", COUNT)),
            _ratio("events_delivered", "events_enqueued"),
            "events_enqueued",
            higher_is_better=True,
        ),
    )
}

METRIC_NAMES: tuple[str, ...] = tuple(METRICS)


def parse_input(field: str, kind: str, value: Any) -> Decimal:
    """One raw input as an exact Decimal, or MetricError saying what is wrong."""
    if kind == AMOUNT:
        if not isinstance(value, str):
            raise MetricError(field, f'amount {field} must be a decimal string such as "1250000.00", not {_kind(value)}')
        if not _AMOUNT_TEXT.match(value):
            raise MetricError(field, f"amount {field} is malformed: {value!r}")
        amount = Decimal(value)
        if amount < 0:
            raise MetricError(field, f"amount {field} is negative: {value}")
        return amount
    if type(value) is not int:
        raise MetricError(field, f"count {field} must be a whole number, not {_kind(value)}")
    if value < 0:
        raise MetricError(field, f"count {field} is negative: {value}")
    return Decimal(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, (int, float, Decimal)):
        return f"the number {value}"
    return f"a {type(value).__name__}"


def compute(name: str, inputs: Mapping[str, Any]) -> Decimal:
    """Recompute one metric from raw inputs, exactly."""
    metric = METRICS[name]
    values: dict[str, Decimal] = {}
    for field, kind in metric.inputs:
        if field not in inputs:
            raise MetricError(field, f"input {field} is missing (needed for {name} = {metric.formula})")
        values[field] = parse_input(field, kind, inputs[field])
    if values[metric.denominator] == 0:
        raise MetricError(metric.denominator, f"{metric.denominator} is zero, so {name} is undefined")
    with localcontext() as ctx:
        ctx.prec = 34
        return metric.compute(values)


def agrees(claimed: Decimal, actual: Decimal) -> bool:
    """A claimed figure agrees when it is the actual one rounded to the claim's own places."""
    exponent = claimed.as_tuple().exponent
    if not isinstance(exponent, int):
        return False
    places = Decimal(1).scaleb(min(exponent, 0))
    with localcontext() as ctx:
        ctx.prec = 60
        return actual.quantize(places) == claimed


def display(value: Decimal) -> str:
    """A metric as a person reads it: exact, without exponent, at most 6 places."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    with localcontext() as ctx:
        ctx.prec = 60
        text = format(value.quantize(Decimal("0.000001")), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
