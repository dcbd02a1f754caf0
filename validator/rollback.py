"""``flaggate rollback-check``: a flag's rollback triggers over a series of metric samples.

Samples are JSON lines, one a line::

    {"at": "2026-11-20T01:00:00Z", "metrics": {"drift_ppm": 12}}
    {"at": "2026-11-20T01:05:00Z", "inputs": {"ledger_total": "1250000.00", "legacy_total": "1250000.00"}}

A sample gives a metric directly (``metrics``) or through the spec's formula
over raw ``inputs`` (recomputed with ``Decimal``, as the gate does); given both,
they must agree.  Samples are taken in time order (a late-flushed line is
sorted into place); two samples with the same ``at`` are refused, because
"consecutive" would be ambiguous.  An empty series cannot be judged (exit 2).
Only samples since the flag entered its state count: an older one measured an
earlier state.

Trigger semantics (``rollback:`` in the flag file):

* plain (``consecutive: 1``): fires on any breaching sample;
* ``consecutive: N``: fires on N breaching samples in a row ("twice" = 2);
* ``sustained_minutes: M``: fires when every sample over M minutes breaches
  (a run of breaching samples spanning at least M minutes);
* ``timeout_hours: H``: fires when the condition is still breached H hours
  after the flag entered its state (from git history, else ``--since``,
  else the first sample): the newest sample at or before ``--now`` (default: the clock), once the
  deadline has passed, still breaches.

A trigger watches the states in its ``states`` (default: every state but the
plan's first).  The verdict never shrugs: exit 0 only when every watching
trigger was judged on enough samples and none fired; 1 when any fired (all are
reported); 2 when one cannot be judged (no sample of its metric, fewer than
``consecutive``, a span shorter than ``sustained_minutes``, or a passed
timeout with no sample since).  Near misses say how close and how long.  Boundaries are exact: ``drift_ppm > 500`` does not fire on
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
from validator.records import Flag, Trigger

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
    breaching: list[Sample] = field(default_factory=list)  # every breaching sample of the series, for the worst value

    @property
    def at(self) -> datetime:
        return self.samples[-1].at

    def snapshot(self) -> dict[str, Decimal]:
        """The breaching values, worst first: the metrics snapshot a demote records."""
        values = [s.values[self.trigger.metric] for s in (self.breaching or self.samples)]
        worst = max(values) if self.trigger.op in (">", ">=") else min(values)
        return {self.trigger.metric: worst}


@dataclass
class Unjudged:
    """A trigger the samples cannot judge: no sample of its metric, or too few for its window."""

    trigger: Trigger
    why: str


@dataclass
class Report:
    flag: str
    state: str
    samples: int
    watched: list[Trigger]
    fired: list[Firing] = field(default_factory=list)
    unjudged: list[Unjudged] = field(default_factory=list)
    near: list[str] = field(default_factory=list)  # near misses: how close, how long
    healthy: list[str] = field(default_factory=list)  # triggers judged and quiet, with their worst value
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> int:
        """0: every trigger judged, none fired; 1: a trigger fired; 2: a trigger could not be judged."""
        if self.fired:
            return 1
        return 2 if self.unjudged else 0

    def snapshot(self) -> dict[str, Decimal]:
        """Every breaching metric of every fired trigger, at its worst value."""
        found: dict[str, Decimal] = {}
        for firing in self.fired:
            for metric, value in firing.snapshot().items():
                if metric not in found or _worse(firing.trigger, value, found[metric]):
                    found[metric] = value
        return found


def _worse(trigger: Trigger, a: Decimal, b: Decimal) -> bool:
    return a > b if trigger.op in (">", ">=") else a < b


# One JSON object per line, each line under the evidence bound (1 MiB); the
# file as a whole under this one, so a runaway export cannot exhaust memory.
MAX_SAMPLES_BYTES = 64 * 1024 * 1024


def read_samples(path: Path) -> list[Sample]:
    """The samples of ``path``; ``-`` is standard input (a collector piping its output in)."""
    if str(path) == "-":
        import sys

        raw = sys.stdin.buffer.read(MAX_SAMPLES_BYTES + 1)
        path = Path("<stdin>")
    else:
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
    start, until = since or samples[0].at, now or samples[-1].at
    for trigger in report.watched:
        carrying = [s for s in samples if trigger.metric in s.values and s.at <= until]
        # A sample from before the flag entered its state measured an earlier state: it can neither
        # fire a trigger of this one nor show it healthy.
        series = [s for s in carrying if s.at >= start]
        if not series:
            why = f"no sample carries {trigger.metric}"
            if carrying:
                why = f"no {trigger.metric} sample since {flag.name} entered {flag.state} at {clock.iso(start)}: older samples measured an earlier state"
            report.unjudged.append(Unjudged(trigger, why))
            continue
        breach = OPS[trigger.op]

        def breaches(sample: Sample, trigger: Trigger = trigger, breach: Any = breach) -> bool:
            return bool(breach(sample.values[trigger.metric], Decimal(trigger.threshold)))

        firing = _fire(trigger, series, breaches, start, until)
        if firing is not None:
            firing.breaching = [s for s in series if breaches(s)]
            report.fired.append(firing)
            continue
        short = _too_few(trigger, series, breaches, start, until)
        if short is not None:
            report.unjudged.append(Unjudged(trigger, short))
            continue
        near = _near_miss(trigger, series, breaches, start, until)
        if near is not None:
            report.near.append(f"{_describe(trigger)}: {near}")
        report.healthy.append(f"{_describe(trigger)}: {len(series)} samples, worst {metrics.display(_worst(trigger, series))}")
    report.fired.sort(key=lambda f: f.at)
    return report


def _after(start: datetime, delta: timedelta) -> datetime:
    """``start + delta``, or the last instant a date can hold (9999-12-31) where that is later: never an overflow."""
    try:
        return start + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=start.tzinfo)


def _worst(trigger: Trigger, series: list[Sample]) -> Decimal:
    values = [s.values[trigger.metric] for s in series]
    return max(values) if trigger.op in (">", ">=") else min(values)


def _too_few(trigger: Trigger, series: list[Sample], breaches: Any, start: datetime, now: datetime) -> str | None:
    """Why ``series`` cannot show the trigger quiet (None when it can)."""
    count = len(series)
    if trigger.timeout_hours is not None:
        deadline = _after(start, timedelta(hours=trigger.timeout_hours))
        if now >= deadline and series[-1].at < deadline:
            return (
                f"the deadline {clock.iso(deadline)} has passed but the newest {trigger.metric} sample is from "
                f"{clock.iso(series[-1].at)}: nothing shows whether it is still breached"
            )
        return None
    if trigger.sustained_minutes is not None:
        window = timedelta(minutes=trigger.sustained_minutes)
        span = series[-1].at - series[0].at
        if span < window:
            return (
                f"{count} {trigger.metric} sample{'s' if count != 1 else ''} span {_minutes(span)} of the "
                f"{trigger.sustained_minutes} minutes the trigger needs"
            )
        # A breach, and no data around it: it began somewhere after the healthy sample before it and ended
        # somewhere before the next one (or goes on now), so it may have lasted the window whenever the
        # next sample comes later than the window after the one before (or now is).
        first: int | None = None
        for i, sample in enumerate([*series, None]):
            if sample is not None and breaches(sample):
                first = i if first is None else first
                continue
            if first is not None:
                seen = series[first].at
                began = series[first - 1].at if first > 0 else seen  # it may have begun right after the sample before
                if sample is None and now >= _after(began, window):
                    return (
                        f"the newest {trigger.metric} sample ({clock.iso(series[-1].at)}) breaches, as every one has since "
                        f"{clock.iso(seen)}, and none is newer: whether the breach, begun after {clock.iso(began)}, lasted "
                        f"{trigger.sustained_minutes} minutes (until {clock.iso(_after(began, window))}) cannot be told"
                    )
                if sample is not None and sample.at > _after(began, window):
                    return (
                        f"{trigger.metric} breached from {clock.iso(seen)} to {clock.iso(series[i - 1].at)}, the sample before "
                        f"is from {clock.iso(began)} and the next from {clock.iso(sample.at)}: whether the breach lasted "
                        f"{trigger.sustained_minutes} minutes in between cannot be told"
                    )
            first = None
        return None
    if count < trigger.consecutive:
        return f"{count} {trigger.metric} sample{'s' if count != 1 else ''}, the trigger needs {trigger.consecutive} consecutive"
    return None


def _minutes(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    return f"{minutes:g} minute{'s' if minutes != 1 else ''}"


def _near_miss(trigger: Trigger, series: list[Sample], breaches: Any, start: datetime, now: datetime) -> str | None:
    """How close a quiet trigger came: the longest breaching run, or a breach waiting for its deadline."""
    if trigger.timeout_hours is not None:
        deadline = _after(start, timedelta(hours=trigger.timeout_hours))
        latest = series[-1]
        if now < deadline and breaches(latest):
            left = deadline - now
            return (
                f"breaching now ({metrics.display(latest.values[trigger.metric])} at {clock.iso(latest.at)}), "
                f"{left.total_seconds() / 3600:g} h before the deadline {clock.iso(deadline)}"
            )
        return None
    # The longest breaching run, as indexes [first, last] (a list copied per sample was quadratic: 80,000 samples, 35 s).
    best: tuple[int, int] | None = None
    first: int | None = None
    for i, sample in enumerate(series):
        if not breaches(sample):
            first = None
            continue
        first = i if first is None else first
        if best is None:
            best = (first, i)
            continue
        longer = i - first > best[1] - best[0]
        if longer or (trigger.sustained_minutes is not None and series[i].at - series[first].at > series[best[1]].at - series[best[0]].at):
            best = (first, i)
    if best is None:
        return None
    longest = series[best[0] : best[1] + 1]
    worst = metrics.display(_worst(trigger, longest))
    if trigger.sustained_minutes is not None:
        return f"breached for {_minutes(_span(longest))} of {trigger.sustained_minutes} (from {clock.iso(longest[0].at)}, worst {worst})"
    return f"{len(longest)} of {trigger.consecutive} consecutive samples breached (from {clock.iso(longest[0].at)}, worst {worst})"


def _span(samples: list[Sample]) -> timedelta:
    return samples[-1].at - samples[0].at if samples else timedelta(0)


def _fire(trigger: Trigger, series: list[Sample], breaches: Any, start: datetime, now: datetime) -> Firing | None:
    if trigger.timeout_hours is not None:
        deadline = _after(start, timedelta(hours=trigger.timeout_hours))
        current = [s for s in series if s.at <= now]
        if now < deadline or not current or current[-1].at < deadline:
            return None  # a sample from before the deadline cannot show the breach outlasted it
        latest = current[-1]
        if breaches(latest):
            return Firing(
                trigger,
                [latest],
                f"still breached at {clock.iso(latest.at)}, past the deadline {clock.iso(deadline)} ({trigger.timeout_hours} h after {clock.iso(start)})",
            )
        return None
    window = timedelta(minutes=trigger.sustained_minutes or 0)
    run: list[Sample] = []
    for sample in series:
        if not breaches(sample):
            run = []
            continue
        run.append(sample)
        if trigger.sustained_minutes is not None:
            if run[-1].at - run[0].at >= window:
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
    for unjudged in report.unjudged:
        lines.append(f"CANNOT JUDGE: {_describe(unjudged.trigger)}: {unjudged.why}")
    lines += [f"near miss: {n}" for n in report.near]
    lines += [f"quiet: {h}" for h in report.healthy]
    if report.fired:
        lines.append(f"verdict: {len(report.fired)} trigger(s) fired (exit 1)")
    elif report.unjudged:
        metrics_missing = ", ".join(sorted({u.trigger.metric for u in report.unjudged}))
        lines.append(f"verdict: cannot judge {metrics_missing}: send more samples (exit 2); no data never proves a flag healthy")
    elif report.watched:
        lines.append("verdict: every trigger judged, nothing fired (exit 0)")
    else:
        lines.append("verdict: nothing to judge (exit 0)")
    return "\n".join(lines)


def justification(report: Report) -> str:
    """One line per fired trigger, for the transition block and the audit log."""
    parts = []
    for firing in report.fired:
        worst = metrics.display(next(iter(firing.snapshot().values())))
        parts.append(
            f"{_describe(firing.trigger)} fired at {clock.iso(firing.at)} ({firing.detail}); worst {firing.trigger.metric} {worst}"
        )
    return "rollback-check: " + "; ".join(parts)


def worst_of(flag: Flag, samples: list[Sample]) -> dict[str, Decimal]:
    """Each metric seen in ``samples`` at its worst: against its trigger's direction, else the metric's own."""
    found: dict[str, Decimal] = {}
    for sample in samples:
        for name, value in sample.values.items():
            trigger = next((t for t in flag.rollback if t.metric == name), None)
            higher_bad = trigger.op in (">", ">=") if trigger is not None else not metrics.METRICS[name].higher_is_better
            if name not in found or (value > found[name] if higher_bad else value < found[name]):
                found[name] = value
    return found
