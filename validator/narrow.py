"""Where a flag a change promotes stands at the base, from the newest versions of its file alone.

``check --base`` reads, of a promoted flag's standing, its step, when it
entered it and whether the runs the change cites were cited before
(``gate._reads_history``).  The whole walk (``timeline.Walk``) parses every
version of every file that could name the flag, back to its creation: years
of promotions.  Most of them cannot change the answer, and git can tell which
without parsing them:

* the list of commits and blob ids is the whole walk's own (the same
  ``git log`` of ``flags/`` as ``history.first_parent_log``, read by
  ``history.flag_changes``);
* a blob that could name the flag is one holding its name's bytes or a
  backslash (``timeline._may_name``): every such blob at any other path is
  parsed by the strict reader, and if one names the flag (a second file, a
  rename), the whole walk is asked instead;
* a version of the flag's file that cites a run the change cites holds that
  id's bytes or a backslash (a run id here has no space or quote, so YAML
  can spell it no other way): every version of the file is searched for them
  at C speed (``history.BlobSearch``, read while git lists), the hits are parsed, and if one of them
  names the flag and cites such a run, the whole walk is asked instead;
* when it entered its step is the newest version whose position differs
  from the one before (or the file's creation): the versions are parsed
  newest first down to that one, and the events from there on are replayed
  by the whole walk's own functions (``timeline._flag_events``,
  ``timeline.standings``).  A deletion, a version naming another flag, or a
  step the version before does not name once, on the way: the whole walk.

So the answer is the whole walk's whenever one is given (``tests/test_narrow.py``
holds the two to the same verdicts on real histories); ``None`` otherwise.
The standing's ``cited`` holds only runs the change cites (none: the walk is
asked whenever one of them was).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from validator import history
from validator.repo import FLAG_SUFFIX, FLAGS_DIR
from validator.timeline import Event, Facts, Reader, Standing, Unreadable, _flag_events, _may_name, standings

_REGULAR = ("100644", "100755")


@dataclass(frozen=True)
class Ask:
    """One flag to settle: the path of its only file at the base, and the run ids the change cites for it."""

    path: str
    cites: tuple[str, ...]


def _plain(run_id: str) -> bool:
    """A run id YAML can spell only with its own bytes or a backslash escape (no folding, no quote doubling)."""
    return run_id != "" and all(ch.isprintable() and not ch.isspace() and ch != "'" for ch in run_id)


def question(asked: dict[str, Ask]) -> frozenset[str]:
    """What ``standings_of``'s answer at a commit depends on besides the commit: each flag, its file and the runs cited."""
    return frozenset("\0".join([name, ask.path, *ask.cites]) for name, ask in asked.items())


def standings_of(root: Path, sha: str, asked: dict[str, Ask], effective: dict[str, int] | None = None) -> dict[str, Standing]:
    """The standings of the ``asked`` flags this can settle exactly; the others are left out (ask the whole walk)."""
    asked = {name: ask for name, ask in asked.items() if all(_plain(q) for q in ask.cites)}
    if not asked:
        return {}
    paths = {ask.path: name for name, ask in asked.items()}
    names = frozenset(asked)
    # git lists the effective times, and reads each blob as the listing names it, while this process reads the listing.
    times = history.Background(lambda: history.effective_times(root, sha)) if effective is None else None
    # The runs the change cites, searched in every version of the flag's file; another path's blob that may
    # name an asked flag is parsed, and if it names one, that flag is the walk's.
    own = {path: history.BlobSearch(root, [b"\\", *(q.encode() for q in asked[name].cites)]) for path, name in paths.items()}
    other = history.BlobSearch(root, [b"\\", *(n.encode() for n in names)])
    others: dict[str, str] = {}  # blob -> a path it is at

    prefix = f"{FLAGS_DIR}/"

    def seen(changes: list[tuple[str, str, str | None]]) -> None:
        mine: dict[str, list[str]] = {}
        theirs: list[str] = []
        for changed, mode, blob in changes:
            # ``_is_flag_path``, inline: a piece of a long listing is thousands of changes
            if blob is None or mode not in _REGULAR or not changed.startswith(prefix) or "/" in changed[len(prefix) :]:
                continue
            if not changed.endswith(FLAG_SUFFIX):
                continue
            if changed in own:
                mine.setdefault(changed, []).append(blob)
            elif blob not in others:
                others[blob] = changed
                theirs.append(blob)
        for changed, blobs in mine.items():
            own[changed].add(blobs)
        other.add(theirs)

    try:
        commits: list[tuple[str, list[tuple[str, str, str | None]]]] | None = history.flag_changes(root, sha, f"{FLAGS_DIR}/", seen)
    except history.HistoryError:
        commits = None  # the whole walk says what is wrong
    found_own = {path: search.finish() for path, search in own.items()}
    hits = other.finish()
    effective = times.result() if times is not None else effective
    if commits is None or hits is None or effective is None:
        return {}
    versions: dict[str, list[tuple[str, str | None]]] = {path: [] for path in paths}
    for commit, changes in commits:
        for changed, mode, blob in changes:
            if changed in versions:
                versions[changed].append((commit, blob if blob is not None and mode in _REGULAR else None))
    reader = Reader()
    settled = set(names)
    for blob, raw in hits.items():
        if not _may_name(raw, names):
            continue
        try:
            facts = reader.facts(others[blob], raw, blob)
        except Unreadable:
            continue
        settled.discard(facts.name)
    found: dict[str, Standing] = {}
    for path, name in paths.items():
        if name in settled:
            standing = _standing(name, path, asked[name].cites, versions[path], found_own[path], reader, root, effective)
            if standing is not None:
                found[name] = standing
    return found


def _standing(
    name: str,
    path: str,
    cites: tuple[str, ...],
    versions: list[tuple[str, str | None]],
    hits: dict[str, bytes] | None,
    reader: Reader,
    root: Path,
    times: dict[str, int],
) -> Standing | None:
    if not versions or versions[-1][1] is None or any(blob is None for _, blob in versions):
        return None  # deleted (or not a regular file) on the way: creations and deletions are the walk's
    if hits is None:
        return None
    for blob, raw in hits.items():
        try:
            facts = reader.facts(path, raw, blob)
        except Unreadable:
            continue  # an unreadable version makes no event
        if facts.name == name and any(q in _evidence(facts) for q in cites):
            return None  # cited before (or spelled so): the walk says by which promotion
    # Newest first, down to the version before the newest move (or the creation), read a few at a time.
    window: list[tuple[str, Facts]] = []
    before: Facts | None = None
    newest_first = list(reversed(versions))
    start, batch, done = 0, 4, False
    while start < len(newest_first) and not done:
        part = newest_first[start : start + batch]
        start, batch = start + batch, batch * 2
        wanted = [blob for _, blob in part if blob is not None and not reader.has(blob)]
        bodies = dict(zip(wanted, history.Blobs(root).read(wanted)))
        for commit_id, version in part:
            if version is None:
                return None
            body = bodies.get(version, b"")
            if body is None:
                return None  # git lacks it: the walk says so
            try:
                facts = reader.facts(path, body, version)
            except Unreadable:
                continue
            if facts.name != name:
                return None
            if window and window[-1][1].position != facts.position:
                before, done = facts, True
                break
            window.append((commit_id, facts))
    if not window:
        return None
    window.reverse()
    steps: dict[str, int | None] = {}
    known: dict[str, Standing] = {}
    if before is not None:
        # The walk's step before the move is an index of the held position in the held plan (every event
        # relocates onto one); where that position is on the plan once, it is that index.
        if before.plan.count(before.position) != 1:
            return None
        steps[name] = before.plan.index(before.position)
        known[name] = Standing(steps[name], None, None)
    events: list[Event] = []
    held: tuple[str, Facts] | None = (path, before) if before is not None else None
    for commit_id, facts in window:
        if commit_id not in times:
            return None
        commit = history.Commit(commit_id, [], "", "", times[commit_id], [], effective=times[commit_id])
        events.extend(_flag_events(commit, name, held, (path, facts), steps))
        held = (path, facts)
    result = standings(list(events), known).get(name)
    if result is None or result.entered_commit is None:
        return None
    return Standing(result.step, result.entered_at, result.entered_commit, {q: c for q, c in result.cited.items() if q in cites})


def _evidence(facts: Facts) -> list[str]:
    ids = (facts.transition or {}).get("evidence") or []
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []
