"""Kept walks of the state history, so ``check --base`` does not re-read years of commits.

Where every flag stands after commit C is a function of C alone (its
first-parent history and the blobs on it).  After walking the history up to
C, ``timeline.standings_at`` keeps here what the walk found and what it needs
to go on (blob ids and step indexes): the next call for C, or for a commit
whose first-parent history passes through C, walks only the commits after C.

What is kept is derived from git only and is never a yardstick of its own:

* it lives in the git directory (``flaggate/`` under ``git rev-parse
  --git-path``), which no pull request can change, and is safe to delete;
* an entry is used only for the exact commit id it is named by, and only when
  that commit is on the first-parent history being judged (asked of git, not
  of the entry);
* the blobs it names are read again from git and parsed by the same reader;
* an entry of another version, corrupt, or naming a blob git does not have
  is ignored, and the history is walked from the start;
* ``FLAGGATE_NO_CACHE=1`` turns it off (the tests run both ways), and so does
  GitHub Actions (``GITHUB_ACTIONS=true``): a job starts from a fresh
  checkout, so anything kept there was restored from a cache some other job
  may have written.

The newest-runs rule's readings of runs are kept here too (``KeptRuns``):
what the strict reader found in a run file (its seq, step and status), by
the file's blob id, which names its bytes.  The rule asks git which of the
files judged have exactly those bytes; every other file is read and parsed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from validator import history
from validator.rules.evidence import ABSENT, NULL, OTHER, Directory, Seen
from validator.timeline import Standing

VERSION = 4  # 4: read with grafts off and git settings pinned (a walk kept under a graft or log.showRoot=false is dropped)
DISABLE_ENV = "FLAGGATE_NO_CACHE"
STANDINGS, AUDIT, RUNS, DIRECTORY, ANSWERS = "standings", "audit", "runs", "directory", "answers"
# Entries kept of each kind, the oldest removed first: an audit log is large, and so are a flag's runs
# (about 2 MB at 25,000 runs, one entry a flag) and its directory (1 MB; a new one whenever runs are added).
KEEP = {STANDINGS: 16, AUDIT: 2, RUNS: 16, DIRECTORY: 8, ANSWERS: 64}
_SUFFIX = ".json"


@dataclass
class Kept:
    sha: str
    state: dict[str, Any]
    standings: dict[str, Standing]


@dataclass
class KeptLog:
    sha: str
    state: dict[str, Any]
    items: list[str]  # each audit entry as rendered in the published file


def disabled() -> bool:
    # In GitHub Actions every job starts from a fresh checkout, so a kept walk there could only come
    # from a restored cache, and a pull request's job can write caches: verdicts in CI rest on git alone.
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return True
    return os.environ.get(DISABLE_ENV, "") not in ("", "0")


def open_cache(root: Path) -> Cache | None:
    """The cache of the repository at ``root``, or None when turned off."""
    if disabled():
        return None
    out = history.git_path(root)
    if not out:
        return None
    path = Path(out)
    return Cache(path if path.is_absolute() else root / path)


class Cache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _file(self, kind: str, sha: str, flags: frozenset[str] | None = None) -> Path:
        return self.directory / f"{kind}-{sha}{_tag(flags)}{_SUFFIX}"

    def _nearest(self, kind: str, first_parent: dict[str, int], flags: frozenset[str] | None = None) -> tuple[str, dict[str, Any]] | None:
        """The kept data of the latest commit of ``first_parent`` (oldest first) with an entry of ``kind``.

        An entry is of the whole walk, or (``flags``) of a walk of exactly those flags.
        """
        try:
            listing = set(os.listdir(self.directory))
        except OSError:
            return None
        if not any(n.startswith(f"{kind}-") for n in listing):
            return None
        wanted: list[frozenset[str] | None] = [None] if flags is None else [None, flags]
        for sha in reversed(list(first_parent)):
            for some in wanted:
                path = self._file(kind, sha, some)
                if path.name not in listing:
                    continue
                try:
                    data = json.loads(path.read_bytes())
                except (OSError, ValueError):
                    continue
                if not (isinstance(data, dict) and data.get("version") == VERSION and data.get("commit") == sha):
                    continue
                state = data.get("state")
                if isinstance(state, dict) and state.get("names") == (sorted(some) if some is not None else None):
                    return sha, data
        return None

    def keeps_standings(self) -> bool:
        """Is any walk kept at all (one directory listing)?"""
        try:
            return any(name.startswith(f"{STANDINGS}-") for name in os.listdir(self.directory))
        except OSError:
            return False

    def exact(self, sha: str, flags: frozenset[str] | None = None) -> Kept | None:
        """The standings kept for ``sha`` itself (of every flag, or of ``flags``)."""
        return self.nearest({sha: 0}, flags)

    def nearest(self, first_parent: dict[str, int], flags: frozenset[str] | None = None) -> Kept | None:
        """The kept standings of the latest commit of ``first_parent`` that has them (of every flag, or of ``flags``)."""
        found = self._nearest(STANDINGS, first_parent, flags)
        if found is None:
            return None
        sha, data = found
        try:
            raw = data["standings"]
            if not isinstance(raw, dict):
                return None
            return Kept(sha, data["state"], {str(name): _standing(value) for name, value in raw.items()})
        except (KeyError, TypeError, ValueError, OverflowError):
            return None

    def nearest_log(self, first_parent: dict[str, int]) -> KeptLog | None:
        """The kept audit log of the latest commit of ``first_parent`` that has one."""
        found = self._nearest(AUDIT, first_parent)
        if found is None:
            return None
        sha, data = found
        items = data.get("items")
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            return None
        return KeptLog(sha, data["state"], items)

    def answer(self, sha: str, question: frozenset[str]) -> dict[str, Standing] | None:
        """The standings ``validator.narrow`` found at ``sha`` for exactly ``question`` (``narrow.question``)."""
        path = self._file(ANSWERS, sha, question)
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        if not (isinstance(data, dict) and data.get("version") == VERSION and data.get("commit") == sha):
            return None
        if data.get("question") != sorted(question):
            return None
        try:
            raw = data["standings"]
            if not isinstance(raw, dict):
                return None
            return {str(name): _standing(value) for name, value in raw.items()}
        except (KeyError, TypeError, ValueError, OverflowError):
            return None

    def save_answer(self, sha: str, question: frozenset[str], standings: dict[str, Standing]) -> None:
        body = {"question": sorted(question), "standings": {name: _standing_json(s) for name, s in sorted(standings.items())}}
        self._save(ANSWERS, sha, {}, body, question)

    def save(self, sha: str, state: dict[str, Any], standings: dict[str, Standing], flags: frozenset[str] | None = None) -> None:
        body = {"standings": {name: _standing_json(s) for name, s in sorted(standings.items())}}
        self._save(STANDINGS, sha, state, body, flags)

    def save_log(self, sha: str, state: dict[str, Any], items: list[str]) -> None:
        self._save(AUDIT, sha, state, {"items": items})

    def _save(self, kind: str, sha: str, state: dict[str, Any], body: dict[str, Any], flags: frozenset[str] | None = None) -> None:
        data = {"version": VERSION, "commit": sha, "state": state, **body}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            import tempfile  # only to keep something: a check that reads what is kept pays none of it

            fd, tmp = tempfile.mkstemp(prefix=f".{kind}.", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(data, handle, separators=(",", ":"))
                os.replace(tmp, self._file(kind, sha, flags))
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            self._prune(kind)
        except OSError:
            pass  # a read-only git directory: nothing kept, same answers

    def _prune(self, kind: str) -> None:
        prefix = f"{kind}-"
        entries = [p for p in self.directory.iterdir() if p.name.startswith(prefix) and p.name.endswith(_SUFFIX)]
        if len(entries) <= KEEP[kind]:
            return
        entries.sort(key=lambda p: p.stat().st_mtime)
        for old in entries[: len(entries) - KEEP[kind]]:
            old.unlink(missing_ok=True)


def _tag(flags: frozenset[str] | None) -> str:
    """The file name's mark of a walk of some flags only (a digest of their names)."""
    if flags is None:
        return ""
    return "-" + hashlib.sha256("\n".join(sorted(flags)).encode("utf-8")).hexdigest()[:16]


def _standing_json(s: Standing) -> dict[str, Any]:
    return {
        "step": s.step,
        "entered_at": int(s.entered_at.timestamp()) if s.entered_at is not None else None,
        "entered_commit": s.entered_commit,
        "cited": dict(s.cited),
    }


def _standing(value: Any) -> Standing:
    step, at, commit, cited = value["step"], value["entered_at"], value["entered_commit"], value["cited"]
    if not (step is None or (isinstance(step, int) and not isinstance(step, bool))):
        raise TypeError("step")
    if not (at is None or (isinstance(at, int) and not isinstance(at, bool))):
        raise TypeError("entered_at")
    if not (commit is None or isinstance(commit, str)) or not isinstance(cited, dict):
        raise TypeError("entered_commit")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in cited.items()):
        raise TypeError("cited")
    return Standing(step, datetime.fromtimestamp(at, UTC) if at is not None else None, commit, dict(cited))


class KeptRuns:
    """The newest-runs rule's readings of one flag's runs (``evidence.Seen``), by blob id.

    ``blob_ids`` is the judged tree's own: the blob ids of the files whose
    bytes git holds as they are (a revision's listing, or the index where the
    working tree's file is unchanged).  Only the readings of the runs asked
    about last are kept, so the entry stays the size of the flag's directory.
    """

    def __init__(
        self,
        cache: Cache,
        flag: str,
        blob_ids: Callable[[list[str]], dict[str, str]],
        digest: Callable[[str], str | None] | None = None,
    ) -> None:
        self._cache = cache
        self._flag = flag
        self._blob_ids = blob_ids
        self._digest = digest  # of what git holds below a directory, as ``blob_ids`` reads it
        self._asked: set[str] = set()
        self._learned = False
        self._raw: dict[str, Any] | None = None  # as read from the kept file: each checked when asked for
        self._known: dict[str, Seen | None] = {}

    def blobs(self, paths: list[str]) -> dict[str, str]:
        found = self._blob_ids(paths)
        self._asked.update(found.values())
        return found

    def has(self, blob: str) -> bool:
        if blob in self._known:
            return True
        if self._raw is None:
            self._raw = self._load()
        if blob not in self._raw:
            return False
        try:
            self._known[blob] = _seen(self._raw[blob])
        except (TypeError, ValueError):
            return False  # not a reading this writes: the run is read
        return True

    def get(self, blob: str) -> Seen | None:
        """The reading of ``blob`` (``has`` it first)."""
        return self._known[blob]

    def learn(self, blob: str, seen: Seen | None) -> None:
        self._known[blob] = seen
        self._learned = True

    def _file(self) -> Path:
        return self._cache._file(RUNS, "", frozenset([self._flag]))

    def _state(self) -> str | None:
        return self._digest(f"evidence/{self._flag}") if self._digest is not None else None

    def directory(self) -> tuple[Directory, Callable[[list[Any]], Seen | None]] | None:
        """The readings kept for the flag's directory as git holds it now (the same digest), else None."""
        state = self._state()
        if state is None:
            return None
        try:
            data = json.loads(self._cache._file(DIRECTORY, state, frozenset([self._flag])).read_bytes())
        except (OSError, ValueError):
            return None
        if not (
            isinstance(data, dict) and data.get("version") == VERSION and data.get("commit") == state and data.get("flag") == self._flag
        ):
            return None
        try:
            ids, seqs = data["ids"], data["seqs"]
            listed = Directory(ids, seqs, data["states"], data["percentages"], data["statuses"], data["unreadable"])
        except KeyError:
            return None
        columns = (listed.ids, listed.seqs, listed.states, listed.percentages, listed.statuses, listed.unreadable)
        if not all(type(column) is list for column in columns):
            return None
        if not (len(ids) == len(seqs) == len(listed.states) == len(listed.percentages) == len(listed.statuses)):
            return None
        if not all(type(i) is str for i in [*ids, *listed.unreadable]) or len(set(ids) | set(listed.unreadable)) != len(ids) + len(
            listed.unreadable
        ):
            return None
        if not all(type(seq) is int for seq in seqs) or seqs != sorted(seqs):
            return None  # the rows are found by seq: only an ascending column of whole numbers is used
        return listed, _seen

    def keep_directory(self, readings: dict[str, Seen | None]) -> None:
        state = self._state()
        if state is None:
            return
        rows = sorted((seen.seq, run_id, seen) for run_id, seen in readings.items() if seen is not None)
        body = {
            "flag": self._flag,
            "ids": [run_id for _, run_id, _ in rows],
            "seqs": [seq for seq, _, _ in rows],
            "states": [seen.state for _, _, seen in rows],
            "percentages": [seen.percentage for _, _, seen in rows],
            "statuses": [seen.status for _, _, seen in rows],
            "unreadable": sorted(run_id for run_id, seen in readings.items() if seen is None),
        }
        self._cache._save(DIRECTORY, state, {"flag": self._flag}, body, frozenset([self._flag]))

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self._file().read_bytes())
        except (OSError, ValueError):
            return {}  # none kept: every run is read
        if not (isinstance(data, dict) and data.get("version") == VERSION and data.get("flag") == self._flag):
            return {}
        runs = data.get("runs")
        return runs if isinstance(runs, dict) else {}

    def save(self) -> None:
        """Keep the readings of the runs asked about (when anything new was read)."""
        if not self._learned:
            return
        runs = {blob: _seen_json(self._known[blob]) for blob in sorted(self._asked) if self.has(blob)}
        self._cache._save(RUNS, "", {"flag": self._flag}, {"flag": self._flag, "runs": runs}, frozenset([self._flag]))
        self._learned = False


def _seen_json(seen: Seen | None) -> list[Any] | None:
    return None if seen is None else list(seen)


def _seen(value: Any) -> Seen | None:
    if value is None:
        return None
    if type(value) is not list or len(value) != 4:
        raise TypeError("seen")
    seq, state, percentage, status = value
    if type(seq) is not int or not (state is None or type(state) is str) or not (status is None or type(status) is str):
        raise TypeError("seen")
    if not (type(percentage) is int or percentage in _MARKS):
        raise TypeError("percentage")
    return Seen(seq, state, percentage, status)


_MARKS = frozenset((ABSENT, NULL, OTHER))


def index_blobs(root: Path, directory: str) -> IndexReading | None:
    """What git's index holds for the files below ``directory`` (relative to ``root``), and which differ from it.

    git says which files differ from their index entry (by their stat data,
    and by content where that cannot tell); those, files git is told to
    assume unchanged or to skip, conflicted ones and files git does not track
    are left out (they are read from disk).  Where git cannot answer: None.
    """
    # git's own stat checks, whatever this clone's settings say (a file rewritten at the same size and
    # time still changes its ctime), and no file system monitor's word for it.
    settings = ["--literal-pathspecs", "-c", "core.fsmonitor=false", "-c", "core.trustctime=true", "-c", "core.checkstat=default"]
    try:
        staged, differ = history.git_at_once(
            root,
            [*settings, "ls-files", "--stage", "-v", "-z", "--", f"{directory}/"],
            [*settings, "diff-files", "--name-only", "--relative", "-z", "--", f"{directory}/"],
        )
    except history.HistoryError:
        return None
    return IndexReading(staged, differ)


class IndexReading:
    """git's answers for a directory (``index_blobs``), made into blob ids or a digest only when asked:
    where the directory is kept whole (``KeptRuns.directory``), its thousands of entries are not parsed."""

    def __init__(self, staged: str, differ: str) -> None:
        self._staged = staged
        self._differ = differ

    @functools.cached_property
    def blobs(self) -> dict[str, str]:
        """path -> blob id of the regular files git holds as they are on disk."""
        changed = set(self._differ.split("\0"))
        return {path: blob for blob, path in _CACHED_FILE.findall(self._staged) if path not in changed}

    @functools.cached_property
    def digest(self) -> str:
        """Names the index's entries (blob ids, modes, bits) and diff-files' list: all ``blobs`` is made from."""
        return hashlib.sha256(f"{self._staged}\0\0{self._differ}".encode("utf-8", "surrogateescape")).hexdigest()


# An entry of ``git ls-files --stage -v -z`` for a regular file at stage 0 with no assume-unchanged or
# skip-worktree bit ("H"), matched only where an entry starts (a path may hold such text).
_CACHED_FILE = re.compile(r"(?:^|(?<=\0))H 100(?:644|755) ([0-9a-f]+) 0\t([^\0]*)(?=\0)")
