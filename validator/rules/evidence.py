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
A change may add only well-formed runs of the directory's flag (and their
``.sig``) under ``evidence/<flag>/``, cited or not: the newest-runs check
reads them all, and one it could not read would hide a newer red run.

Passing: three runs seq 101-103 in shadow, drift 0 ppm, finished after the
flag entered shadow and within 3 days.  Failing: the same with
``"ledger_total": "1000600.00", "legacy_total": "1000000.00"`` (600 ppm).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from validator import clock, jsonfile, metrics
from validator.finding import WARNING, Finding
from validator.plan import Position
from validator.records import Guard, Policy, Signer

if TYPE_CHECKING:
    from validator.repo import FlagFile, Tree

RULE = "evidence"
EVIDENCE_DIR = "evidence"

_FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "$schema": (str, False),
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
        and run_id.isprintable()
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
    signer: str | None = None  # the key id whose signature verified, when signers are configured

    @property
    def green(self) -> bool:
        return self.doc is not None and not self.problems

    @property
    def finished_at(self) -> datetime | None:
        value = self.data.get("finished_at")
        return clock.parse(value) if isinstance(value, str) else None

    @property
    def started_at(self) -> datetime | None:
        value = self.data.get("started_at")
        return clock.parse(value) if isinstance(value, str) else None

    @property
    def seq(self) -> int | None:
        value = self.data.get("seq")
        return value if type(value) is int else None

    def add(self, path: tuple[Any, ...], message: str, flag: str | None, *, key: bool = False) -> None:
        line, column = self.doc.where(path, key=key) if self.doc else (1, 1)
        self.problems.append(Finding(self.path, line, column, RULE, f"run {self.run_id}: {message}", flag))


ABSENT, NULL, OTHER = "absent", "null", "other"  # a run's flag_percentage where it is no whole number


class Seen(NamedTuple):
    """What the newest-runs rule reads of a run it does not judge: its seq, step and status.

    Kept by blob id between runs of flaggate (``histcache.KeptRuns``), so the
    percentage is kept as what it can equal: a whole number, or ``ABSENT``
    (matches any), ``NULL`` or ``OTHER`` (match none: a plan's percentages are
    whole numbers from 0 to 100).  A tuple: a flag's thousands of runs are
    made from what was kept at every promotion.
    """

    seq: int
    state: str | None
    percentage: int | str
    status: str | None

    def in_step(self, left: Position) -> bool:
        """Did this run run in the step being left?  A run that does not say its percentage might have."""
        if self.state != left.state:
            return False
        return left.percentage is None or self.percentage == ABSENT or self.percentage == left.percentage


def seen_of(data: Any) -> Seen | None:
    """The ``Seen`` of a run's parsed data; None for one whose seq cannot be read (it is reported)."""
    if not isinstance(data, dict):
        return None
    seq = data.get("seq")
    if type(seq) is not int:
        return None
    state, status = data.get("flag_state"), data.get("status")
    percentage = _percentage(data["flag_percentage"]) if "flag_percentage" in data else ABSENT
    return Seen(seq, state if isinstance(state, str) else None, percentage, status if isinstance(status, str) else None)


def _percentage(value: Any) -> int | str:
    """A flag_percentage as the whole number it equals (True equals 1, 25.0 equals 25), else NULL or OTHER."""
    if value is None:
        return NULL
    if isinstance(value, int):  # bool included: True == 1 in the comparison this stands for
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value() and value.adjusted() < 6:
        return int(value)  # larger ones equal no percentage of a plan (0..100), and are not expanded
    return OTHER


@dataclass(frozen=True)
class Directory:
    """Every run of a flag's directory that git holds as it is, sorted by seq: what the newest-runs rule
    asks of them (a seq one of the cited runs has, or newer than they are) found without a step per run.

    Columns, as kept (``histcache.KeptRuns.directory``): each row's reading is made, and checked, only
    when asked for.
    """

    ids: list[str]
    seqs: list[int]  # ascending
    states: list[Any]
    percentages: list[Any]
    statuses: list[Any]
    unreadable: list[str]

    def asked(self, seqs: Iterable[int], newest: int, check: Callable[[list[Any]], Seen | None]) -> dict[str, Seen | None]:
        """run id -> reading of the runs with one of ``seqs`` or newer than ``newest``, and of the unreadable ones."""
        import bisect  # a promotion's: the check of a tree alone imports none of it

        rows = set(range(bisect.bisect_right(self.seqs, newest), len(self.seqs)))
        for seq in seqs:
            rows.update(range(bisect.bisect_left(self.seqs, seq), bisect.bisect_right(self.seqs, seq)))
        found: dict[str, Seen | None] = dict.fromkeys(self.unreadable)
        for i in sorted(rows):
            found[self.ids[i]] = check([self.seqs[i], self.states[i], self.percentages[i], self.statuses[i]])
        return found


class Held(Protocol):
    """What git holds of the tree judged: the blob ids of the files it holds as they are, and blobs by id."""

    def blob_ids(self, paths: list[str]) -> dict[str, str]: ...

    def read_blobs(self, ids: list[str]) -> list[bytes | None]: ...


class KeptRuns(Protocol):
    """What the newest-runs rule read of runs before, by blob id (``histcache.KeptRuns``)."""

    def blobs(self, paths: list[str]) -> dict[str, str]:
        """The blob ids of those of ``paths`` whose bytes git holds (path -> blob id)."""
        ...

    def has(self, blob: str) -> bool: ...

    def get(self, blob: str) -> Seen | None: ...

    def learn(self, blob: str, seen: Seen | None) -> None: ...

    def directory(self) -> tuple[Directory, Callable[[list[Any]], Seen | None]] | None:
        """The runs git holds in the flag's directory, as kept for exactly its state now, with the check of a row."""
        ...

    def keep_directory(self, readings: dict[str, Seen | None]) -> None:
        """Keep ``readings`` (run id -> reading of every run git holds in the directory) for its state now."""
        ...


def run_ids(tree: Tree, flag: str | None) -> list[str]:
    """Every run id in ``evidence/<flag>/`` of ``tree`` (the cited runs must be the newest of them)."""
    if flag is None:
        return []
    suffix = ".json"
    prefix = f"{EVIDENCE_DIR}/{flag}/"
    return sorted(
        e.path[len(prefix) : -len(suffix)]
        for e in tree.entries_under(f"{EVIDENCE_DIR}/{flag}")
        if e.path.endswith(suffix) and "/" not in e.path[len(prefix) :]
    )


def seq_taken(tree: Tree, flag: str, runs: list[tuple[str, int]]) -> list[Finding]:
    """Each of ``runs`` (run id, seq) whose seq another run of ``flag`` in ``tree`` already has.

    A seq names one run: with two, every promotion citing the first is refused ("share seq"), and
    evidence is append-only, so neither could be taken back.  The gate asks it of the runs a change
    adds, ``evidence record`` of the run it is about to write.
    """
    mine = {run_id for run_id, _ in runs}
    others = [run_id for run_id in run_ids(tree, flag) if run_id not in mine]
    paths = [evidence_path(flag, run_id) for run_id in others]
    read_many = getattr(tree, "read_many", None)
    raws = read_many(paths) if read_many is not None else [tree.read(path) for path in paths]
    present = [(run_id, raw) for run_id, raw in zip(others, raws) if raw is not None]
    taken: dict[int, str] = {}
    for (run_id, _), doc in zip(present, jsonfile.loads_many([raw for _, raw in present])):
        seq = doc.data.get("seq") if doc is not None and isinstance(doc.data, dict) else None
        if isinstance(seq, int) and not isinstance(seq, bool):
            taken.setdefault(seq, run_id)
    findings = []
    for run_id, seq in sorted(runs):
        other = taken.setdefault(seq, run_id)
        if other != run_id:
            findings.append(
                Finding(
                    evidence_path(flag, run_id),
                    1,
                    1,
                    RULE,
                    f"run {run_id}: seq {seq} is already the seq of run {other}; each run of {flag} has its own seq: record it with a new one",
                    flag,
                )
            )
    return findings


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


_KIND_NAMES: dict[object, str] = {str: "a string", int: "a whole number", dict: "an object"}


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return _KIND_NAMES.get(kind, "valid")


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
    if left.percentage is not None and "flag_percentage" not in data:
        run.add((), f'a run of a percentage state names it: add "flag_percentage": {left.percentage}', flag)
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
    claims = data.get("metrics")
    claimed: dict[str, Any] = claims if isinstance(claims, dict) else {}
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


def _newest(
    flag: str,
    left: Position,
    cited: list[Run],
    others: list[str],
    read: Callable[[str], bytes | None],
    at_flag: Callable[[tuple[Any, ...], str], None],
    needed: int,
    read_many: Callable[[list[str]], list[bytes | None]] | None = None,
    kept: KeptRuns | None = None,
    held: Held | None = None,
) -> list[Finding]:
    """The cited runs must be the newest of the flag in that step: a newer run, of any status, blocks.

    Otherwise a red run 104 could simply be left uncited beside green runs
    101-103.  Seq numbers are unique per flag.  ``kept``: what this rule read
    of runs before, by blob id (a flag's thousands of runs are read at every
    promotion, and a run's bytes never change under its blob id), and of the
    whole directory as git holds it now, by seq.
    """
    findings: list[Finding] = []
    seqs = {r.seq: r.run_id for r in cited if r.seq is not None}
    if not seqs:
        return findings
    newest = max(seqs)
    seen: dict[str, Seen | None] = {}  # run id -> reading, of the runs that may matter
    to_read = others
    directory = kept.directory() if kept is not None else None
    if directory is not None:
        listed, check = directory
        try:
            asked = listed.asked(seqs, newest, check)
        except (TypeError, ValueError, IndexError):
            directory = None  # not as this writes it: every run is read
        else:
            covered = {*listed.ids, *listed.unreadable}
            waiting = set(others)
            seen.update((run_id, reading) for run_id, reading in asked.items() if run_id in waiting)
            to_read = [run_id for run_id in others if run_id not in covered]
    wanted_paths = [evidence_path(flag, run_id) for run_id in to_read]
    blobs = kept.blobs(wanted_paths) if kept is not None else held.blob_ids(wanted_paths) if held is not None else {}
    read_blobs = held.read_blobs if held is not None else None
    for part in range(0, len(to_read), _BATCH):
        _read_runs(flag, to_read[part : part + _BATCH], read, read_many, seen, kept, blobs, read_blobs)
    for run_id in others:
        if run_id not in seen:
            continue  # no file (a name the listing gave that is no regular file), or no seq that could matter
        run = seen[run_id]
        if run is None:
            findings.append(
                Finding(
                    evidence_path(flag, run_id),
                    1,
                    1,
                    RULE,
                    f"run {run_id} cannot be read, so whether it is newer than the cited runs cannot be told; fix it in a pull request of its own",
                    flag,
                    WARNING,
                )
            )
            continue
        if run.seq in seqs:
            at_flag(("transition", "evidence"), f"runs {seqs[run.seq]} and {run_id} share seq {run.seq}; seq numbers are unique per flag")
        elif run.seq > newest and run.in_step(left):
            at_flag(
                ("transition", "evidence"),
                f"run {run_id} (seq {run.seq}, status {run.status if run.status is not None else '?'}) in {left} is newer than the cited runs "
                f"(up to seq {newest}); the newest runs count: cite {needed} consecutive green runs newer than {run_id}",
            )
    if kept is not None and directory is None:
        _keep_directory(flag, kept, blobs, seen, cited, read)
    return findings


_BATCH = 2000  # runs read and parsed at once: fewer steps per run, and never a whole directory of them held


def blob_id(raw: bytes, digits: int) -> str:
    """git's object id of a blob of ``raw`` (SHA-1, or SHA-256 where ids have 64 digits)."""
    import hashlib  # a promotion's: OpenSSL's start-up stays off the plain check

    hasher = hashlib.sha256() if digits == 64 else hashlib.sha1()  # noqa: S324 - git's own object name, not a secret
    hasher.update(b"blob %d\0" % len(raw))
    hasher.update(raw)
    return hasher.hexdigest()


def _read_runs(
    flag: str,
    run_ids: list[str],
    read: Callable[[str], bytes | None],
    read_many: Callable[[list[str]], list[bytes | None]] | None,
    seen: dict[str, Seen | None],
    kept: KeptRuns | None,
    blobs: dict[str, str],
    read_blobs: Callable[[list[str]], list[bytes | None]] | None = None,
) -> None:
    """The readings of ``run_ids`` into ``seen``: kept ones by blob id, the rest read and parsed (a run with no file: none).

    A file git holds as it is (``blobs``) is read as the blob git holds: where the bytes on disk are
    not the blob's (a checkout that converts line ends, a clean filter from the user's own attributes,
    a file rewritten since git was asked), the blob's are read instead, for they are what a commit
    takes.  So a reading belongs to its blob, cache or not."""
    wanted: list[str] = []
    for run_id in run_ids:
        blob = blobs.get(evidence_path(flag, run_id))
        if kept is not None and blob is not None and kept.has(blob):
            seen[run_id] = kept.get(blob)
        else:
            wanted.append(run_id)
    paths = [evidence_path(flag, run_id) for run_id in wanted]
    raws = read_many(paths) if read_many is not None else [read(path) for path in paths]
    for path in _as_held(paths, raws, blobs, read_blobs):
        blobs.pop(path)  # git cannot give its blob: the bytes read stand, and nothing is kept
    present = [(run_id, path, raw) for run_id, path, raw in zip(wanted, paths, raws) if raw is not None]
    # Only its seq, step and status are read here, by the same strict reader (many at once: a flag's
    # thousands of older runs are read at every promotion); load_run's shape findings would be dropped.
    docs = jsonfile.loads_many([raw for _, _, raw in present])
    for (run_id, path, _), doc in zip(present, docs):
        seen[run_id] = seen_of(doc.data if doc is not None else None)
        blob = blobs.get(path)
        if kept is not None and blob is not None:
            kept.learn(blob, seen[run_id])


def _as_held(
    paths: list[str], raws: list[bytes | None], blobs: dict[str, str], read_blobs: Callable[[list[str]], list[bytes | None]] | None
) -> list[str]:
    """Put in ``raws`` the blob git holds for each of ``paths`` it holds as it is (``blobs``) where the bytes read are
    not the blob's (a checkout that converts line ends, a user's clean filter, a rewrite since git answered): what a
    commit takes is judged.  The paths whose blob git could not give are returned (their bytes read stand)."""
    other = [
        i
        for i, (path, raw) in enumerate(zip(paths, raws))
        if raw is not None and path in blobs and blob_id(raw, len(blobs[path])) != blobs[path]
    ]
    if not other:
        return []
    bodies = read_blobs([blobs[paths[i]] for i in other]) if read_blobs is not None else [None] * len(other)
    missing = []
    for i, body in zip(other, bodies):
        if body is None:
            missing.append(paths[i])
        else:
            raws[i] = body
    return missing


def _keep_directory(
    flag: str, kept: KeptRuns, blobs: dict[str, str], seen: dict[str, Seen | None], cited: list[Run], read: Callable[[str], bytes | None]
) -> None:
    """Keep the reading of every run git holds as it is in the directory (``blobs``: the others', each read or kept as
    its blob's; the cited ones from their data, once their bytes are the blob's), where each is known."""
    prefix, suffix = f"{EVIDENCE_DIR}/{flag}/", ".json"
    readings: dict[str, Seen | None] = {}
    for path in blobs:
        run_id = path[len(prefix) : -len(suffix)]
        if run_id not in seen:
            return  # gone while read: nothing kept
        readings[run_id] = seen[run_id]
    held = kept.blobs([evidence_path(flag, run.run_id) for run in cited])
    for run in cited:
        path = evidence_path(flag, run.run_id)
        if path in held:
            raw = read(path)
            if raw is None or blob_id(raw, len(held[path])) != held[path]:
                return  # not the blob's bytes: nothing kept
            readings[run.run_id] = seen_of(run.data if run.doc is not None else None)
    kept.keep_directory(readings)


def _check_signature(run: Run, raw: bytes, flag: str, signers: list[Signer], read: Callable[[str], bytes | None]) -> None:
    from validator import signing

    check = signing.verify(signers, flag, raw, read(run.path + signing.SIG_SUFFIX))
    if check.problem is not None:
        run.add((), check.problem, flag)
    run.signer = check.signer


def _withheld(
    flag: str,
    left: Position,
    cited: list[Run],
    others: list[str],
    read: Callable[[str], bytes | None],
    signers: list[Signer],
    entered_at: datetime | None,
    at_flag: Callable[[tuple[Any, ...], str], None],
) -> None:
    """Every run a signer made for the flag since it entered the step is in the repository, up to the newest cited.

    The signer numbers its runs per flag (``seq``); a gap means a run was
    left out, and a red run cannot be left out.
    """
    from validator import signing

    by_signer: dict[str, list[Run]] = {}
    for run in cited:
        if run.signer is not None and run.seq is not None:
            by_signer.setdefault(run.signer, []).append(run)
    if not by_signer:
        return
    signed: dict[str, list[Run]] = {name: list(runs) for name, runs in by_signer.items()}
    for run_id in others:
        raw = read(evidence_path(flag, run_id))
        if raw is None:
            continue
        run = load_run(flag, run_id, raw)
        if run.seq is None:
            continue
        check = signing.verify(signers, flag, raw, read(run.path + signing.SIG_SUFFIX))
        if check.signer in signed:
            signed[check.signer].append(run)
    for name, runs in signed.items():
        newest = max(r.seq for r in by_signer[name] if r.seq is not None)
        before = [
            r.seq for r in runs if r.seq is not None and entered_at is not None and r.started_at is not None and r.started_at <= entered_at
        ]
        present = {r.seq for r in runs if r.seq is not None}
        start = max(before) if before else min(present)
        missing = [seq for seq in range(start + 1, newest + 1) if seq not in present]
        if missing:
            shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
            at_flag(
                ("transition", "evidence"),
                f"run{'s' if len(missing) > 1 else ''} with seq {shown} signed by {name} {'are' if len(missing) > 1 else 'is'} missing from "
                f"evidence/{flag}/: every run the reconciler made since {flag} entered {left} must be in the repository up to the newest "
                "cited one (a red run cannot be left out); add the missing run files",
            )


@dataclass
class Verdict:
    """What the evidence of one promotion came to, for reports and comments."""

    runs: list[Run]
    findings: list[Finding]


@dataclass(frozen=True)
class Promotion:
    """One promotion's evidence question: which runs it cites, leaving which step, measured how."""

    file: FlagFile  # the flag file as changed: where the citations are
    flag: str
    run_ids: list[str]
    left: Position
    guards: list[Guard]
    entered_at: datetime | None  # when the flag entered the step it leaves (from the base's history)
    already_cited: dict[str, str]  # run id -> commit of the earlier promotion that cited it
    on_file: list[str]  # every run id in evidence/<flag>/ of the tree judged


def check_promotion(promotion: Promotion, tree: Tree, policy: Policy, now: datetime, kept: KeptRuns | None = None) -> Verdict:
    """Every evidence finding of one promotion out of ``left``.

    With ``signers`` (the base policy's), a run counts only with a valid
    signature of a signer allowed for the flag, and no run that signer made
    since the flag entered the step may be missing from the repository.
    """
    flag, flag_path, run_ids, left, guards = promotion.flag, promotion.file.path, promotion.run_ids, promotion.left, promotion.guards
    entered_at, already_cited, on_file, read = promotion.entered_at, promotion.already_cited, promotion.on_file, tree.read
    green_runs, max_age_days, signers = policy.green_runs, policy.max_evidence_age_days, list(policy.signers)
    where = promotion.file.doc.where if promotion.file.doc is not None else (lambda path: (1, 1))
    # What git holds of the tree (a revision's listing, or the index): files it holds as they are are judged as its blobs.
    held: Held | None = tree if hasattr(tree, "blob_ids") and hasattr(tree, "read_blobs") else None  # type: ignore[assignment]
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
        if held is not None:
            path = evidence_path(flag, run_id)
            held_raw: list[bytes | None] = [raw]
            _as_held([path], held_raw, held.blob_ids([path]), held.read_blobs)
            raw = held_raw[0] or raw
        run = load_run(flag, run_id, raw)
        judge_run(run, flag, left, guards)
        if signers:
            _check_signature(run, raw, flag, signers, read)
        finished = run.finished_at
        if finished is not None:
            if finished > now:
                run.add(("finished_at",), f"finished in the future ({clock.iso(finished)}, now is {clock.iso(now)})", flag)
        started = run.started_at
        if entered_at is not None and started is not None and started <= entered_at:
            run.add(
                ("started_at",),
                f"started at {clock.iso(started)}, before the flag entered {left} at {clock.iso(entered_at)}; "
                "only runs that started after it count",
                flag,
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
    others = [i for i in on_file or [] if i not in seen and plain_run_id(i)]
    findings.extend(_newest(flag, left, runs, others, read, at_flag, green_runs, getattr(tree, "read_many", None), kept, held))
    if signers:
        _withheld(flag, left, runs, others, read, signers, entered_at, at_flag)
    finished_times = [r.finished_at for r in runs if r.finished_at is not None]
    if finished_times:
        newest = max(finished_times)
        if newest <= now and now - newest > timedelta(days=max_age_days):
            at_flag(
                ("transition", "evidence"),
                f"the newest run finished {clock.iso(newest)}, more than {max_age_days} days before now ({clock.iso(now)}); cite fresh runs",
            )
    return Verdict(runs, findings)
