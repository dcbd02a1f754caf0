"""Every metric formula of the spec, exactly, at the decimal boundary of its guard."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from validator import metrics

# (metric, inputs exactly on the boundary, value, inputs one unit past it, value): the guards of
# the six flags are inclusive, so the first passes and the second does not.
BOUNDARIES: list[tuple[str, dict[str, Any], str, dict[str, Any], str]] = [
    (
        "drift_ppm",
        {"ledger_total": "1000500.00", "legacy_total": "1000000.00"},
        "500",
        {"ledger_total": "1000500.01", "legacy_total": "1000000.00"},
        "500.01",
    ),
    (
        "write_error_rate",
        {"failed_ledger_writes": 1, "total_ledger_writes": 100},
        "0.01",
        {"failed_ledger_writes": 10001, "total_ledger_writes": 1000000},
        "0.010001",
    ),
    (
        "synthetic_completeness",
        {"synthetic_lines": 1000, "legacy_allocations_count": 1000},
        "1",
        {"synthetic_lines": 999, "legacy_allocations_count": 1000},
        "0.999",
    ),
    (
        "backfill_progress",
        {"allocations_backfilled": 7, "legacy_allocations_count": 7},
        "1",
        {"allocations_backfilled": 9999, "legacy_allocations_count": 10000},
        "0.9999",
    ),
    (
        "replay_accuracy",
        {"debt_replay": "999000.00", "debt_ground": "1000000.00"},
        "0.999",
        {"debt_replay": "998999.99", "debt_ground": "1000000.00"},
        "0.99899999",
    ),
    (
        "repair_success_rate",
        {"repairs_succeeded": 95, "repairs_attempted": 100},
        "0.95",
        {"repairs_succeeded": 94, "repairs_attempted": 100},
        "0.94",
    ),
    ("repair_fail_ratio", {"repairs_failed": 5, "repairs_attempted": 100}, "0.05", {"repairs_failed": 6, "repairs_attempted": 100}, "0.06"),
    (
        "delivery_success_rate",
        {"events_delivered": 99, "events_enqueued": 100},
        "0.99",
        {"events_delivered": 9899, "events_enqueued": 10000},
        "0.9899",
    ),
]


@pytest.mark.parametrize(("name", "on", "on_value", "past", "past_value"), BOUNDARIES, ids=[b[0] for b in BOUNDARIES])
def test_formula_at_its_boundary(name: str, on: dict[str, Any], on_value: str, past: dict[str, Any], past_value: str) -> None:
    assert metrics.compute(name, on) == Decimal(on_value)
    assert metrics.compute(name, past) == Decimal(past_value)


def test_every_metric_is_tested() -> None:
    assert {b[0] for b in BOUNDARIES} == set(metrics.METRICS)


def test_a_ratio_just_below_one_never_rounds_onto_it() -> None:
    value = metrics.compute("synthetic_completeness", {"synthetic_lines": 10**35 - 1, "legacy_allocations_count": 10**35})
    assert value < 1


@pytest.mark.parametrize(
    ("name", "inputs", "field"),
    [
        ("drift_ppm", {"ledger_total": "1.00", "legacy_total": "0.00"}, "legacy_total"),
        ("write_error_rate", {"failed_ledger_writes": 0, "total_ledger_writes": 0}, "total_ledger_writes"),
        ("drift_ppm", {"ledger_total": 1.5, "legacy_total": "1.00"}, "ledger_total"),
        ("repair_fail_ratio", {"repairs_failed": -1, "repairs_attempted": 10}, "repairs_failed"),
        ("replay_accuracy", {"debt_replay": "1.00"}, "debt_ground"),
    ],
)
def test_bad_inputs_name_the_field(name: str, inputs: dict[str, Any], field: str) -> None:
    with pytest.raises(metrics.MetricError) as error:
        metrics.compute(name, inputs)
    assert error.value.field == field
