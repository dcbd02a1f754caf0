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
from decimal import Context, Decimal, DecimalException, DivisionByZero, InvalidOperation, Overflow, localcontext
from typing import Any

AMOUNT = "amount"
COUNT = "count"
_AMOUNT_TEXT = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,12})?\Z")
MAX_COUNT = 10**40
# A claimed or sampled metric is a plain decimal: no more than MAX_PLACES
# decimal places and no more than MAX_DIGITS digits before the point.
# ``1e-999999`` is a valid JSON number, and quantizing to it would ask for a
# million digits.
MAX_PLACES = 30
MAX_DIGITS = 30
# Every computation on numbers from a file runs in this context: the
# exponents the inputs above can produce are far inside it, and anything
# outside raises instead of producing a silently rounded figure.  The
# precision is enough that a ratio of inputs (at most 42 digits each) never
# rounds onto a guard it misses: 10**35 - 1 lines of 10**35 is below 1.
_CONTEXT = Context(prec=100, Emin=-999, Emax=999, traps=[InvalidOperation, DivisionByZero, Overflow])
# Rounding the recomputed value to a claim's places needs the value's whole
# integer part (at most 10**48 for a drift) plus MAX_PLACES digits.
_EXACT = Context(prec=120, Emin=-999, Emax=999, traps=[InvalidOperation, DivisionByZero, Overflow])


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
    if value > MAX_COUNT:
        raise MetricError(field, f"count {field} is over 10**40: {value}")
    return Decimal(value)


def claim(name: str, value: Any) -> Decimal:
    """A claimed (or sampled) value of metric ``name`` as a Decimal, or MetricError saying why not."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise MetricError(name, f"claimed {name} must be a number, not {_kind(value)}")
    number = Decimal(value)
    if not number.is_finite():
        raise MetricError(name, f"claimed {name} must be a finite number, not {value}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_PLACES:
        raise MetricError(name, f"claimed {name} = {value} has {-exponent} decimal places; write at most {MAX_PLACES}")
    if number.adjusted() >= MAX_DIGITS:
        raise MetricError(name, f"claimed {name} = {value} is out of range (more than {MAX_DIGITS} digits before the point)")
    return number


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
    try:
        with localcontext(_CONTEXT):
            return metric.compute(values)
    except DecimalException:
        raise MetricError(metric.denominator, f"{name} cannot be computed from these inputs: out of range") from None


def agrees(claimed: Decimal, actual: Decimal) -> bool:
    """A claimed figure agrees when it is the actual one rounded to the claim's own places.

    Only a claim that ``claim`` accepted can agree; any other is refused there.
    """
    exponent = claimed.as_tuple().exponent
    if not isinstance(exponent, int) or -exponent > MAX_PLACES or not actual.is_finite():
        return False
    try:
        with localcontext(_EXACT):
            return actual.quantize(Decimal(1).scaleb(min(exponent, 0))) == claimed
    except DecimalException:
        return False


def display(value: Decimal) -> str:
    """A metric as a person reads it: exact, without exponent, at most 6 places."""
    if not value.is_finite():
        return str(value)
    try:
        with localcontext(_EXACT):
            if value == value.to_integral_value():
                return format(value.quantize(Decimal(1)), "f")
            text = format(value.quantize(Decimal("0.000001")), "f")
    except DecimalException:
        return format(value, "e")
    return text.rstrip("0").rstrip(".") if "." in text else text
