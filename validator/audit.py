"""The audit log: every state change of every flag, from git history alone.

One ``git log --first-parent --raw`` streams the history of ``flags/``; one
``git cat-file --batch`` reads every distinct blob once.  A blob is read only
as far as an entry needs: its top-level ``name``, ``state``, ``percentage``
and ``transition`` (one small strict parse) and its ``rollout`` (parsed once
per distinct text).  A blob that does not read that way gets a full strict
parse; one that still fails becomes a warning entry, never a crash.

Order is the first-parent sequence, never commit dates.  Flag identity is the
``name`` field, so renames and moves are not creations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from validator import clock, history, loading, metrics, plan
from validator.plan import Position
from validator.repo import FLAG_SUFFIX, FLAGS_DIR, load_flag
from validator.rules.evidence import evidence_path, load_run, plain_run_id

_TOP_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)[ \t]*:(?:[ \t]|$)")
_NEEDED = ("name", "state", "percentage", "transition")


class Unreadable(ValueError):
    pass


class _Lazy(dict):  # type: ignore[type-arg]
    """Blobs by key, pulled from git's stream as far as the first lookup needs.

    Keys are asked for in the order they were requested, so git reads the next
    blob while this process parses the last one.
    """

    def __init__(self, keys: Any, stream: Any) -> None:
        super().__init__()
        self._pending = iter(list(keys))
        self._stream = stream

    def __missing__(self, key: Any) -> Any:
        for pending in self._pending:
            self[pending] = next(self._stream)
            if pending == key:
                return self[pending]
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def finish(self) -> None:
        for pending in self._pending:
            self[pending] = next(self._stream)
        for _ in self._stream:
            pass


@dataclass(frozen=True)
class Facts:
    """What the audit log needs of one flag blob."""

    name: str
    position: Position
    plan: tuple[Position, ...]
    transition: dict[str, Any] | None

    @property
    def step(self) -> int | None:
        arrived = self.transition.get("from") if self.transition and self.transition.get("to") == self.position.state else None
        return plan.locate(self.plan, self.position, arrived if isinstance(arrived, str) else None)


@dataclass
class Event:
    """One state change of one flag in one commit."""

    commit: history.Commit
    flag: str
    kind: str
    before: Position | None
    after: Position | None
    path: str
    transition: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)

    @property
    def evidence(self) -> list[str]:
        ids = (self.transition or {}).get("evidence") or []
        return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


@dataclass
class Problem:
    """A flag file at some commit that could not be read (a warning entry)."""

    commit: history.Commit
    path: str
    message: str


class Reader:
    """Blob -> Facts, each distinct blob and each distinct rollout text parsed once."""

    def __init__(self) -> None:
        self._plans: dict[str, tuple[Position, ...]] = {}
        self._facts: dict[bytes, Facts | str] = {}

    def facts(self, path: str, raw: bytes) -> Facts:
        cached = self._facts.get(raw)
        if cached is None:
            try:
                cached = self._quick(path, raw)
            except Unreadable:
                cached = self._full(path, raw)
            self._facts[raw] = cached
        if isinstance(cached, str):
            raise Unreadable(cached)
        return cached

    def _quick(self, path: str, raw: bytes) -> Facts:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Unreadable("not UTF-8") from None
        sections: dict[str, list[str]] = {}
        current: list[str] | None = None
        for line in text.splitlines(keepends=True):
            first = line[:1]
            if first in (" ", "-", "\t") or not line.strip() or line.lstrip().startswith("#"):
                if current is not None:
                    current.append(line)
                elif line.strip() and not line.lstrip().startswith("#"):
                    raise Unreadable("content before the first key")
                continue
            match = _TOP_KEY.match(line)
            if match is None or match.group(1) in sections:
                raise Unreadable("not a plain block mapping")
            current = sections[match.group(1)] = [line]
        if "rollout" not in sections or "name" not in sections or "state" not in sections:
            raise Unreadable("name, state or rollout missing")
        doc, problems = loading.load(path, "".join("".join(sections[k]) for k in _NEEDED if k in sections).encode())
        if doc is None:
            raise Unreadable(problems[0].message if problems else "unreadable")
        data = doc.data
        rollout_text = "".join(sections["rollout"])
        steps = self._plans.get(rollout_text)
        if steps is None:
            steps = self._plans[rollout_text] = self._rollout(path, rollout_text)
        return _facts(data, steps)

    def _rollout(self, path: str, text: str) -> tuple[Position, ...]:
        doc, _ = loading.load(path, text.encode())
        rollout = doc.data.get("rollout") if doc is not None else None
        if not isinstance(rollout, list) or not rollout:
            raise Unreadable("rollout is not a list of steps")
        steps = []
        for step in rollout:
            if not isinstance(step, dict) or not isinstance(step.get("state"), str):
                raise Unreadable("a rollout step has no state")
            pct = step.get("percentage")
            steps.append(Position(step["state"], pct if type(pct) is int else None))
        return tuple(steps)

    def _full(self, path: str, raw: bytes) -> Facts | str:
        file, findings = load_flag(path, raw)
        if file.flag is None:
            first = findings[0] if findings else None
            return f"{path}:{first.line}:{first.column}: {first.message}" if first else f"{path}: unreadable"
        flag = file.flag
        transition = file.doc.data.get("transition") if file.doc else None
        return Facts(flag.name, plan.position(flag), plan.steps(flag), transition if isinstance(transition, dict) else None)


def _facts(data: dict[str, Any], steps: tuple[Position, ...]) -> Facts:
    name, state, pct = data.get("name"), data.get("state"), data.get("percentage")
    if not isinstance(name, str) or not isinstance(state, str):
        raise Unreadable("name or state is not a string")
    if pct is not None and type(pct) is not int:
        raise Unreadable("percentage is not a whole number")
    transition = data.get("transition")
    return Facts(name, Position(state, pct), steps, transition if isinstance(transition, dict) else None)


def _is_flag_path(path: str) -> bool:
    return path.startswith(f"{FLAGS_DIR}/") and path.count("/") == 1 and path.endswith(FLAG_SUFFIX)


def events(root: Path, rev: str) -> list[Event | Problem]:
    """Every state change (and unreadable flag file) on ``rev``'s first-parent history, oldest first."""
    history.ensure_repository(root)
    sha = history.resolve(root, rev)
    commits = history.first_parent_log(root, sha, [f"{FLAGS_DIR}/"])
    wanted: dict[str, None] = {}
    for commit in commits:
        for change in commit.changes:
            if change.new_blob and _is_flag_path(change.path) and change.new_mode in ("100644", "100755"):
                wanted.setdefault(change.new_blob)
    blobs = _Lazy(wanted, history.Blobs(root).stream(list(wanted)))
    reader = Reader()
    found: list[Event | Problem] = []
    current: dict[str, Facts] = {}  # path -> facts of the flag there now
    for commit in commits:
        before: dict[str, tuple[str, Facts]] = {}
        after: dict[str, tuple[str, Facts]] = {}
        for change in commit.changes:
            if not _is_flag_path(change.path):
                continue
            old = current.pop(change.path, None)
            if old is not None:
                before.setdefault(old.name, (change.path, old))
            if change.new_blob is None or change.new_mode not in ("100644", "100755"):
                continue
            raw = blobs.get(change.new_blob)
            try:
                facts = reader.facts(change.path, raw or b"")
            except Unreadable as exc:
                found.append(Problem(commit, change.path, str(exc)))
                if old is not None:  # keep the last good reading: an unreadable file changes nothing
                    current[change.path] = old
                    before.pop(old.name, None)
                continue
            current[change.path] = facts
            after[facts.name] = (change.path, facts)
        for name in sorted(set(before) | set(after)):
            found.extend(_event(commit, name, before.get(name), after.get(name)))
    blobs.finish()
    return found


def _event(commit: history.Commit, name: str, old: tuple[str, Facts] | None, new: tuple[str, Facts] | None) -> list[Event]:
    if old is None and new is not None:
        path, facts = new
        return [Event(commit, name, plan.CREATE, None, facts.position, path, facts.transition)]
    if new is None and old is not None:
        path, facts = old
        return [Event(commit, name, plan.DELETE, facts.position, None, path, None)]
    assert old is not None and new is not None
    (_, was), (path, now) = old, new
    if was.position == now.position:
        return []
    kind, warnings = move_kind(was.plan, was.step, now.position)
    return [Event(commit, name, kind, was.position, now.position, path, now.transition, warnings)]


def move_kind(steps: tuple[Position, ...], at: int | None, target: Position) -> tuple[str, list[str]]:
    """The kind of a move; an illegal one is still named, with a warning."""
    legal = plan.classify(steps, at, target)
    if legal is not None:
        return legal[0], []
    to = plan.locate(steps, target)
    warning = f"not a legal step of the plan: from {steps[at] if at is not None else '?'} to {target}"
    if at is None or to is None:
        return (plan.DISABLE if target == steps[0] else plan.PROMOTE), [warning]
    if to > at:
        return plan.PROMOTE, [warning]
    return (plan.DISABLE if to == 0 else plan.DEMOTE), [warning]


def entries(root: Path, rev: str) -> list[dict[str, Any]]:
    """The audit log of ``rev`` as JSON-ready entries, oldest first."""
    found = events(root, rev)
    names: dict[tuple[str, str, str], str] = {}
    for event in found:
        if isinstance(event, Event) and event.kind == plan.PROMOTE:
            for run_id in event.evidence:
                if plain_run_id(run_id):
                    names[(event.commit.sha, event.flag, run_id)] = f"{event.commit.sha}:{evidence_path(event.flag, run_id)}"
    blobs = _Lazy(names, history.Blobs(root).stream(list(names.values())))
    out = []
    for item in found:
        if isinstance(item, Event):
            out.append(_entry(item, blobs))
        else:
            out.append(
                {
                    "commit": item.commit.sha,
                    "timestamp": clock.iso(item.commit.time),
                    "actor": item.commit.author,
                    "path": item.path,
                    "warning": f"unreadable flag file at this commit, no entry: {item.message}",
                }
            )
    return out


def _entry(event: Event, blobs: dict[tuple[str, str, str], bytes | None]) -> dict[str, Any]:
    transition = event.transition or {}
    entry: dict[str, Any] = {
        "flag": event.flag,
        "from": event.before.state if event.before else None,
        "to": event.after.state if event.after else None,
        "timestamp": clock.iso(event.commit.time),
        "actor": event.commit.author,
        "actor_email": event.commit.author_email,
        "metrics": {},
        "justification": transition.get("justification") if isinstance(transition.get("justification"), str) else None,
        "commit": event.commit.sha,
        "kind": event.kind,
    }
    pcts = (event.before.percentage if event.before else None, event.after.percentage if event.after else None)
    if any(p is not None for p in pcts):
        entry["from_percentage"], entry["to_percentage"] = pcts
    if event.kind in (plan.DEMOTE, plan.DISABLE):
        code = transition.get("reason_code")
        entry["reason_code"] = code if isinstance(code, str) else None
        snapshot = transition.get("metrics")
        if isinstance(snapshot, dict):
            entry["metrics"] = {k: v for k, v in snapshot.items() if isinstance(v, (int, Decimal)) and not isinstance(v, bool)}
            entry["metrics_source"] = "snapshot in the transition block"
    if event.kind == plan.PROMOTE and event.evidence:
        entry["evidence"] = event.evidence
        entry["metrics"], entry["metrics_source"] = _worst(event, blobs)
    if event.commit.trailers:
        entry["approved_by"] = event.commit.trailers
    if event.warnings:
        entry["warning"] = "; ".join(event.warnings)
    return entry


def _worst(event: Event, blobs: dict[tuple[str, str, str], bytes | None]) -> tuple[dict[str, Decimal], str]:
    """The worst value of each metric over the cited runs, recomputed from their inputs."""
    worst: dict[str, Decimal] = {}
    used, missing = [], []
    for run_id in event.evidence:
        raw = blobs.get((event.commit.sha, event.flag, run_id))
        if raw is None:
            missing.append(run_id)
            continue
        run = load_run(event.flag, run_id, raw)
        inputs = run.data.get("inputs") if isinstance(run.data.get("inputs"), dict) else None
        if inputs is None:
            missing.append(run_id)
            continue
        used.append(run_id)
        for name, metric in metrics.METRICS.items():
            if not all(field in inputs for field, _ in metric.inputs):
                continue
            try:
                value = metrics.compute(name, inputs)
            except metrics.MetricError:
                continue
            if name not in worst or (value < worst[name] if metric.higher_is_better else value > worst[name]):
                worst[name] = value
    source = f"worst of runs {', '.join(used)}, recomputed from inputs" if used else "no readable runs"
    if missing:
        source += f"; unreadable or missing: {', '.join(missing)}"
    return worst, source
