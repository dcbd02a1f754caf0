"""Git: the only module that runs git.

Everything is streamed through a fixed number of processes: one ``git log``
for the whole first-parent history and one ``git cat-file --batch`` for all
the blobs it needs, never a process per commit.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from validator.errors import FatalError
from validator.repo import DIRECTORY, FILE, FLAGS_DIR, OTHER, POLICY_FILE, RESOURCES_FILE, SYMLINK, Entry

RULE = "history"
_T = TypeVar("_T")
_ZERO = "0" * 40
_LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z: a later committer date cannot be a datetime


class HistoryError(FatalError):
    """Git history cannot be read as needed (exit 2, rule ``history``)."""

    rule = RULE


# Settings a clone's or a user's git configuration could change what flaggate reads with: each is set
# as git's own default, above any configuration file (as ``git -c`` does), for every git command run.
# Found by attacks: a root commit's files left out of the history (log.showRoot), records re-encoded
# past the markers that cut them (i18n.logOutputEncoding: an empty history), patches that no longer
# apply so the hidden-steps replay was skipped (colour, prefixes, context, an external diff).
_PINNED = {
    "log.showRoot": "true",
    "log.showSignature": "false",
    "log.follow": "false",
    "i18n.logOutputEncoding": "UTF-8",
    "color.ui": "never",
    "color.diff": "never",
    "diff.noprefix": "false",
    "diff.mnemonicPrefix": "false",
    "diff.relative": "false",
    "diff.context": "3",
    "diff.interHunkContext": "0",
    "diff.suppressBlankEmpty": "false",
    "diff.orderFile": os.devnull,
    "core.quotePath": "false",
    "trailer.separators": ":",  # how %(trailers) finds Reviewed-by:/Approved-by: (the audit log's approved_by)
    "core.attributesFile": os.devnull,  # a user's attributes (merge=binary stopped the hidden-steps replay)
}


def _env() -> dict[str, str]:
    # Never let a user's pager, locale, replace refs, grafts, configuration or traces change what we parse
    # (GIT_TRACE*=/dev/stdout writes git's trace into the very output read; a trace to a file stays).
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_TRACE") or _to_a_file(value)}
    env.update(
        {
            "GIT_PAGER": "cat",
            "LC_ALL": "C",
            "GIT_NO_REPLACE_OBJECTS": "1",
            "GIT_GRAFT_FILE": os.devnull,
            "GIT_ATTR_NOSYSTEM": "1",  # nor the system's attributes file
            "GIT_TERMINAL_PROMPT": "0",
        }
    )
    # As ``git -c`` passes settings on: after any inherited ones (a hook or alias run by ``git -c x=y``
    # inherits them), which git reads after GIT_CONFIG_COUNT's and every file's, so these win.
    pins = " ".join(f"{_quoted(key)}={_quoted(value)}" for key, value in _PINNED.items())
    env["GIT_CONFIG_PARAMETERS"] = f"{env.get('GIT_CONFIG_PARAMETERS', '').strip()} {pins}".strip()
    return env


def _to_a_file(target: str) -> bool:
    """Is a GIT_TRACE* value a file of its own (not a descriptor, nor a device such as /dev/stdout)?"""
    if not os.path.isabs(target):
        return False  # "1", "2", "true", a descriptor number
    # /dev/stdout is git's own output once git opens it: the name is judged, and each link it leads through.
    for _ in range(40):
        if target.startswith(("/dev/", "/proc/")):
            return False
        if not os.path.islink(target):
            return True
        target = os.path.join(os.path.dirname(target), os.readlink(target))
    return False


def _quoted(text: str) -> str:
    """git's ``sq_quote``: the form GIT_CONFIG_PARAMETERS holds each key and value in."""
    return "'" + text.replace("'", "'\\''") + "'"


def git(root: Path, *args: str, check: bool = True) -> str:
    try:
        result = subprocess.run(
            ["git", "-c", "core.quotePath=false", *args],
            cwd=root,
            env=_env(),
            capture_output=True,
            text=True,
            errors="surrogateescape",
        )
    except FileNotFoundError:
        raise HistoryError("git is not installed or not on PATH") from None
    if check and result.returncode != 0:
        message = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
        raise HistoryError(f"git {args[0]} failed: {message}")
    return result.stdout


def git_at_once(root: Path, *commands: list[str]) -> list[str]:
    """``git`` of each of ``commands``, the processes running side by side (each waits mostly on the file system)."""
    try:
        started = [
            subprocess.Popen(
                ["git", "-c", "core.quotePath=false", *args], cwd=root, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for args in commands
        ]
    except FileNotFoundError:
        raise HistoryError("git is not installed or not on PATH") from None
    outputs = [process.communicate() for process in started]
    for args, process, (_, err) in zip(commands, started, outputs):
        if process.returncode != 0:
            text = err.decode("utf-8", "surrogateescape").strip()
            raise HistoryError(f"git {args[0]} failed: {text.splitlines()[-1] if text else f'exit {process.returncode}'}")
    return [out.decode("utf-8", "surrogateescape") for out, _ in outputs]


class Background(Generic[_T]):
    """One git question answered on another thread (git runs in its own process; the thread only waits for it)."""

    def __init__(self, ask: Callable[[], _T]) -> None:
        self._ask = ask
        self._value: _T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._ask()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller in result()
            self._error = exc

    def result(self) -> _T | None:
        """The answer; None where git could not give one (the caller asks again and says what is wrong)."""
        self._thread.join()
        if self._error is not None:
            if isinstance(self._error, HistoryError):
                return None
            raise self._error
        return self._value


def ensure_repository(root: Path) -> None:
    """``root`` is inside a git work tree that holds its whole history (not a shallow clone)."""
    _check_repository(root, git(root, "rev-parse", "--is-inside-work-tree", "--is-shallow-repository", check=False).split())


def _check_repository(root: Path, answers: list[str]) -> None:
    if not answers or answers[0] != "true":
        raise HistoryError(f"{root} is not inside a git repository")
    if answers[1:2] == ["true"]:
        raise HistoryError(
            "this is a shallow clone: the history needed is missing; fetch the full history "
            "(git fetch --unshallow, or actions/checkout with fetch-depth: 0)"
        )


# What ``git rev-parse --git-path flaggate`` answered for a root, learnt by ``resolve`` in the same
# process as the commit (it depends on the repository's layout, not on any commit).
_OBJECT_ID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_GIT_PATHS: dict[tuple[Path, str | None, str | None], str] = {}


def _layout(root: Path) -> tuple[Path, str | None, str | None]:
    return (root, os.environ.get("GIT_DIR"), os.environ.get("GIT_COMMON_DIR"))


def resolve(root: Path, ref: str, *, whole: bool = True) -> str:
    """The commit ``ref`` names.

    With ``whole`` (what judging needs), ``root`` must also be inside a git work tree that holds its
    whole history (``ensure_repository``): both are asked of one git process.
    """
    if ref.startswith("-"):
        raise HistoryError(f"{ref!r} is not a git revision")
    checks = ("--is-inside-work-tree", "--is-shallow-repository", "--show-cdup", "--git-path", "flaggate") if whole else ()
    out = git(root, "rev-parse", *checks, "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False).split("\n")
    if out[-1] == "":
        out.pop()
    # The commit is the last line when there is one: a git path always ends in "flaggate", never in
    # an object id, even when a directory above it has a line break in its name.
    sha = out.pop() if out and _OBJECT_ID.fullmatch(out[-1]) else ""
    if whole:
        _check_repository(root, out[:2])
        if len(out) < 4:
            raise HistoryError(f"{root} is not inside a git repository")
        if out[2]:
            # Git objects are named from the top level (<rev>:<path>), the working tree from the root:
            # below the top level, the two would be different files (another policy.yaml, say).
            raise HistoryError(
                f"{root} is not the top level of its git repository ({out[2].count('../')} level(s) below it): "
                "the flag repository is the whole git repository (flags/, evidence/, policy.yaml at its top); run there"
            )
        _GIT_PATHS[_layout(root)] = "\n".join(out[3:])
    if not sha:
        raise HistoryError(f"unknown git revision {ref!r} (fetch it, or check the name)")
    return sha


def git_path(root: Path) -> str:
    """Where flaggate may keep what it derives from git (``.git/flaggate``; empty if git cannot say)."""
    known = _GIT_PATHS.get(_layout(root))
    if known is not None:
        return known
    return git(root, "rev-parse", "--git-path", "flaggate", check=False).strip()


@dataclass(slots=True)  # one per changed path of a long history: no per-object dict
class Change:
    """One path changed by a commit against its first parent (from ``git log --raw``)."""

    path: str
    old_mode: str
    new_mode: str
    old_blob: str | None
    new_blob: str | None


@dataclass(slots=True)
class Commit:
    sha: str
    parents: list[str]
    author: str
    author_email: str
    time: int  # committer time, seconds since the epoch
    trailers: list[str]
    changes: list[Change] = field(default_factory=list)
    effective: int = 0  # the time it counts as: never earlier than its first parent (see effective_times)


def first_parent_log(root: Path, rev: str, paths: Iterable[str], *, people: bool = True) -> list[Commit]:
    """The first-parent history of ``rev`` touching ``paths``, oldest first.

    Merge commits are diffed against their first parent, so a change merged
    from a branch is attributed to the merge on the first-parent line.  Fields
    are separated by a per-run random marker, so nothing a committer writes in
    a name or a trailer can forge a record.  ``people=False`` leaves authors
    and trailers empty (git then skips parsing every message for trailers).
    """
    return _log(root, ["--first-parent", "--diff-merges=first-parent", rev], paths, people)


def own_commits(root: Path, base: str, head: str, paths: Iterable[str]) -> list[Commit]:
    """The commits a rebase of ``head`` onto ``base`` would write, touching ``paths``, in the order it writes them.

    As git's rebase picks them: the commits of ``head`` not in ``base``, merges left out, and
    those whose change ``base`` already has left out too (``--cherry-pick``), parents first; each
    with its own change (against its first parent).  ``--full-history``: a side branch whose end
    result is the base's own files is still walked."""
    # Picked as a rebase picks them, from whole commits (a pathspec would compare only their flag files
    # with the base's: a commit whose flag part the base has, but that changes other files too, is
    # still written by a rebase), newest first, so that the log's --reverse gives them parents first.
    picks = git(root, "rev-list", "--no-merges", "--topo-order", "--cherry-pick", "--right-only", f"{base}...{head}", "--").split()
    return _log(root, ["--no-walk=unsorted", *picks], paths, False) if picks else []


_EMPTY_TREES = ("4b825dc642cb6eb9a060e54bf8d69288fbee4904", "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321")


def rebased(root: Path, base: str, commits: list[Commit], paths: list[str]) -> list[Commit] | None:
    """``commits`` as a rebase onto ``base`` writes them, for ``paths``: each one's change (against
    its parent) applied where the one before left the files, as git's rebase applies it (a
    three-way merge where the context moved), in a scratch index; None where one does not apply
    (a rebase would stop there).  The changes name the blobs each step writes."""
    import tempfile

    objects, object_format = git(root, "rev-parse", "--path-format=absolute", "--git-path", "objects", "--show-object-format").split("\n")[
        :2
    ]
    with tempfile.TemporaryDirectory(prefix="flaggate-rebase-") as scratch:
        # The replay runs in a repository of its own over this one's objects (the blobs it merges are
        # written there, for the walk reads them next): no attributes (a merge=binary or a "keep ours"
        # merge driver in .gitattributes, .git/info/attributes or a config made the three-way merge
        # fail, or pass wrongly, and the hidden steps went unseen) and no configuration but flaggate's.
        replay = Path(scratch) / "replay.git"
        made = subprocess.run(
            ["git", "init", "-q", "--bare", f"--object-format={object_format}", str(replay)], env=_env(), capture_output=True
        )
        if made.returncode != 0:
            return None
        env = {
            **_env(),
            "GIT_DIR": str(replay),
            "GIT_OBJECT_DIRECTORY": objects,
            "GIT_INDEX_FILE": str(Path(scratch) / "index"),
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
        }

        def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run(["git", "-c", "core.quotePath=false", *args], cwd=scratch, env=env, input=stdin, capture_output=True)

        # Only the replayed files in the scratch index: the base's whole tree (tens of thousands of
        # files) was read and rewritten by every git apply.
        listing = run("ls-tree", "-r", "-z", "--full-tree", base, "--", *paths)
        if listing.returncode != 0:
            return None
        if listing.stdout and run("update-index", "-z", "--index-info", stdin=listing.stdout).returncode != 0:  # ls-tree's own format
            return None
        files = _staged(run("ls-files", "-s", "-z", "--", *paths).stdout)
        found = []
        unsynced: dict[str, tuple[str, str] | None] = {}  # set in ``files`` but not yet in the scratch index
        for commit in commits:
            now = dict(files)
            diverged = []
            for change in commit.changes:
                held = files[change.path][1] if change.path in files else None
                if held == change.new_blob:
                    continue  # the files already hold it (a file the base added alike): git apply would refuse it
                if held != change.old_blob:
                    diverged.append(change.path)
                    continue
                # The commit's parent had what the files hold: a rebase writes the commit's own file, no git needed.
                if change.new_blob is None:
                    now.pop(change.path, None)
                else:
                    now[change.path] = (change.new_mode, change.new_blob)
                unsynced[change.path] = now.get(change.path)
            if diverged:
                if unsynced:
                    info = "".join(f"{e[0]} {e[1]}\t{p}\0" if e else f"0 {'0' * len(commit.sha)}\t{p}\0" for p, e in unsynced.items())
                    if run("update-index", "-z", "--index-info", stdin=info.encode("utf-8", "surrogateescape")).returncode != 0:
                        return None
                    unsynced.clear()
                parent = commit.parents[0] if commit.parents else _EMPTY_TREES[len(commit.sha) == 64]
                diff = run(
                    "--literal-pathspecs", "diff", "--binary", "--full-index", "--no-renames", "--no-color", "--no-ext-diff", "--no-textconv",
                    "--src-prefix=a/", "--dst-prefix=b/", parent, commit.sha, "--", *diverged,
                )  # fmt: skip
                if diff.returncode != 0:
                    return None
                if diff.stdout and run("apply", "--cached", "--3way", "--whitespace=nowarn", stdin=diff.stdout).returncode != 0:
                    return None
                now = _staged(run("ls-files", "-s", "-z", "--", *paths).stdout)
            changes = [
                Change(path, files[path][0] if path in files else "000000", now[path][0] if path in now else "000000",
                       files[path][1] if path in files else None, now[path][1] if path in now else None)
                for path in sorted(set(files) | set(now))
                if files.get(path) != now.get(path)
            ]  # fmt: skip
            found.append(Commit(commit.sha, [], commit.author, commit.author_email, commit.time, commit.trailers, changes, commit.time))
            files = now
        return found


def _staged(out: bytes) -> dict[str, tuple[str, str]]:
    """path -> (mode, blob id) from ``git ls-files -s -z``."""
    staged = {}
    for item in out.decode("utf-8", "surrogateescape").split("\0"):
        if item:
            meta, path = item.split("\t", 1)
            mode, blob, _stage = meta.split(" ")
            staged[path] = (mode, blob)
    return staged


def _log(root: Path, selection: list[str], paths: Iterable[str], people: bool) -> list[Commit]:
    nonce = os.urandom(8).hex()  # secrets.token_hex's source, without importing secrets (hmac, random) on every check
    rs, fs = f"\x1e{nonce}\x1e", f"\x1f{nonce}\x1f"
    trailers = "%(trailers:key=Reviewed-by,key=Approved-by,valueonly,separator=%x1d)"
    fmt = fs.join(["%H", "%P", "%an", "%ae", "%ct", trailers] if people else ["%H", "%P", "", "", "%ct", ""])
    out = _records(
        root,
        rs,
        "log",
        "--raw",
        "--no-abbrev",
        "-z",
        "--no-renames",
        "--reverse",
        f"--format={rs}{fmt}{fs}",
        *selection,
        "--",
        *paths,
    )
    commits = []
    for record in out:
        fields = record.split(fs)
        sha, parents, author, email, ctime, trailer_text, raw = fields
        if not ctime.isdigit():
            raise HistoryError(
                f"commit {sha[:12]} has a committer date git cannot read (git fsck reports it): when it happened cannot be told"
            )
        commit = Commit(
            sha=sha,
            parents=parents.split(),
            author=author,
            author_email=email,
            time=min(int(ctime), _LAST_SECOND),
            trailers=[t.strip() for t in trailer_text.split("\x1d") if t.strip()],
        )
        tokens = raw.lstrip("\0\n").split("\0")
        for i in range(0, len(tokens) - 1, 2):
            meta, path = tokens[i].lstrip("\n"), tokens[i + 1]
            if not meta.startswith(":"):
                continue
            old_mode, new_mode, old_blob, new_blob, _status = meta[1:].split(" ")
            commit.changes.append(
                Change(
                    path,
                    old_mode,
                    new_mode,
                    None if old_blob == _ZERO else old_blob,
                    None if new_blob == _ZERO else new_blob,
                )
            )
        commit.effective = commit.time
        commits.append(commit)
    return commits


def first_parent(root: Path, rev: str) -> str | None:
    """The first parent of ``rev``, or None for a root commit."""
    out = git(root, "rev-list", "--parents", "-n", "1", rev, "--").split()
    return out[1] if len(out) > 1 else None


def _records(root: Path, separator: str, *args: str) -> Iterator[str]:
    """Like ``git(...).split(separator)[1:]``, each record as git writes it: the whole output is never held at once."""
    import codecs

    try:
        proc = subprocess.Popen(
            ["git", "-c", "core.quotePath=false", *args], cwd=root, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except FileNotFoundError:
        raise HistoryError("git is not installed or not on PATH") from None
    if proc.stdout is None or proc.stderr is None:
        raise HistoryError(f"git {args[0]} started without its pipes")
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    pending, first = "", True
    try:
        while True:
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
            pending += decoder.decode(chunk, final=not chunk)
            parts = pending.split(separator)
            pending = parts.pop() if chunk else ""
            if first and parts:
                parts.pop(0)  # what comes before the first separator is no record
                first = False
            yield from parts
            if not chunk:
                break
    finally:
        proc.stdout.close()
        stderr = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        status = proc.wait()
    if status != 0:
        message = stderr.splitlines()[-1] if stderr else f"exit {status}"
        raise HistoryError(f"git {args[0]} failed: {message}")


def effective_times(root: Path, rev: str) -> dict[str, int]:
    """Every first-parent commit of ``rev``, oldest first, with the time it counts as.

    Committer dates are whatever the committer's clock (or
    ``GIT_COMMITTER_DATE``) said.  On the first-parent line a commit counts as
    no earlier than its first parent, so a backdated commit cannot make a flag
    look as if it entered a step long ago.
    """
    out = git(root, "rev-list", "--first-parent", "--timestamp", "--reverse", rev, "--")
    times: dict[str, int] = {}
    latest = None
    for line in out.splitlines():
        stamp, sha = line.split(" ", 1)
        value = min(int(stamp), _LAST_SECOND)
        latest = value if latest is None or value > latest else latest
        times[sha] = latest
    return times


class Blobs:
    """``git cat-file --batch``: any number of objects through one process."""

    def __init__(self, root: Path, *, lean: bool = False) -> None:
        self.root = root
        # Reading ``<commit>:<path>`` inflates every tree on the way; git's default delta base cache
        # (96 MiB) then grows with a directory that grows with every promotion, for no gain in speed.
        # Nor need the whole pack be mapped at once (one window of up to 1 GiB by default): mapped pages count
        # as the process's memory, and a long history's pack is read from end to end.
        self.config = (
            ["-c", "core.deltaBaseCacheLimit=16m", "-c", "core.packedGitWindowSize=4m", "-c", "core.packedGitLimit=48m"] if lean else []
        )

    def read(self, names: list[str]) -> list[bytes | None]:
        """Contents of ``names`` (``<sha>`` or ``<rev>:<path>``), None where missing or not a blob."""
        return list(self.stream(names))

    def stream(self, names: list[str]) -> Iterator[bytes | None]:
        """Like ``read``, one at a time as git produces them: git works while the caller parses."""
        for found in self.objects(names):
            yield found[2] if found is not None and found[1] == "blob" else None

    def objects(self, names: list[str]) -> Iterator[tuple[str, str, bytes] | None]:
        """Each of ``names`` as (object id, type, contents), None where missing; in order, as git produces them."""
        if not names:
            return
        for name in names:
            if "\n" in name or "\r" in name:
                raise HistoryError(f"cannot read {name!r} from git: the name has a line break")
        proc = subprocess.Popen(
            ["git", *self.config, "cat-file", "--batch", "--buffer"],
            cwd=self.root,
            env=_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if not (proc.stdin is not None and proc.stdout is not None and proc.stderr is not None):
            raise HistoryError("git cat-file started without its pipes")

        def feed() -> None:
            try:
                proc.stdin.write("".join(f"{n}\n" for n in names).encode("utf-8", "surrogateescape"))  # type: ignore[union-attr]
                proc.stdin.close()  # type: ignore[union-attr]
            except BrokenPipeError:
                pass

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        stdout = proc.stdout
        produced = 0
        try:
            for _ in names:
                header = stdout.readline()
                if not header:
                    break
                parts = header.split()
                produced += 1
                if len(parts) != 3 or not parts[2].isdigit() or not _OBJECT_ID.fullmatch(parts[0].decode("ascii", "replace")):
                    yield None  # "<name> missing" or "<name> ambiguous", where the name may hold spaces
                    continue
                size = int(parts[2])
                body = stdout.read(size)
                stdout.read(1)  # the line feed after the contents (no copy of a large tree to drop it)
                yield parts[0].decode("ascii"), parts[1].decode("ascii"), body
        finally:
            writer.join()
            stdout.close()
            stderr = proc.stderr.read().decode(errors="replace")
            proc.stderr.close()
            status = proc.wait()
        if status != 0 or produced != len(names):
            raise HistoryError(f"git cat-file failed: {stderr.strip() or 'output ended early'}")


_KINDS = {"100644": FILE, "100755": FILE, "120000": SYMLINK, "040000": DIRECTORY, "160000": OTHER}


def changed_paths(root: Path, base: str, head: str | None, prefix: str) -> list[tuple[str, str, str]]:
    """(path, status, new mode) of every path under ``prefix`` that differs from ``base``.

    ``head`` None compares with the working tree: tracked files, plus every
    file git does not track (ignored ones too: ``check`` reads them all) as an
    addition with the mode of what is on disk.  Status is git's: A, D, M, T.
    """
    revs = [base, head] if head is not None else [base]
    diff = ["diff", "--raw", "-z", "--no-renames", "--no-ext-diff", "--no-textconv", *revs, "--", prefix]
    out, untracked = git_at_once(root, diff, ["ls-files", "--others", "-z", "--", prefix]) if head is None else (git(root, *diff), "")
    tokens = out.split("\0")
    found = []
    for i in range(0, len(tokens) - 1, 2):
        meta, path = tokens[i], tokens[i + 1]
        if meta.startswith(":"):
            fields = meta.split(" ")
            found.append((path, fields[-1][:1], fields[1]))
    if head is None:
        for path in untracked.split("\0"):
            if path:
                mode = os.lstat(root / path).st_mode
                found.append((path, "A", "100644" if stat.S_ISREG(mode) else "120000" if stat.S_ISLNK(mode) else "000000"))
    return found


def changed_files(root: Path, base: str, head: str | None = None) -> list[str]:
    """Every path a change adds, deletes, modifies or retypes against ``base``, sorted.

    ``head`` None compares with the working tree (and adds the files git does not track yet, as
    ``git status`` shows them).  Renames are not detected: a file moved out of ``.github/`` changes
    ``.github/`` as much as a deleted one does, so both paths are listed.
    """
    revs = [base, head] if head is not None else [base]
    out = git(root, "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", "--no-textconv", *revs, "--")
    paths = set(out.split("\0"))
    if head is None:
        paths.update(git(root, "ls-files", "--others", "--exclude-standard", "-z").split("\0"))
    paths.discard("")
    return sorted(paths)


class GitTree:
    """The flag repository as it is at one git revision, read from git objects.

    Attributes, filters and the working tree play no part: every reader of a
    revision sees the bytes git stores.
    """

    def __init__(self, root: Path, rev: str) -> None:
        self.root = root
        self.rev = rev
        self.label = f"revision {rev[:12]}"
        self._cache: dict[str, bytes | None] = {}
        self._top: dict[str, str] | None = None
        self._oids: dict[str, str] = {}  # path -> blob id, of the files a listing found
        self._listed: dict[str, list[Entry]] = {}  # directory -> every entry below it (a file not there is missing)
        self._flags: list[Entry] | None = None  # the snapshot and the layout rule both ask

    def top_names(self) -> list[str]:
        """The names of the top-level entries."""
        self.kind("")
        return sorted(self._top or {})

    def kind(self, path: str) -> str | None:
        """The kind of a top-level entry, without following links; None when absent."""
        if self._top is None:
            self._top = {}
            for item in git(self.root, "ls-tree", "-z", self.rev).split("\0"):
                if item:
                    meta, name = item.split("\t", 1)
                    self._top[name] = _KINDS.get(meta.split(" ")[0], OTHER)
        return self._top.get(path)

    def entries_under(self, directory: str) -> list[Entry]:
        """Every entry below ``directory`` (directories included), never following a link."""
        if self.kind(directory.split("/", 1)[0]) != DIRECTORY:
            return []
        if directory in self._listed:
            return list(self._listed[directory])
        out = git(self.root, "ls-tree", "-r", "-t", "-z", self.rev, "--", f"{directory}/")
        entries = []
        for item in out.split("\0"):
            if item:
                meta, path = item.split("\t", 1)
                mode, _, oid = meta.split(" ")
                entries.append(Entry(path, _KINDS.get(mode, OTHER)))
                if mode in ("100644", "100755"):
                    self._oids[path] = oid  # read later by object id: no lookup of the path in a tree of thousands
        self._listed[directory] = entries
        return list(entries)

    def flag_entries(self) -> list[Entry]:
        if self._flags is not None:
            return list(self._flags)
        out = git(self.root, "ls-tree", "-z", self.rev, "--", f"{FLAGS_DIR}/")
        entries = []
        for item in out.split("\0"):
            if not item:
                continue
            meta, path = item.split("\t", 1)
            mode, _, oid = meta.split(" ")
            entries.append(Entry(path, _KINDS.get(mode, OTHER)))
            if _KINDS.get(mode) == FILE:
                self._oids[path] = oid  # read by object id: any name (a line break too) reads as the working tree's
        # The two rules files with them: one git process for everything a snapshot reads.
        self.prefetch([POLICY_FILE, RESOURCES_FILE, *(e.path for e in entries if e.kind == FILE)])
        self._flags = entries
        return list(entries)

    def prefetch(self, paths: list[str]) -> None:
        for path in paths:
            if path not in self._oids and path not in self._cache and any(path.startswith(f"{d}/") for d in self._listed):
                self._cache[path] = None  # below a directory listed whole, and not in the listing: missing
        odd = [p for p in paths if p not in self._cache and p not in self._oids and ("\n" in p or "\r" in p)]
        if odd:
            # git's batch reads one name a line: names with a line break are looked up by ls-tree.
            found = self._lookup(odd)
            for path in odd:
                if path in found:
                    self._oids[path] = found[path]
                else:
                    self._cache[path] = None
        wanted = [p for p in paths if p not in self._cache]
        for path, body in zip(wanted, Blobs(self.root).read([self._oids.get(p) or f"{self.rev}:{p}" for p in wanted])):
            self._cache[path] = body

    def _lookup(self, paths: list[str]) -> dict[str, str]:
        """The object ids of those of ``paths`` that are regular files, a few hundred paths per git process."""
        wanted, found = set(paths), {}
        for start in range(0, len(paths), 500):
            out = git(self.root, "--literal-pathspecs", "ls-tree", "-z", self.rev, "--", *paths[start : start + 500])
            for item in out.split("\0"):
                if item:
                    meta, path = item.split("\t", 1)
                    mode, _, oid = meta.split(" ")
                    if path in wanted and mode in ("100644", "100755"):
                        found[path] = oid
        return found

    def blob_ids(self, paths: list[str]) -> dict[str, str]:
        """The blob ids of those of ``paths`` a listing found (path -> blob id)."""
        return {path: self._oids[path] for path in paths if path in self._oids}

    def read_blobs(self, ids: list[str]) -> list[bytes | None]:
        return Blobs(self.root).read(ids)

    def read(self, path: str) -> bytes | None:
        if path not in self._cache:
            self.prefetch([path])
        return self._cache[path]

    def read_many(self, paths: list[str]) -> list[bytes | None]:
        """Like ``read`` for each path, through one git process (every run of a flag: thousands)."""
        self.prefetch(paths)
        return [self._cache[path] for path in paths]


def current_branch(root: Path) -> str:
    branch = git(root, "rev-parse", "--abbrev-ref", "HEAD").strip()
    if branch == "HEAD":
        raise HistoryError("HEAD is detached: check out the branch the emergency pull request should target")
    return branch


def push_branch(root: Path, branch: str, paths: list[str], message: str, remote: str) -> str:
    """Commit ``paths`` on a new branch, push it, and come back: the change lives on the branch."""
    start = current_branch(root)
    git(root, "checkout", "-q", "-b", branch)
    try:
        git(root, "add", "--", *paths)
        git(root, "commit", "-q", "-m", message, "--", *paths)
        sha = git(root, "rev-parse", "HEAD").strip()
        git(root, "push", "-q", remote, f"{branch}:refs/heads/{branch}")
    finally:
        git(root, "checkout", "-q", start)
    return sha


class BlobSearch:
    """Blobs searched for needles, their ids handed over one by one while git lists them (``flag_changes``).

    One ``git cat-file --batch`` reads each id as soon as it is given, and a
    thread takes what it writes object by object, keeping only the objects
    that hold a needle (``bytes.find`` over the object where it sits, no
    copy): the listing and the reading run at once, no git process waits on
    a full pipe, and memory holds the hits, not every version of every file.
    """

    def __init__(self, root: Path, needles: list[bytes]) -> None:
        self.ids: list[str] = []
        self.needles = needles
        self._seen: set[str] = set()
        self._count = 0  # objects git wrote
        self._found: dict[str, bytes] = {}
        self._broken = False  # a missing object, or output that is not git's
        self._proc = subprocess.Popen(
            ["git", "cat-file", "--batch", "--buffer"],
            cwd=root,
            env=_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if self._proc.stdin is None or self._proc.stdout is None or self._proc.stderr is None:
            raise HistoryError("git cat-file started without its pipes")
        self._pending: list[bytes] = []
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    def _read(self) -> None:
        stdout = self._proc.stdout
        if stdout is None:
            return
        fd, buf, pos = stdout.fileno(), bytearray(), 0
        needles, found = self.needles, self._found
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            if self._broken:
                continue  # drained to the end all the same: git must never wait on a full pipe
            if pos > (1 << 20):
                del buf[:pos]
                pos = 0
            buf += chunk
            # Cut the whole objects now in ``buf``: "<id> blob <size>\n<contents>\n" (a few C calls each).
            spans: list[tuple[int, int, int]] = []  # (header start, contents start, contents end)
            while True:
                line_end = buf.find(b"\n", pos)
                if line_end < 0:
                    break
                space = buf.rfind(b" ", pos, line_end)
                size = buf[space + 1 : line_end]
                if space < 0 or not size.isdigit() or buf.find(b" blob ", pos, line_end) < 0:
                    self._broken = True  # "<id> missing", another type, or not git's output
                    break
                end = line_end + 1 + int(size)
                if end + 1 > len(buf):
                    break  # the rest of this object is still to come
                spans.append((pos, line_end + 1, end))
                pos = end + 1
            self._count += len(spans)
            if not spans or self._broken:
                continue
            # The needles searched once over all of them; a hit is mapped to its object.
            first, last = spans[0][0], spans[-1][2]
            for needle in needles:
                at = buf.find(needle, first, last)
                k = 0
                while at >= 0:
                    while k < len(spans) and spans[k][2] <= at:
                        k += 1
                    if k == len(spans):
                        break
                    header, start, end = spans[k]
                    if at >= start:
                        if at + len(needle) <= end:
                            name = bytes(buf[header : buf.find(b" ", header)]).decode("ascii", "replace")
                            found.setdefault(name, bytes(buf[start:end]))
                        at = buf.find(needle, at + 1, last)
                    else:
                        at = buf.find(needle, start, last)  # a hit in a header: look on from the contents
        if pos != len(buf) and not self._broken:
            self._broken = True

    def add(self, blobs: list[str]) -> None:
        for blob in blobs:
            if blob not in self._seen:
                self._seen.add(blob)
                self.ids.append(blob)
                self._pending.append(blob.encode("ascii") + b"\n")
        if len(self._pending) >= 256:
            self.flush()

    def flush(self) -> None:
        if self._pending and self._proc.stdin is not None:
            try:
                self._proc.stdin.write(b"".join(self._pending))
                self._proc.stdin.flush()
            except BrokenPipeError:
                self._broken = True
            self._pending = []

    def finish(self) -> dict[str, bytes] | None:
        """The blobs holding any of the needles, by id; None when one is missing or git failed."""
        self.flush()
        if self._proc.stdin is not None:
            try:
                self._proc.stdin.close()
            except BrokenPipeError:
                self._broken = True
        self._drain.join()
        err = self._proc.stderr.read() if self._proc.stderr is not None else b""
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()
        if self._proc.wait() != 0 or err.strip() or self._broken or self._count != len(self.ids):
            return None
        return self._found


def flag_changes(
    root: Path, rev: str, prefix: str, seen: Callable[[list[tuple[str, str, str | None]]], None] | None = None
) -> list[tuple[str, list[tuple[str, str, str | None]]]]:
    """``first_parent_log(root, rev, [prefix], people=False)`` as (commit id, [(path, new mode, new blob)]), oldest first.

    The same ``git log`` (first parent, merges against their first parent, no
    renames), cut by one regular expression instead of a Python step per
    field: a promotion's quick reading lists every commit of a long history.
    It is read as git writes it (newest first), and ``seen`` is told of the
    changes of each piece read, so blobs can be read while git lists.  Records start with
    a per-run random marker, and a path is taken whole up to its NUL, so no
    name can forge a record.
    """
    nonce = os.urandom(8).hex().encode()
    marker = b"\x1e" + nonce + b"\x1e"
    command = ["git", "-c", "core.quotePath=false", "log", "--first-parent", "--diff-merges=first-parent", "--raw", "--no-abbrev"]
    command += ["-z", "--no-renames", f"--format=%x1e{nonce.decode()}%x1e%H", rev, "--", prefix]
    try:
        proc = subprocess.Popen(command, cwd=root, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise HistoryError("git is not installed or not on PATH") from None
    if proc.stdout is None or proc.stderr is None:
        raise HistoryError("git log started without its pipes")
    pattern = re.compile(re.escape(marker) + rb"([0-9a-f]+)|:[0-7]+ ([0-7]+) [0-9a-f]+ ([0-9a-f]+) [A-Z][0-9]*\0([^\0]*)\0", re.DOTALL)
    found: list[tuple[str, list[tuple[str, str, str | None]]]] = []
    changes: list[tuple[str, str, str | None]] = []
    zero = _ZERO.encode()

    def parse(text: bytes) -> None:
        nonlocal changes
        told: list[tuple[str, str, str | None]] = []
        for match in pattern.finditer(text):
            sha = match.group(1)
            if sha is not None:
                changes = []
                found.append((sha.decode("ascii"), changes))
            elif found:
                blob = match.group(3)
                change = (
                    match.group(4).decode("utf-8", "surrogateescape"),
                    match.group(2).decode("ascii"),
                    None if blob == zero else blob.decode("ascii"),
                )
                changes.append(change)
                told.append(change)
        if seen is not None and told:
            seen(told)

    errors: list[bytes] = []
    drain = threading.Thread(target=lambda: errors.append(proc.stderr.read() if proc.stderr is not None else b""), daemon=True)
    drain.start()
    pending = b""
    fd = proc.stdout.fileno()
    try:
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            pending += chunk
            cut = pending.rfind(marker)  # what comes before the last record's start is whole records
            if cut > 0:
                parse(pending[:cut])
                pending = pending[cut:]
        parse(pending)
    finally:
        proc.stdout.close()
        drain.join()
        proc.stderr.close()
        status = proc.wait()
    if status != 0:
        stderr = b"".join(errors).decode(errors="replace").strip()
        raise HistoryError(f"git log failed: {stderr.splitlines()[-1] if stderr else f'exit {status}'}")
    found.reverse()
    return found
