"""evidence: a promotion rests on consecutive green reconciliation runs, recomputed.

A promotion out of the plan's first step (off) needs no runs: nothing runs
yet to reconcile.  Every other promotion cites, in ``transition.evidence``,
at least ``green_runs`` (policy.yaml, 3) run ids; each is a file
``evidence/<flag>/<run_id>.json``::

    {"run_id": "rr-0101", "flag": "allocation_dual_write", "seq": 101,
     "flag_state": "shadow", "status": "green",
     "started_at": "2026-11-20T01:00:00Z", "finished_at": "2026-11-20T01:12:00Z",
     "inputs": {"ledger_total": "1250000.00", "legacy_total": "1250000.00",
                "failed_ledger_writes": 0, "total_ledger_writes": 120000},
     "metrics": {"drift_ppm": 0, "write_error_rate": 0}}

A run counts only if its status is ``green`` **and** every guard of the flag
(plus the guards of the step being left) holds on metrics recomputed from
``inputs`` with exact decimals.  Amounts are decimal strings (a JSON number
for an amount is an error: it may already have lost cents); counts are whole
numbers.  Optional ``flag_percentage`` must match for percentage states.

Also refused: fewer runs than required; ``seq`` numbers with a gap or a
repeat (a red run could hide there); a run of another flag or another state;
a run still in progress or red; a claimed metric that disagrees with the
recomputed one (both numbers named; a claim agrees when it equals the
recomputed value rounded to the claim's own decimal places); a zero
denominator, a missing input, a negative count or a malformed amount; a run
that finished before the flag entered the state, after ``--now``, or (the
newest one) more than ``max_evidence_age_days`` before ``--now``; a run
already cited by an earlier promotion of the same flag; an id that is not a
plain file name; malformed JSON, duplicate keys, unknown keys, wrong types.

Passing: three runs seq 101-103 in shadow, drift 0 ppm, finished after the
flag entered shadow and within 3 days.  Failing: the same with
``"ledger_total": "1000600.00", "legacy_total": "1000000.00"`` (600 ppm).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from validator import clock, jsonfile, metrics
from validator.finding import Finding
from validator.model import Guard
from validator.plan import Position

RULE = "evidence"
EVIDENCE_DIR = "evidence"

_FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "run_id": (str, True),
    "flag": (str, True),
    "seq": (int, True),
    "flag_state": (str, True),
    "flag_percentage": (int, False),
    "status": (str, True),
    "started_at": (str, True),
    "finished_at": (str, True),
    "inputs": (dict, True),
    "metrics": (dict, False),
}
GREEN = "green"
MAX_UNKNOWN_KEYS = 20


def plain_run_id(run_id: str) -> bool:
    """A run id names a file in evidence/<flag>/: no path separators, no leading dot, nothing invisible."""
    return (
        run_id != ""
        and "/" not in run_id
        and "\\" not in run_id
        and not run_id.startswith(".")
        and run_id.strip() == run_id
        and all(ch.isprintable() for ch in run_id)
    )


def evidence_path(flag: str, run_id: str) -> str:
    return f"{EVIDENCE_DIR}/{flag}/{run_id}.json"


@dataclass
class Run:
    """One reconciliation run file, parsed and judged."""

    run_id: str
    path: str
    data: dict[str, Any] = field(default_factory=dict)
    doc: jsonfile.JSONDocument | None = None
    metrics: dict[str, Decimal] = field(default_factory=dict)
    problems: list[Finding] = field(default_factory=list)

    @property
    def green(self) -> bool:
        return self.doc is not None and not self.problems

    @property
    def finished_at(self) -> datetime | None:
        value = self.data.get("finished_at")
        return clock.parse(value) if isinstance(value, str) else None

    def add(self, path: tuple[Any, ...], message: str, flag: str | None, *, key: bool = False) -> None:
        line, column = self.doc.where(path, key=key) if self.doc else (1, 1)
        self.problems.append(Finding(self.path, line, column, RULE, f"run {self.run_id}: {message}", flag))


def load_run(flag: str, run_id: str, raw: bytes) -> Run:
    """Parse one run file strictly and check its shape; content rules come later."""
    run = Run(run_id, evidence_path(flag, run_id))
    try:
        run.doc = jsonfile.loads(raw)
    except jsonfile.JSONError as exc:
        run.problems.append(Finding(run.path, exc.line, exc.column, RULE, f"run {run_id}: {exc.message}", flag))
        return run
    data = run.doc.data
    if not isinstance(data, dict):
        run.add((), "a run file holds one JSON object", flag)
        return run
    run.data = data
    unknown = [key for key in data if key not in _FIELDS]
    for key in unknown[:MAX_UNKNOWN_KEYS]:
        run.add((key,), f"unknown key {key!r}; known keys: {', '.join(_FIELDS)}", flag, key=True)
    if len(unknown) > MAX_UNKNOWN_KEYS:
        # One finding per key of a file made of keys would bury the report.
        rest = unknown[MAX_UNKNOWN_KEYS:]
        run.add((rest[0],), f"{len(rest)} more unknown keys from {rest[0]!r} on; known keys: {', '.join(_FIELDS)}", flag, key=True)
    for key, (kind, required) in _FIELDS.items():
        if key not in data:
            if required:
                run.add((), f"key {key!r} is missing", flag)
            continue
        value = data[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            run.add((key,), f"{key} must be {_kind_name(kind)}, not {_show(value)}", flag)
    for key in ("started_at", "finished_at"):
        if isinstance(data.get(key), str) and clock.parse(data[key]) is None:
            run.add(
                (key,),
                f"{key} {data[key]!r} is not an ISO 8601 time with a zone, in years 0001-9999 once in UTC (2026-11-20T01:12:00Z)",
                flag,
            )
    if isinstance(data.get("run_id"), str) and data["run_id"] != run_id:
        run.add(("run_id",), f"run_id is {data['run_id']!r} but the file is named {run_id}.json", flag)
    return run


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return {str: "a string", int: "a whole number", dict: "an object"}.get(kind, "valid")  # type: ignore[call-overload]


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    return repr(value) if isinstance(value, str) else f"{type(value).__name__} {value}"


def judge_run(run: Run, flag: str, left: Position, guards: list[Guard]) -> None:
    """Is this run green for leaving ``left``?  Problems are added to ``run``."""
    data = run.data
    if run.doc is None or not data:
        return
    if data.get("flag") != flag and isinstance(data.get("flag"), str):
        run.add(("flag",), f"is a run of {data['flag']}, not {flag}", flag)
    if isinstance(data.get("flag_state"), str) and data["flag_state"] != left.state:
        run.add(("flag_state",), f"ran while the flag was {data['flag_state']}; the promotion leaves {left.state}", flag)
    if left.percentage is not None and "flag_percentage" in data and data["flag_percentage"] != left.percentage:
        run.add(("flag_percentage",), f"ran at {data['flag_percentage']}%; the promotion leaves {left}", flag)
    status = data.get("status")
    if isinstance(status, str) and status != GREEN:
        what = "is still in progress" if status in ("running", "in_progress", "pending", "started") else f"has status {status!r}"
        run.add(("status",), f"{what}; only a finished green run counts", flag)
    started, finished = clock.parse(str(data.get("started_at", ""))), run.finished_at
    if started and finished and finished < started:
        run.add(("finished_at",), "finished before it started", flag)
    inputs = data.get("inputs") if isinstance(data.get("inputs"), dict) else None
    if inputs is None:
        return
    needed = {g.metric for g in guards}
    claimed = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    for name in sorted(needed | set(claimed)):
        if name not in metrics.METRICS:
            run.add(("metrics", name), f"unknown metric {name!r}", flag, key=True)
            continue
        try:
            run.metrics[name] = metrics.compute(name, inputs)
        except metrics.MetricError as exc:
            run.add(("inputs", exc.field), str(exc), flag)
    for name, value in claimed.items():
        if name not in run.metrics:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            run.add(("metrics", name), f"claimed {name} must be a number, not {_show(value)}", flag)
            continue
        try:
            number = metrics.claim(name, value)
        except metrics.MetricError as exc:
            run.add(("metrics", name), str(exc), flag)
            continue
        if not metrics.agrees(number, run.metrics[name]):
            run.add(("metrics", name), f"claims {name} = {value} but its inputs give {metrics.display(run.metrics[name])}", flag)
    for guard in guards:
        value = run.metrics.get(guard.metric)
        if value is None:
            continue
        if guard.max is not None and value > guard.max:
            run.add(("inputs",), f"{guard.metric} = {metrics.display(value)} breaches the guard (at most {guard.max})", flag)
        if guard.min is not None and value < guard.min:
            run.add(("inputs",), f"{guard.metric} = {metrics.display(value)} breaches the guard (at least {guard.min})", flag)


@dataclass
class Verdict:
    """What the evidence of one promotion came to, for reports and comments."""

    runs: list[Run]
    findings: list[Finding]


def check_promotion(
    *,
    flag: str,
    flag_path: str,
    where: Callable[[tuple[Any, ...]], tuple[int, int]],
    run_ids: list[str],
    left: Position,
    guards: list[Guard],
    read: Callable[[str], bytes | None],
    entered_at: datetime | None,
    now: datetime,
    green_runs: int,
    max_age_days: int,
    already_cited: dict[str, str],
) -> Verdict:
    """Every evidence finding of one promotion out of ``left``."""
    findings: list[Finding] = []

    def at_flag(path: tuple[Any, ...], message: str) -> None:
        line, column = where(path)
        findings.append(Finding(flag_path, line, column, RULE, message, flag))

    if len(run_ids) < green_runs:
        at_flag(
            ("transition", "evidence"),
            f"cites {len(run_ids)} run{'s' if len(run_ids) != 1 else ''}; promoting out of {left} needs {green_runs} consecutive green reconciliation runs",
        )
    runs: list[Run] = []
    seen: set[str] = set()
    for i, run_id in enumerate(run_ids):
        if run_id in seen:
            at_flag(("transition", "evidence", i), f"run {run_id} is cited twice")
            continue
        seen.add(run_id)
        if not plain_run_id(run_id):
            at_flag(("transition", "evidence", i), f"evidence id {run_id!r} is not a plain file name")
            continue
        if run_id in already_cited:
            at_flag(
                ("transition", "evidence", i),
                f"run {run_id} was already cited by the promotion in commit {already_cited[run_id][:12]}; cite new runs",
            )
        raw = read(evidence_path(flag, run_id))
        if raw is None:
            at_flag(("transition", "evidence", i), f"run {run_id} has no file {evidence_path(flag, run_id)}")
            continue
        run = load_run(flag, run_id, raw)
        judge_run(run, flag, left, guards)
        finished = run.finished_at
        if finished is not None:
            if finished > now:
                run.add(("finished_at",), f"finished in the future ({clock.iso(finished)}, now is {clock.iso(now)})", flag)
            if entered_at is not None and finished <= entered_at:
                run.add(
                    ("finished_at",), f"finished at {clock.iso(finished)}, before the flag entered {left} at {clock.iso(entered_at)}", flag
                )
        runs.append(run)
        findings.extend(run.problems)

    seqs = sorted((r.data["seq"], r.run_id) for r in runs if isinstance(r.data.get("seq"), int) and not isinstance(r.data.get("seq"), bool))
    for (a, a_id), (b, b_id) in zip(seqs, seqs[1:]):
        if b == a:
            at_flag(("transition", "evidence"), f"runs {a_id} and {b_id} share seq {a}")
        elif b != a + 1:
            at_flag(
                ("transition", "evidence"),
                f"runs are not consecutive: seq {a} ({a_id}) then {b} ({b_id}); runs {a + 1}..{b - 1} are missing",
            )
    finished_times = [r.finished_at for r in runs if r.finished_at is not None]
    if finished_times:
        newest = max(finished_times)
        if newest <= now and now - newest > timedelta(days=max_age_days):
            at_flag(
                ("transition", "evidence"),
                f"the newest run finished {clock.iso(newest)}, more than {max_age_days} days before now ({clock.iso(now)}); cite fresh runs",
            )
    return Verdict(runs, findings)
