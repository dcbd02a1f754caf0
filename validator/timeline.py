"""Where each flag has been, since when, and with which runs: the state history.

One ``git log --first-parent --raw`` streams the history of ``flags/``,
``policy.yaml`` and ``resources.yaml``; one ``git cat-file --batch`` reads
every distinct blob once, each parsed by the same strict loader and models as
``flaggate check`` (one reader: a blob the check refuses is unreadable here
too, never half-read by a faster parser).

The history answers, for every flag, the questions the gate and the audit log
ask, and both ask it here (neither learns history from the other):

* which step of its plan a flag is at.  This is followed move by move from
  the flag's creation, never read from the flag's ``transition`` block, which
  a change can rewrite: the backfill's last ``off`` (plan complete) and its
  first ``off`` look the same in the file;
* when it entered that step, by which commit.  Time on the first-parent
  history only moves forward: a commit counts as no earlier than its first
  parent, so a backdated commit cannot shorten a soak;
* which runs earlier promotions cited;
* which rules changed (``amend``), for the audit log.

Order is the first-parent sequence, never commit dates.  Flag identity is the
``name`` field, so renames and moves are not creations.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from validator import history, loading, plan
from validator.plan import Position
from validator.records import Policy, Resources
from validator.repo import FLAG_SUFFIX, FLAGS_DIR, POLICY_FILE, RESOURCES_FILE, load_flag
from validator.rules import amend, schema

if TYPE_CHECKING:
    from validator import histcache

_REGULAR = ("100644", "100755")
_RULE_FILES: dict[str, type[Policy] | type[Resources]] = {POLICY_FILE: Policy, RESOURCES_FILE: Resources}


class Unreadable(ValueError):
    pass


@dataclass(frozen=True, slots=True)  # one per flag blob of a long history
class Facts:
    """What the history needs of one flag blob."""

    name: str
    position: Position
    plan: tuple[Position, ...]
    rules: dict[str, Any]  # the amendable fields, as JSON data
    fingerprint: str
    transition: dict[str, Any] | None


@dataclass(slots=True)  # one per change of a long history: no per-object dict
class Event:
    """One change of one flag (or of a rules file) in one commit."""

    commit: history.Commit
    flag: str | None  # None for an amend of policy.yaml or resources.yaml
    kind: str
    before: Position | None
    after: Position | None
    path: str
    transition: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)
    step: int | None = None  # the plan step the flag is at after the event
    changes: list[dict[str, Any]] = field(default_factory=list)  # for amends

    @property
    def evidence(self) -> list[str]:
        ids = (self.transition or {}).get("evidence") or []
        return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


@dataclass(slots=True)
class Problem:
    """A flag or rules file at some commit that could not be read (a warning entry)."""

    commit: history.Commit
    path: str
    message: str


@dataclass
class Standing:
    """Where one flag stands after some commit: its step, since when, and the runs already cited."""

    step: int | None
    entered_at: datetime | None
    entered_commit: str | None
    cited: dict[str, str] = field(default_factory=dict)  # run id -> commit of the promotion that cited it


class Reader:
    """Blob -> Facts, each distinct blob parsed once, strictly (the same reader as ``check``)."""

    def __init__(self) -> None:
        self._facts: dict[bytes | str, Facts | str] = {}
        self._rules: dict[str, tuple[str, dict[str, Any]]] = {}
        self._plans: dict[tuple[Position, ...], tuple[Position, ...]] = {}
        self._positions: dict[Position, Position] = {}

    def share(self, read: Facts | str) -> Facts | str:
        return self._shared(read)

    def _shared(self, read: Facts | str) -> Facts | str:
        """The same rules and plan, read from many versions of a flag, held once (a long history is mostly such versions)."""
        if isinstance(read, str):
            return read
        fingerprint, rules = self._rules.setdefault(read.fingerprint, (read.fingerprint, read.rules))
        steps = self._plans.setdefault(read.plan, read.plan)
        position = self._positions.setdefault(read.position, read.position)
        return Facts(read.name, position, steps, rules, fingerprint, read.transition)

    def has(self, blob: str) -> bool:
        return blob in self._facts

    def keep(self, blob: str, read: Facts | str) -> None:
        """Keep what ``_read`` made of ``blob`` (in another process: see ``_Helper``)."""
        self._facts[blob] = self._shared(read)

    def facts(self, path: str, raw: bytes, blob: str | None = None) -> Facts:
        """The facts of ``raw``; ``blob``: its id, which names the same bytes (so ``raw`` may be empty once ``has(blob)``)."""
        key: bytes | str = blob if blob is not None else raw
        cached = self._facts.get(key)
        if cached is None:
            cached = self._facts[key] = self._shared(_read(path, raw))
        if isinstance(cached, str):
            raise Unreadable(cached)
        return cached


def _read(path: str, raw: bytes) -> Facts | str:
    file, findings = load_flag(path, raw)
    if file.flag is None:
        first = findings[0] if findings else None
        # Without the path: the reading is kept by blob, and the same blob may sit at another path later.
        return f"{first.line}:{first.column}: {first.message}" if first else "unreadable"
    flag = file.flag
    transition = file.doc.data.get("transition") if file.doc else None
    rules = amend.rules_of(flag, amend.FLAG_FIELDS)
    return Facts(
        flag.name,
        plan.position(flag),
        plan.steps(flag),
        rules,
        amend.fingerprint(rules),
        transition if isinstance(transition, dict) else None,
    )


def _read_rules_file(path: str, raw: bytes) -> dict[str, Any] | str:
    doc, problems = loading.load(path, raw)
    if doc is None:
        return f"{path}:{problems[0].line}:{problems[0].column}: {problems[0].message}" if problems else f"{path}: unreadable"
    model, problems = schema.validate(doc, _RULE_FILES[path])
    if model is None:
        return f"{path}:{problems[0].line}:{problems[0].column}: {problems[0].message}" if problems else f"{path}: unreadable"
    return amend.rules_of(model)


def _is_flag_path(path: str) -> bool:
    return path.startswith(f"{FLAGS_DIR}/") and path.count("/") == 1 and path.endswith(FLAG_SUFFIX)


class _Lazy:
    """Blobs by id, pulled from git's stream as far as the first lookup needs.

    Ids are asked for in the order they were requested, so git reads the next
    blob while this process parses the last one.
    """

    def __init__(self, keys: list[str], stream: Iterator[bytes | None]) -> None:
        self._got: dict[str, bytes | None] = {}
        self._pending = iter(keys)
        self._stream = stream
        self.keep: set[str] = set()  # blobs never forgotten

    def get(self, key: str) -> bytes | None:
        if key in self._got:
            return self._got[key]
        for pending in self._pending:
            self._got[pending] = next(self._stream)
            if pending == key:
                return self._got[pending]
        return None

    def forget(self, key: str) -> None:
        """Drop a blob read (a later ``get`` of it answers None), unless a rules file may ask for it again."""
        if key not in self.keep:
            self._got.pop(key, None)

    def finish(self) -> None:
        for pending in self._pending:
            self._got[pending] = next(self._stream)
        for _ in self._stream:
            pass


def events(root: Path, rev: str) -> list[Event | Problem]:
    """Every change (and unreadable file) on ``rev``'s first-parent history, oldest first."""
    sha = history.resolve(root, rev)
    return events_of(root, sha)


def events_of(root: Path, sha: str, effective: dict[str, int] | None = None) -> list[Event | Problem]:
    return Walk().run(root, sha, None, effective if effective is not None else history.effective_times(root, sha))


PATHS = [f"{FLAGS_DIR}/", POLICY_FILE, RESOURCES_FILE]  # what a walk reads of each commit


class Walk:
    """The history walked commit by commit, with what it must remember between commits.

    What it remembers is named by blob ids (``current``, ``rule_blobs``) and
    step indexes, so a walk can stop at one commit and go on later from there
    (``validator.histcache`` keeps it): the blobs are read again from git,
    never from the cache.
    """

    def __init__(self, names: frozenset[str] | None = None) -> None:
        self.reader = Reader()
        # Only these flags' events, when given: a blob is parsed only if it could name one of them
        # (``_may_name``) or replaces one of them.  Such a walk is kept for the same names only.
        self.names = names
        # path -> (blob id, facts of the flag there now; None: a flag outside ``names``)
        self.current: dict[str, tuple[str, Facts | None]] = {}
        self.steps: dict[str, int | None] = {}  # flag -> its step, followed move by move
        self.rule_files: dict[str, dict[str, Any]] = {}
        self.rule_blobs: dict[str, str] = {}
        self._skipped: set[str] = set()  # blobs searched for ``names`` and found not to name any
        self._root = Path(".")
        self._helper: _Helper | None = None

    def run(self, root: Path, sha: str, since: str | None, effective: dict[str, int]) -> list[Event | Problem]:
        """The events of the first-parent commits after ``since`` (None: from the root) up to ``sha``."""
        rev = f"{since}..{sha}" if since is not None else sha
        return self.replay(root, history.first_parent_log(root, rev, PATHS, people=self.names is None), effective)

    def replay(self, root: Path, commits: list[history.Commit], effective: dict[str, int]) -> list[Event | Problem]:
        """The events of ``commits``, oldest first, each taken as changing the files from where this walk stands."""
        for commit in commits:
            commit.effective = effective.get(commit.sha, commit.time)
            # A long history has few people and paths: each held once, not once per commit.
            commit.author, commit.author_email = sys.intern(commit.author), sys.intern(commit.author_email)
            commit.parents = []  # never read from an event's commit
            for change in commit.changes:
                change.path = sys.intern(change.path)
        wanted: dict[str, str] = {}  # blob -> the first path it is at
        rules: set[str] = set()
        for commit in commits:
            for change in commit.changes:
                if change.new_blob and change.new_mode in _REGULAR and (_is_flag_path(change.path) or change.path in _RULE_FILES):
                    wanted.setdefault(change.new_blob, change.path)
                    if change.path in _RULE_FILES:
                        rules.add(change.new_blob)
        self._helper = self._help(root, wanted, rules)
        streamed = [blob for blob in wanted if self._helper is None or blob not in self._helper.blobs]
        blobs = _Lazy(streamed, history.Blobs(root).stream(streamed))
        self._root = root
        blobs.keep = rules
        found: list[Event | Problem] = []
        try:
            for commit in commits:
                self._commit(commit, blobs, found)
                commit.changes = []  # read; the events keep the commit, not its diff
            blobs.finish()
        finally:
            self._take_help()
        return found

    def _help(self, root: Path, wanted: dict[str, str], rules: set[str]) -> _Helper | None:
        """A second process reading the later half of a long history's flag blobs, while this one reads the first."""
        flags = [(blob, path) for blob, path in wanted.items() if blob not in rules and not self.reader.has(blob)]
        if self.names is not None or len(flags) < _HELP_FROM or not _may_fork():
            return None
        return _Helper.start(root, flags[len(flags) // 2 :])

    def _take_help(self) -> None:
        """Take what the helper read (or, if it failed, read those blobs here): the same reader, the same facts."""
        helper, self._helper = self._helper, None
        if helper is None:
            return
        got = helper.collect()
        if got is None:
            ids = [blob for blob, _ in helper.items]
            got = [
                (blob, _read(path, _present(raw, blob, path)))
                for (blob, path), raw in zip(helper.items, history.Blobs(self._root).read(ids))
            ]
        for blob, read in got:
            self.reader.keep(blob, read)

    def _commit(self, commit: history.Commit, blobs: _Lazy, found: list[Event | Problem]) -> None:
        current = self.current
        before: dict[str, tuple[str, Facts]] = {}
        after: dict[str, tuple[str, Facts]] = {}
        file_events: list[Event | Problem] = []
        names = self.names
        for change in commit.changes:
            if change.path in _RULE_FILES:
                if names is None:
                    file_events.extend(_rules_file_event(commit, change, blobs, self.rule_files, self.rule_blobs))
                continue
            if not _is_flag_path(change.path):
                continue
            held = current.pop(change.path, None)
            old = held[1] if held is not None else None
            if old is not None:
                before.setdefault(old.name, (change.path, old))
            if change.new_blob is None or change.new_mode not in _REGULAR:
                continue
            blob = change.new_blob
            if self._helper is not None and blob in self._helper.blobs:
                self._take_help()
            parsed = self.reader.has(blob)
            if parsed:
                raw = b""  # parsed once already (kept by id), and its bytes forgotten
            elif blob in self._skipped:  # searched once already and not parsed
                if old is None:
                    current[change.path] = (blob, None)
                    continue
                raw = _present(history.Blobs(self._root).read([blob])[0], blob, change.path)  # now it replaces a flag asked about
            else:
                raw = _present(blobs.get(blob), blob, change.path)
            if names is not None and old is None and not parsed and not _may_name(raw, names):
                self._skipped.add(blob)
                blobs.forget(blob)
                current[change.path] = (blob, None)
                continue
            try:
                facts = self.reader.facts(change.path, raw, blob)
            except Unreadable as exc:
                found.append(
                    Problem(commit, change.path, f"{change.path}:{exc}" if str(exc) != "unreadable" else f"{change.path}: unreadable")
                )
                if held is not None:  # keep the last good reading: an unreadable file changes nothing
                    current[change.path] = held
                    if old is not None:
                        before.pop(old.name, None)
                continue
            finally:
                blobs.forget(blob)  # parsed once, kept by id: the bytes are not needed again
            if names is not None and facts.name not in names:
                current[change.path] = (change.new_blob, None)
                continue
            current[change.path] = (change.new_blob, facts)
            after[facts.name] = (change.path, facts)
        changed = {c.path for c in commit.changes}
        for name in sorted(set(before) | set(after)):
            was, now = before.get(name), after.get(name)
            if was is None or now is None:
                # A second file naming a flag that exists, or one of two such files removed: the flag
                # itself is neither created nor deleted while another, untouched file still names it.
                other = next(
                    (
                        (path, held[1])
                        for path, held in current.items()
                        if path not in changed and held[1] is not None and held[1].name == name
                    ),
                    None,
                )
                if other is not None:
                    was, now = (other, now) if was is None else (was, other)
            found.extend(_flag_events(commit, name, was, now, self.steps))
        found.extend(file_events)

    def state(self) -> dict[str, Any]:
        """What a later walk needs to go on from here, as JSON data (blob ids, not contents)."""
        return {
            "names": sorted(self.names) if self.names is not None else None,
            "current": {path: blob for path, (blob, facts) in sorted(self.current.items()) if facts is not None},
            "others": {path: blob for path, (blob, facts) in sorted(self.current.items()) if facts is None},
            "steps": dict(sorted(self.steps.items())),
            "rule_files": dict(sorted(self.rule_blobs.items())),
        }

    def restore(self, root: Path, state: dict[str, Any]) -> bool:
        """Go on from ``state``, every blob read again from git; False (and nothing kept) if anything does not fit."""
        names = state.get("names")
        current = state.get("current")
        others = state.get("others")
        steps = state.get("steps")
        rule_files = state.get("rule_files")
        if not (isinstance(current, dict) and isinstance(others, dict) and isinstance(steps, dict) and isinstance(rule_files, dict)):
            return False
        if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            return False
        if names is None and others:
            return False  # a whole walk knows every flag
        if not all(isinstance(v, int) or v is None for v in steps.values()):
            return False
        paths = [*current.items(), *rule_files.items()]
        if not all(isinstance(p, str) and isinstance(b, str) and _is_oid(b) for p, b in [*paths, *others.items()]):
            return False
        if not all(_is_flag_path(p) for p in [*current, *others]) or not all(p in _RULE_FILES for p in rule_files):
            return False
        wanted = frozenset(names) if names is not None else None
        bodies = history.Blobs(root).read([b for _, b in paths])
        restored: dict[str, tuple[str, Facts | None]] = {path: (blob, None) for path, blob in others.items()}
        rules: dict[str, dict[str, Any]] = {}
        for (path, blob), raw in zip(paths, bodies):
            if raw is None:
                return False
            if path in current:
                try:
                    facts = self.reader.facts(path, raw)
                except Unreadable:
                    return False
                if wanted is not None and facts.name not in wanted:
                    return False
                restored[path] = (blob, facts)
            else:
                read = _read_rules_file(path, raw)
                if isinstance(read, str):
                    return False
                rules[path] = read
        self.names = wanted
        self.current, self.steps = restored, {str(k): v for k, v in steps.items()}
        self.rule_files, self.rule_blobs = rules, dict(rule_files)
        return True


def _present(raw: bytes | None, blob: str, path: str) -> bytes:
    """A blob the first-parent history names: git not having it is a damaged or partial clone, never an empty file."""
    if raw is None:
        raise history.HistoryError(
            f"git has no object {blob} ({path} in the first-parent history): this clone is damaged or partial; "
            "fetch it again in full (git fetch --refetch) or clone again"
        )
    return raw


_HELP_FROM = 4000  # flag blobs to read before a second process pays for its start (a fork, a git process)


def _may_fork() -> bool:
    """Only a process with one thread forks: a lock another thread holds would stay held in the child."""
    return hasattr(os, "fork") and threading.active_count() == 1


class _Helper:
    """A forked process that parses some flag blobs with ``_read`` and sends back exactly what it made.

    Parsing is most of a long walk, and the machine has more than one core.
    The child reads the blobs from git itself and runs the same function on
    them as this process would (the one strict reader, the same models), so
    the facts are the same by construction; they come back pickled through a
    pipe.  If anything goes wrong there, ``collect`` answers None and the
    blobs are read here instead.
    """

    def __init__(self, items: list[tuple[str, str]], pid: int, fd: int) -> None:
        self.items = items
        self.blobs = {blob for blob, _ in items}
        self.pid, self.fd = pid, fd

    @classmethod
    def start(cls, root: Path, items: list[tuple[str, str]]) -> _Helper | None:
        try:
            readable, writable = os.pipe()
            pid = os.fork()
        except OSError:
            return None
        if pid == 0:  # the child: parse, send, and leave without running anything of the parent's
            status = 1
            try:
                os.close(readable)
                reader = Reader()
                ids = [blob for blob, _ in items]
                made = [
                    (blob, reader.share(_read(path, _present(raw, blob, path))))
                    for (blob, path), raw in zip(items, history.Blobs(root).stream(ids))
                ]
                import pickle  # the helper's only: a check's start-up does without it

                with os.fdopen(writable, "wb") as handle:
                    pickle.dump(made, handle, protocol=pickle.HIGHEST_PROTOCOL)
                status = 0
            finally:
                os._exit(status)
        os.close(writable)
        return cls(items, pid, readable)

    def collect(self) -> list[tuple[str, Facts | str]] | None:
        import pickle

        try:
            with os.fdopen(self.fd, "rb") as handle:
                made = pickle.load(handle)  # our own child's output, through our own pipe
        except Exception:  # noqa: BLE001 - any failure there: the blobs are read here
            made = None
        finally:
            _, status = os.waitpid(self.pid, 0)
        if status != 0 or not isinstance(made, list) or len(made) != len(self.items):
            return None
        return made


def _may_name(raw: bytes, names: frozenset[str]) -> bool:
    """Could the strict reader find one of ``names`` as this blob's ``name``?  False only when it surely cannot.

    A readable flag file is UTF-8 and its name matches ``^[a-z][a-z0-9_]*$``
    (no space, so no line folding): YAML can spell such a value without its
    own bytes only through a backslash escape.  This decides only which blobs
    are parsed; what a blob says always comes from the strict reader.
    """
    return b"\\" in raw or any(name.encode() in raw for name in names)


def _is_oid(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def _rules_file_event(
    commit: history.Commit, change: history.Change, blobs: _Lazy, known: dict[str, dict[str, Any]], known_blobs: dict[str, str]
) -> list[Event | Problem]:
    path = change.path
    if change.new_blob is None or change.new_mode not in _REGULAR:
        known_blobs.pop(path, None)
        was = known.pop(path, None)
        if was is None:
            return []
        return [Event(commit, None, amend.KIND, None, None, path, None, changes=amend.changes(was, None))]
    read = _read_rules_file(path, _present(blobs.get(change.new_blob), change.new_blob, path))
    if isinstance(read, str):
        return [Problem(commit, path, read)]
    was = known.get(path)
    known[path] = read
    known_blobs[path] = change.new_blob
    if was is None or was == read:
        return []  # the first reading is where the history starts, not a change
    return [Event(commit, None, amend.KIND, None, None, path, None, changes=amend.changes(was, read))]


def _flag_events(
    commit: history.Commit,
    name: str,
    old: tuple[str, Facts] | None,
    new: tuple[str, Facts] | None,
    steps: dict[str, int | None],
) -> list[Event]:
    if old is None and new is not None:
        path, facts = new
        step = steps[name] = plan.locate(facts.plan, facts.position)
        return [Event(commit, name, plan.CREATE, None, facts.position, path, facts.transition, step=step)]
    if new is None and old is not None:
        path, facts = old
        steps.pop(name, None)
        return [Event(commit, name, plan.DELETE, facts.position, None, path, None)]
    if old is None or new is None:
        return []
    (_, was), (path, now) = old, new
    at = steps.get(name)
    found: list[Event] = []
    if was.fingerprint != now.fingerprint:
        found.append(
            Event(commit, name, amend.KIND, was.position, was.position, path, None, changes=amend.changes(was.rules, now.rules), step=at)
        )
    if was.position != now.position:
        kind, target, warnings = move_kind(was.plan, at, now.position, kill_switch=bool(was.rules.get("kill_switch")))
        step = relocate(now.plan, target, now.position)
        found.append(Event(commit, name, kind, was.position, now.position, path, now.transition, warnings, step=step))
    else:
        step = relocate(now.plan, at, now.position)
    steps[name] = step
    if found and found[0].kind == amend.KIND:
        found[0].step = step
    return found


def relocate(steps: tuple[Position, ...], at: int | None, here: Position) -> int | None:
    """The step ``here`` is at in ``steps`` (a plan amended around it): the candidate nearest ``at``.

    The nearest, and the later one on a tie, so that a flag at the backfill's
    last ``off`` (plan complete) stays at the last ``off`` when a step is
    added before it, never back at the first.
    """
    candidates = [i for i, step in enumerate(steps) if step == here]
    if not candidates:
        return None
    if at is None:
        return candidates[0]
    return min(candidates, key=lambda i: (abs(i - at), -i))


def move_kind(
    steps: tuple[Position, ...], at: int | None, target: Position, *, kill_switch: bool = False
) -> tuple[str, int | None, list[str]]:
    """The kind of a move and the step it lands on; an illegal one is still named, with a warning."""
    legal = plan.classify(steps, at, target, kill_switch=kill_switch)
    if legal is not None:
        return legal[0], legal[1], []
    to = plan.locate(steps, target)
    warning = f"not a legal step of the plan: from {steps[at] if at is not None else '?'} to {target}"
    if at is None or to is None:
        return (plan.DISABLE if target == steps[0] else plan.PROMOTE), to, [warning]
    if to > at:
        return plan.PROMOTE, to, [warning]
    return (plan.DISABLE if to == 0 else plan.DEMOTE), to, [warning]


def standings(found: list[Event | Problem], known: dict[str, Standing] | None = None) -> dict[str, Standing]:
    """Where every flag stands after the last of ``found``, from the events alone.

    ``known``: where they stood before the first of ``found`` (updated in place).
    """
    known = {} if known is None else known
    for event in found:
        if isinstance(event, Problem) or event.flag is None:
            continue
        name = event.flag
        entered = (datetime.fromtimestamp(event.commit.effective, UTC), event.commit.sha)
        if event.kind == plan.DELETE:
            known.pop(name, None)
        elif event.kind == plan.CREATE:
            known[name] = Standing(event.step, *entered)
        elif event.kind == amend.KIND:
            standing = known.setdefault(name, Standing(None, None, None))
            standing.step = event.step
        else:
            standing = known.setdefault(name, Standing(None, None, None))
            standing.step = event.step
            standing.entered_at, standing.entered_commit = entered
            if event.kind == plan.PROMOTE:
                for run_id in event.evidence:
                    standing.cited.setdefault(run_id, event.commit.sha)
    return known


def standings_at(root: Path, sha: str, names: frozenset[str] | None = None) -> dict[str, Standing]:
    """``standings(events_of(root, sha))``, going on from the nearest walk kept for an ancestor (see ``Follower``).

    ``names``: the flags whose standings are asked; the others may be missing
    from the answer (a walk from the start then parses only blobs that could
    be theirs).
    """
    from validator import histcache

    cache = histcache.open_cache(root)
    kept = cache.exact(sha, names) if cache is not None else None
    if kept is not None:  # kept for this very commit: the history is not even listed
        return kept.standings
    return Follower(root, history.effective_times(root, sha), names, cache=cache).standings(sha)


def standings_after_rebase(
    root: Path, base: str, commits: list[history.Commit], names: frozenset[str]
) -> tuple[dict[str, Standing], dict[str, Standing], frozenset[str]] | None:
    """Where the flags stand at ``base``, and where they would stand once ``commits`` (the change's
    own, ``history.own_commits``) are rebased onto it: the history up to the base walked once, then
    the files each commit leaves once its change is applied where the one before left them
    (``history.rebased``).  None where a change does not apply: a rebase stops there, so no rebase
    merge can write these commits and there is nothing to compare (reading the commits' own files
    instead refused a branch updated with a resolved conflict).  ``names``: the flags asked about (a
    walk then parses only the blobs that could be theirs), to which every flag a file of the commits
    names is added (a second file naming a flag, added and removed again, moves that flag); the
    names used are the third of the answer.

    Only the steps are asked of these standings: the commits' own times stand for their effective ones."""
    # A rebase applies diffs, not files: a merge that undid a promotion, or the base's own move of
    # the flag, shows only so.
    rebased = history.rebased(root, base, commits, PATHS)
    if rebased is None:
        return None
    reader = Reader()  # the blobs read for their names are parsed once, for the walk too
    names = names | _names_in(root, rebased, reader)
    walk = Walk(names)
    walk.reader = reader
    known = standings(walk.run(root, base, None, {}))
    return _copy(known), standings(walk.replay(root, rebased, {}), known), names


def _names_in(root: Path, commits: list[history.Commit], reader: Reader) -> frozenset[str]:
    """The flags the flag files written by ``commits`` name (readable ones)."""
    written = {c.new_blob: c.path for commit in commits for c in commit.changes if c.new_blob and _is_flag_path(c.path)}
    found = set()
    for (blob, path), raw in zip(written.items(), history.Blobs(root).read(list(written))):
        if raw is not None:
            try:
                found.add(reader.facts(path, raw, blob).name)
            except Unreadable:
                continue
    return frozenset(found)


class Follower:
    """Where the flags stand at commits of one first-parent history, oldest asked first, walked once.

    The first commit asked goes on from the nearest walk kept for a
    first-parent ancestor (``validator.histcache``, keyed by the exact commit
    id; the blobs it names are read again from git); each later one goes on
    from the one before.  Without a usable kept walk (none yet, deleted,
    corrupt, of another version, not on this history, ``FLAGGATE_NO_CACHE``)
    the history is walked from its start, with the same result.
    """

    def __init__(
        self, root: Path, effective: dict[str, int], names: frozenset[str] | None = None, *, cache: histcache.Cache | None | bool = True
    ) -> None:
        from validator import histcache

        self.root = root
        self.names = names  # only these flags are asked about (None: all); with no kept walk, only they are walked
        self.effective = effective  # the first-parent history, oldest first, with effective times
        # ``cache``: the one already opened (None: none), or True to open it here
        self.cache = histcache.open_cache(root) if cache is True else cache if isinstance(cache, histcache.Cache) else None
        self.walk: Walk | None = None
        self.since: str | None = None
        self.known: dict[str, Standing] = {}
        self._state: dict[str, Any] | None = None  # a kept walk not restored yet (its standings were enough)

    def standings(self, sha: str) -> dict[str, Standing]:
        if self.walk is None:
            self.walk = Walk()
            kept = self.cache.nearest(_upto(self.effective, sha), self.names) if self.cache is not None else None
            if kept is not None and kept.sha == sha:
                self.since, self.known, self._state = sha, kept.standings, kept.state
                return _copy(self.known)
            if kept is not None and self.walk.restore(self.root, kept.state):
                self.since, self.known = kept.sha, kept.standings
            else:
                self.walk = Walk(self.names)
        elif self._state is not None:
            if not self.walk.restore(self.root, self._state):
                self.walk, self.since, self.known = Walk(), None, {}
            self._state = None
        if self.since != sha:
            standings(self.walk.run(self.root, sha, self.since, self.effective), self.known)
            self.since = sha
            if self.cache is not None:
                self.cache.save(sha, self.walk.state(), self.known, self.walk.names)
        return _copy(self.known)


def _upto(order: dict[str, int], sha: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for commit, value in order.items():
        out[commit] = value
        if commit == sha:
            break
    return out


def _copy(known: dict[str, Standing]) -> dict[str, Standing]:
    return {name: Standing(s.step, s.entered_at, s.entered_commit, dict(s.cited)) for name, s in known.items()}
