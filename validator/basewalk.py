"""The history of some flags, from git alone, with git's two readers working at once.

``check --base`` asks the history about the flags whose rules read it (see
``gate._reads_history``).  With nothing kept in the git directory, their
standings need the whole first-parent history: the commits and what each
changed under ``flags/``, and every new flag blob, searched for their names
(``timeline._may_name``) and parsed by the one strict reader where it could
name one of them.

``timeline.Walk.run`` lists the history first (``git rev-list`` for the
times, then ``git log``), and only then starts ``git cat-file`` on the blobs
the listing named.  Here one ``git log --sparse`` gives both the times (every
first-parent commit is listed, with the changes limited to the flag paths) and
the changes, read by a thread that hands each new blob id to ``git cat-file``
as soon as its commit is read, while this thread walks the commits already
listed: git lists, git reads blobs and Python parses, all at once.  The walk
itself (``Walk._commit``) is the same code, so the standings are the same.
"""

from __future__ import annotations

import queue
import secrets
import subprocess
import threading
from collections import deque
from pathlib import Path
from typing import IO

from validator import history, timeline
from validator.histcache import Cache

_DONE = object()


class _Blobs:
    """``git cat-file --batch --buffer``, fed by the listing thread, read in the order fed by the walk (``timeline._Lazy``'s interface)."""

    def __init__(self, root: Path) -> None:
        try:
            self.proc = subprocess.Popen(
                ["git", "cat-file", "--batch", "--buffer"],
                cwd=root,
                env=history._env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except FileNotFoundError:
            raise history.HistoryError("git is not installed or not on PATH") from None
        if not (self.proc.stdin is not None and self.proc.stdout is not None and self.proc.stderr is not None):
            raise history.HistoryError("git cat-file started without its pipes")
        self._in: IO[bytes] = self.proc.stdin
        self._out: IO[bytes] = self.proc.stdout
        self._sent: deque[str] = deque()  # ids fed and not read yet, in order (appended by the listing thread)
        self._got: dict[str, bytes | None] = {}
        self.keep: set[str] = set()

    def send(self, blob: str) -> None:
        """Feed one id (the listing thread); the walk asks for it only after its commit is handed over."""
        self._sent.append(blob)
        self._in.write(f"{blob}\n".encode())

    def flush(self) -> None:
        self._in.flush()

    def close_input(self) -> None:
        try:
            self._in.close()
        except (OSError, ValueError):  # git is gone (stopped, or failed): nothing more to send
            pass

    def _next(self) -> bytes | None:
        header = self._out.readline()
        parts = header.split()
        if not header:
            raise history.HistoryError("git cat-file failed: output ended early")
        if len(parts) != 3:  # "<id> missing"
            return None
        size = int(parts[2])
        body = self._out.read(size + 1)[:size]
        return body if parts[1] == b"blob" else None

    def get(self, key: str) -> bytes | None:
        if key in self._got:
            return self._got[key]
        while self._sent:
            pending = self._sent.popleft()
            self._got[pending] = self._next()
            if pending == key:
                return self._got[pending]
        return None

    def forget(self, key: str) -> None:
        if key not in self.keep:
            self._got.pop(key, None)

    def finish(self) -> None:
        """Read what is left and wait for git; a failed git is a ``HistoryError``."""
        while self._sent:
            self._sent.popleft()
            self._next()
        self._out.close()
        stderr = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr is not None else ""
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        if self.proc.wait() != 0:
            raise history.HistoryError(f"git cat-file failed: {stderr.strip() or 'exit status'}")

    def stop(self) -> None:
        """On an error: end git without reading further.

        git first: the listing thread may be blocked writing to it, holding its
        input's lock until the write fails.
        """
        self.proc.kill()
        self.proc.wait()
        self.close_input()
        for stream in (self._out, self.proc.stderr):
            if stream is not None:
                stream.close()


def _list(root: Path, sha: str, blobs: _Blobs, commits: queue.SimpleQueue[object]) -> None:
    """The listing thread: every first-parent commit of ``sha``, oldest first, with its effective time and flag changes.

    Each new regular flag blob is fed to ``blobs`` before its commit is
    handed over, so the walk never asks for an id git was not given.
    """
    nonce = secrets.token_hex(8)
    rs, fs = f"\x1e{nonce}\x1e", f"\x1f{nonce}\x1f"
    seen: set[str] = set()
    latest: int | None = None
    try:
        for record in history._records(
            root,
            rs,
            "log",
            "--first-parent",
            "--sparse",  # every first-parent commit (the times), its changes limited to the paths
            "--diff-merges=first-parent",
            "--raw",
            "--no-abbrev",
            "-z",
            "--no-renames",
            "--reverse",
            f"--format={rs}%H{fs}%P{fs}%ct{fs}",
            sha,
            "--",
            *timeline._PATHS,
        ):
            commit_sha, parents, ctime, raw = record.split(fs)
            time = min(int(ctime), history._LAST_SECOND)
            latest = time if latest is None or time > latest else latest
            commit = history.Commit(commit_sha, parents.split(), "", "", time, [])
            commit.effective = latest
            tokens = raw.lstrip("\0\n").split("\0")
            for i in range(0, len(tokens) - 1, 2):
                meta, path = tokens[i].lstrip("\n"), tokens[i + 1]
                if not meta.startswith(":") or not timeline._is_flag_path(path):
                    continue  # a rules file: a walk of some flags reads none
                old_mode, new_mode, old_blob, new_blob, _status = meta[1:].split(" ")
                new = None if new_blob == history._ZERO else new_blob
                commit.changes.append(history.Change(path, old_mode, new_mode, None if old_blob == history._ZERO else old_blob, new))
                if new is not None and new_mode in timeline._REGULAR and new not in seen:
                    seen.add(new)
                    blobs.send(new)
            if commit.changes:
                blobs.flush()  # the walk may ask for them next: never leave an id it waits for in this process's buffer
            commits.put(commit)
    except BaseException as exc:  # handed to the walk, which raises it
        commits.put(exc)
    finally:
        blobs.close_input()
        commits.put(_DONE)


def standings(root: Path, sha: str, names: frozenset[str], cache: Cache | None) -> dict[str, timeline.Standing]:
    """``timeline.standings(timeline.events_of(root, sha))`` for ``names`` (the others may be missing), walked from the root.

    Kept in ``cache`` (when given) as ``timeline.Follower`` keeps its walks,
    so a later call goes on from here.
    """
    walk = timeline.Walk(names)
    blobs = _Blobs(root)
    commits: queue.SimpleQueue[object] = queue.SimpleQueue()
    lister = threading.Thread(target=_list, args=(root, sha, blobs, commits), daemon=True)
    lister.start()
    known: dict[str, timeline.Standing] = {}
    found: list[timeline.Event | timeline.Problem] = []
    walk._root = root
    try:
        while (item := commits.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            if not isinstance(item, history.Commit):
                raise history.HistoryError("the history listing handed over something that is not a commit")
            walk._commit(item, blobs, found)  # type: ignore[arg-type]  # the same interface as timeline._Lazy
            if found:
                timeline.standings(found, known)
                found.clear()
        lister.join()
        blobs.finish()
    except BaseException:
        blobs.stop()
        lister.join()
        raise
    if cache is not None:
        cache.save(sha, walk.state(), known, names)
    return known
