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
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from validator import history
from validator.timeline import Standing

VERSION = 3  # 3: a second file naming a flag is no creation; unreadable readings kept without their path
DISABLE_ENV = "FLAGGATE_NO_CACHE"
STANDINGS, AUDIT = "standings", "audit"
KEEP = {STANDINGS: 16, AUDIT: 2}  # entries kept of each kind (an audit log is large); the oldest are removed first
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

    def save(self, sha: str, state: dict[str, Any], standings: dict[str, Standing], flags: frozenset[str] | None = None) -> None:
        body = {"standings": {name: _standing_json(s) for name, s in sorted(standings.items())}}
        self._save(STANDINGS, sha, state, body, flags)

    def save_log(self, sha: str, state: dict[str, Any], items: list[str]) -> None:
        self._save(AUDIT, sha, state, {"items": items})

    def _save(self, kind: str, sha: str, state: dict[str, Any], body: dict[str, Any], flags: frozenset[str] | None = None) -> None:
        data = {"version": VERSION, "commit": sha, "state": state, **body}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
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
