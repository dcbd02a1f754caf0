"""``flaggate rollback-check``: a flag's rollback triggers over a series of metric samples.

Samples are JSON lines, one a line::

    {"at": "2026-11-20T01:00:00Z", "metrics": {"drift_ppm": 12}}
    {"at": "2026-11-20T01:05:00Z", "inputs": {"ledger_total": "1250000.00", "legacy_total": "1250000.00"}}

A sample gives a metric directly (``metrics``) or through the spec's formula
over raw ``inputs`` (recomputed with ``Decimal``, as the gate does); given both,
they must agree.  Samples are taken in time order (a late-flushed line is
sorted into place); two samples with the same ``at`` are refused, because
"consecutive" would be ambiguous.  An empty series cannot be judged (exit 2).

Trigger semantics (``rollback:`` in the flag file):

* plain (``consecutive: 1``): fires on any breaching sample;
* ``consecutive: N``: fires on N breaching samples in a row ("twice" = 2);
* ``sustained_minutes: M``: fires when every sample over M minutes breaches
  (a run of breaching samples spanning at least M minutes);
* ``timeout_hours: H``: fires when the condition is still breached H hours
  after the flag entered its state (from git history, else ``--since``,
  else the first sample): the newest sample at or before ``--now``, once the
  deadline has passed, still breaches.

A trigger watches the states in its ``states`` (default: every state but the
plan's first).  Boundaries are exact: ``drift_ppm > 500`` does not fire on
exactly 500.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from validator import clock, jsonfile, metrics
from validator.errors import FatalError
from validator.model import Flag, Trigger

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


class BadSamples(FatalError):
    """The samples cannot be judged (exit 2)."""


@dataclass
class Sample:
    line: int
    at: datetime
    values: dict[str, Decimal]


@dataclass
class Firing:
    trigger: Trigger
    samples: list[Sample]
    detail: str

    @property
    def at(self) -> datetime:
        return self.samples[-1].at

    def snapshot(self) -> dict[str, Decimal]:
        """The breaching values, worst first: the metrics snapshot a demote records."""
        values = [s.values[self.trigger.metric] for s in self.samples]
        worst = max(values) if self.trigger.op in (">", ">=") else min(values)
        return {self.trigger.metric: worst}


@dataclass
class Report:
    flag: str
    state: str
    samples: int
    watched: list[Trigger]
    fired: list[Firing] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# One JSON object per line, each line under the evidence bound (1 MiB); the
# file as a whole under this one, so a runaway export cannot exhaust memory.
MAX_SAMPLES_BYTES = 64 * 1024 * 1024


def read_samples(path: Path) -> list[Sample]:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SAMPLES_BYTES + 1)
    except OSError as exc:
        raise BadSamples(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_SAMPLES_BYTES:
        raise BadSamples(f"{path}: over the {MAX_SAMPLES_BYTES}-byte bound; pass a shorter window of samples")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadSamples(f"{path}: not UTF-8") from None
    samples: list[Sample] = []
    seen: dict[datetime, int] = {}
    # Lines end at "\n" only: str.splitlines() would also break at U+2028 or
    # U+0085 inside a JSON string and number the lines unlike any editor.
    for number, line in enumerate(text.removesuffix("\n").split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            data = jsonfile.loads(line.encode("utf-8")).data
        except jsonfile.JSONError as exc:
            raise BadSamples(f"{path}:{number}:{exc.column}: {exc.message}") from None
        if not isinstance(data, dict):
            raise BadSamples(f"{path}:{number}: a sample is a JSON object")
        unknown = set(data) - {"at", "metrics", "inputs"}
        if unknown:
            raise BadSamples(
                f"{path}:{number}: unknown key(s) {', '.join(repr(k) for k in sorted(unknown))}; a sample has at, metrics, inputs"
            )
        at = clock.parse(data["at"]) if isinstance(data.get("at"), str) else None
        if at is None:
            raise BadSamples(f"{path}:{number}: 'at' must be an ISO 8601 time with a zone, such as 2026-11-20T01:00:00Z")
        if at in seen:
            raise BadSamples(f"{path}:{number}: a second sample at {data['at']} (first on line {seen[at]}); timestamps must be unique")
        seen[at] = number
        values: dict[str, Decimal] = {}
        claimed = data.get("metrics", {})
        inputs = data.get("inputs")
        if not isinstance(claimed, dict) or (inputs is not None and not isinstance(inputs, dict)):
            raise BadSamples(f"{path}:{number}: metrics and inputs must be objects")
        for name, value in claimed.items():
            if name not in metrics.METRICS:
                raise BadSamples(f"{path}:{number}: unknown metric {name!r}")
            if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
                raise BadSamples(f"{path}:{number}: metric {name} must be a number, not {value!r}")
            try:
                values[name] = metrics.claim(name, value)
            except metrics.MetricError as exc:
                raise BadSamples(f"{path}:{number}: {exc}") from None
        if inputs:
            for name, metric in metrics.METRICS.items():
                if not all(f in inputs for f, _ in metric.inputs):
                    continue
                try:
                    computed = metrics.compute(name, inputs)
                except metrics.MetricError as exc:
                    raise BadSamples(f"{path}:{number}: {exc}") from None
                if name in values and not metrics.agrees(values[name], computed):
                    raise BadSamples(f"{path}:{number}: claims {name} = {values[name]} but its inputs give {metrics.display(computed)}")
                values[name] = computed
        if not values:
            raise BadSamples(f"{path}:{number}: the sample has no metrics and no inputs a formula can use")
        samples.append(Sample(number, at, values))
    if not samples:
        raise BadSamples(f"{path}: no samples: an empty series cannot show that a flag is healthy")
    return sorted(samples, key=lambda s: s.at)


def watched(flag: Flag) -> list[Trigger]:
    first = flag.rollout[0].state
    return [t for t in flag.rollback if flag.state in (t.states or [s for s in flag.states if s != first])]


def evaluate(flag: Flag, samples: list[Sample], *, since: datetime | None, now: datetime | None) -> Report:
    report = Report(flag.name, flag.state, len(samples), watched(flag))
    if not report.watched:
        report.notes.append(f"{flag.name} is {flag.state}: no rollback trigger watches this state")
        return report
    for trigger in report.watched:
        series = [s for s in samples if trigger.metric in s.values]
        if not series:
            report.notes.append(f"no sample carries {trigger.metric}: trigger {_describe(trigger)} not evaluated")
            continue
        breach = OPS[trigger.op]

        def breaches(sample: Sample, trigger: Trigger = trigger, breach: Any = breach) -> bool:
            return breach(sample.values[trigger.metric], Decimal(trigger.threshold))

        firing = _fire(trigger, series, breaches, since or samples[0].at, now or samples[-1].at)
        if firing is not None:
            report.fired.append(firing)
    report.fired.sort(key=lambda f: f.at)
    return report


def _fire(trigger: Trigger, series: list[Sample], breaches: Any, start: datetime, now: datetime) -> Firing | None:
    if trigger.timeout_hours is not None:
        deadline = start + timedelta(hours=trigger.timeout_hours)
        current = [s for s in series if s.at <= now]
        if now < deadline or not current:
            return None
        latest = current[-1]
        if breaches(latest):
            return Firing(
                trigger,
                [latest],
                f"still breached at {clock.iso(latest.at)}, past the deadline {clock.iso(deadline)} ({trigger.timeout_hours} h after {clock.iso(start)})",
            )
        return None
    run: list[Sample] = []
    for sample in series:
        if not breaches(sample):
            run = []
            continue
        run.append(sample)
        if trigger.sustained_minutes is not None:
            if run[-1].at - run[0].at >= timedelta(minutes=trigger.sustained_minutes):
                return Firing(trigger, list(run), f"breached in every sample for {trigger.sustained_minutes} minutes")
        elif len(run) >= trigger.consecutive:
            what = "a breaching sample" if trigger.consecutive == 1 else f"{trigger.consecutive} consecutive breaching samples"
            return Firing(trigger, run[-trigger.consecutive :], what)
    return None


def _describe(trigger: Trigger) -> str:
    text = f"{trigger.metric} {trigger.op} {trigger.threshold}"
    if trigger.consecutive > 1:
        text += f" on {trigger.consecutive} consecutive samples"
    if trigger.sustained_minutes:
        text += f" sustained {trigger.sustained_minutes} min"
    if trigger.timeout_hours:
        text += f" {trigger.timeout_hours} h after entering the state"
    return f"{text} ({trigger.reason_code})"


def render(report: Report) -> str:
    lines = [f"{report.flag} is {report.state}: {report.samples} samples, {len(report.watched)} trigger(s) watching"]
    lines += [f"note: {n}" for n in report.notes]
    for firing in report.fired:
        values = ", ".join(
            f"line {s.line} at {clock.iso(s.at)}: {metrics.display(s.values[firing.trigger.metric])}" for s in firing.samples
        )
        lines.append(f"FIRED: {_describe(firing.trigger)}: {firing.detail}; samples: {values}")
    if not report.fired:
        lines.append("nothing fired")
    return "\n".join(lines)


def justification(firing: Firing) -> str:
    worst = metrics.display(next(iter(firing.snapshot().values())))
    return f"rollback-check: {_describe(firing.trigger)} fired ({firing.detail}); worst {firing.trigger.metric} {worst} at {clock.iso(firing.at)}"
