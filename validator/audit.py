"""The audit log: every state change of every flag, from git history alone.

The history itself (which flag moved where, in which commit, citing which
runs; which rules were amended) is ``validator.timeline``'s; this module
formats it as the spec's log entries and recomputes each promotion's metrics
from the inputs of the runs it cited.

Order is the first-parent sequence, never commit dates.  Flag identity is the
``name`` field, so renames and moves are not creations.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from validator import cited, clock, history, jsonout, metrics, plan, timeline
from validator.rules import amend
from validator.rules.evidence import evidence_path, plain_run_id
from validator.signing import SIG_SUFFIX
from validator.timeline import Event


class _Lazy(dict):  # type: ignore[type-arg]
    """Blobs by key, pulled from git's stream as far as the first lookup needs (a key never streamed: None)."""

    def __init__(self, keys: Any, stream: Any) -> None:
        super().__init__()
        self._keys = set(keys)
        self._pending = iter(list(keys))
        self._stream = stream

    def __missing__(self, key: Any) -> Any:
        if key not in self._keys:
            return None
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


_PART = 5000  # events whose entries are made together (the cited runs of a part are read by one git process)


def text(root: Path, rev: str) -> str:
    """The audit log of ``rev`` as published: ``jsonout.dumps(entries(root, rev))``, byte for byte."""
    return render(rendered(root, rev))


def rendered(root: Path, rev: str) -> list[str]:
    """Every entry of the audit log of ``rev``, rendered (``text`` joins them)."""
    return items(root, history.resolve(root, rev))


def render(rendered: list[str]) -> str:
    """The published file from its entries, each as ``item`` renders it."""
    return "".join(pieces(rendered))  # one copy of a long log in memory, not three


def pieces(rendered: list[str]) -> Iterator[str]:
    """``render(rendered)`` piece by piece, to write a long log without holding it twice."""
    if not rendered:
        yield "[]\n"
        return
    yield "[\n  "
    for at, entry in enumerate(rendered):
        if at:
            yield ",\n  "
        yield entry
    yield "\n]\n"


def item(entry: dict[str, Any]) -> str:
    """One entry as it reads inside the published list (JSON strings never hold a raw line break)."""
    return jsonout.dumps(entry)[:-1].replace("\n", "\n  ")


def items(root: Path, sha: str) -> list[str]:
    """Every entry of ``sha``'s audit log, rendered, going on from the nearest log kept for an ancestor.

    An entry is a function of its commit alone (the event and the runs it
    cited, read at that commit), so the entries of a kept log for a
    first-parent ancestor (``validator.histcache``) are those of this one, and
    only the commits after it are read.
    """
    from validator import histcache

    effective = history.effective_times(root, sha)
    cache = histcache.open_cache(root)
    walk = timeline.Walk()
    done: list[str] = []
    since: str | None = None
    if cache is not None:
        kept = cache.nearest_log(effective)
        if kept is not None and kept.sha == sha:
            return kept.items
        if kept is not None and walk.restore(root, kept.state):
            since, done = kept.sha, kept.items
    found = walk.run(root, sha, since, effective)
    walk.reader = timeline.Reader()  # the facts of every blob read: what goes on is named by blob ids (``walk.state``)
    done.extend(_parts(root, found))
    if cache is not None:
        cache.save_log(sha, walk.state(), done)
    return done


def _parts(root: Path, found: list[Event | timeline.Problem]) -> Iterator[str]:
    """The entries of ``found`` rendered, a part at a time; ``found`` is emptied as they are made.

    Each event is dropped once its entry is written, so a long history is
    not held twice.  While one part's entries are made, a thread finds where
    the next part's cited runs are (git rebuilding each promotion's evidence
    tree is most of that, on the other core).
    """
    from concurrent.futures import ThreadPoolExecutor

    parts: list[list[Event | timeline.Problem]] = []
    while found:
        parts.append(found[:_PART])
        del found[:_PART]
    locator = cited.Locator(root)  # used by the one thread only, part after part
    with ThreadPoolExecutor(max_workers=1) as pool:
        located = pool.submit(_cited, locator, parts[0]) if parts else None
        for at, part in enumerate(parts):
            names = located.result() if located is not None else {}
            located = pool.submit(_cited, locator, parts[at + 1]) if at + 1 < len(parts) else None
            parts[at] = []
            yield from (item(entry) for entry in _each(root, part, names, consume=True))


def entries(root: Path, rev: str, found: list[Event | timeline.Problem] | None = None) -> list[dict[str, Any]]:
    """The audit log of ``rev`` as JSON-ready entries, oldest first (``found``: its events, when already read)."""
    if found is None:
        found = timeline.events(root, rev)
    return list(_each(root, found, _cited(cited.Locator(root), found)))


def _cited(locator: cited.Locator, found: list[Event | timeline.Problem]) -> dict[tuple[str, str, str], str]:
    """What to read of the runs the promotions cited (each with its signature, if any), by commit, flag and run file.

    Each value names the object at ``evidence/<flag>/<run>.json`` (``.sig``)
    in the promotion's commit (``validator.cited``); a file not there has no key.
    """
    asks: list[tuple[str, str, list[tuple[str, tuple[str, str, str]]]]] = []
    for event in found:
        if isinstance(event, Event) and event.kind == plan.PROMOTE and event.flag is not None:
            sha, flag = event.commit.sha, event.flag
            wanted = []
            for run_id in event.evidence:
                if plain_run_id(run_id):
                    run_file = evidence_path(flag, run_id).rsplit("/", 1)[1]
                    wanted += [(run_file, (sha, flag, run_id)), (run_file + SIG_SUFFIX, (sha, flag, run_id + SIG_SUFFIX))]
            if wanted:
                asks.append((sha, flag, wanted))
    return locator.locate(asks)


def _each(
    root: Path, found: list[Event | timeline.Problem], names: dict[tuple[str, str, str], str], *, consume: bool = False
) -> Iterator[dict[str, Any]]:
    """The entries one by one, the cited runs read as they are needed (``consume``: each event dropped from ``found`` once used)."""
    blobs = _Lazy(names, history.Blobs(root, lean=True).stream(list(names.values())))
    for at, item in enumerate(found):
        if consume:
            found[at] = None  # type: ignore[call-overload]  # a long history's events are not all held with their entries
        if isinstance(item, Event):
            yield _entry(item, blobs)
            for run_id in item.evidence if item.kind == plan.PROMOTE else ():  # read for this entry only
                blobs.pop((item.commit.sha, item.flag or "", run_id), None)
                blobs.pop((item.commit.sha, item.flag or "", run_id + SIG_SUFFIX), None)
        else:
            yield {
                "commit": item.commit.sha,
                "timestamp": clock.iso(item.commit.time),
                "actor": item.commit.author,
                "path": item.path,
                "warning": f"unreadable {'flag file' if item.path.startswith('flags/') else 'file'} at this commit, no entry: {item.message}",
            }
    blobs.finish()


def _entry(event: Event, blobs: dict[tuple[str, str, str], bytes | None]) -> dict[str, Any]:
    if event.kind == amend.KIND:
        return _amend_entry(event)
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
        signers = _signers(event, blobs)
        if signers:
            entry["signed_by"] = signers
    if event.commit.trailers:
        entry["approved_by"] = event.commit.trailers
    if event.warnings:
        entry["warning"] = "; ".join(event.warnings)
    return entry


def _amend_entry(event: Event) -> dict[str, Any]:
    """A change of rules: the flag's (or the policy's, the resources') fields before and after."""
    entry: dict[str, Any] = {}
    if event.flag is not None:
        entry["flag"] = event.flag
        entry["from"] = entry["to"] = event.before.state if event.before else None
    else:
        entry["file"] = event.path
    entry.update(
        {
            "timestamp": clock.iso(event.commit.time),
            "actor": event.commit.author,
            "actor_email": event.commit.author_email,
            "metrics": {},
            "justification": None,
            "commit": event.commit.sha,
            "kind": amend.KIND,
            "changes": event.changes,
        }
    )
    if event.commit.trailers:
        entry["approved_by"] = event.commit.trailers
    return entry


def _signers(event: Event, blobs: dict[tuple[str, str, str], bytes | None]) -> list[str]:
    """The key ids named by the signatures of the cited runs, as committed (history is not re-judged by today's policy)."""
    from validator import jsonfile

    found = set()
    for run_id in event.evidence:
        raw = blobs.get((event.commit.sha, event.flag or "", run_id + SIG_SUFFIX))
        if raw is None:
            continue
        try:
            data = jsonfile.loads(raw).data
        except jsonfile.JSONError:
            continue
        if isinstance(data, dict) and isinstance(data.get("keyid"), str):
            found.add(data["keyid"])
    return sorted(found)


def _worst(event: Event, blobs: dict[tuple[str, str, str], bytes | None]) -> tuple[dict[str, Decimal], str]:
    """The worst value of each metric over the cited runs, recomputed from their inputs."""
    worst: dict[str, Decimal] = {}
    used, missing = [], []
    flag = event.flag or ""
    for run_id in event.evidence:
        raw = blobs.get((event.commit.sha, flag, run_id))
        if raw is None:
            missing.append(run_id)
            continue
        inputs = _inputs(raw)
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


def _inputs(raw: bytes) -> dict[str, Any] | None:
    """A run file's ``inputs``, read by the strict JSON reader (the same data ``load_run`` gives).

    Only the inputs make the entry: the shape findings ``load_run`` adds
    (unknown keys, times, the run id) never did, and locating them is the
    costly part.
    """
    from validator import jsonfile

    try:
        data = jsonfile.loads(raw).data
    except jsonfile.JSONError:
        return None
    inputs = data.get("inputs") if isinstance(data, dict) else None
    return inputs if isinstance(inputs, dict) else None
