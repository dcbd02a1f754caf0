"""The flag repository as files: where things are and how a snapshot is read.

A snapshot is the policy, the resources and every flag file of one tree, the
working tree or a git revision (``validator.history.GitTree``), each loaded
strictly and validated against its model.  Findings are collected, never
raised; a file that cannot be trusted is kept with ``flag=None`` so that its
name is never mistaken for "no such flag".
"""

from __future__ import annotations

import functools
import gc
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from validator import jsonfile, loading
from validator.errors import FatalError
from validator.finding import Finding
from validator.records import Flag, Policy, Resources
from validator.rules import schema

if TYPE_CHECKING:
    from validator import histcache, history

FLAGS_DIR = "flags"
POLICY_FILE = "policy.yaml"
RESOURCES_FILE = "resources.yaml"
EVIDENCE_DIR = "evidence"
FLAG_SUFFIX = ".yaml"

FILE, SYMLINK, DIRECTORY, OTHER = "file", "symlink", "directory", "other"


@dataclass(frozen=True)
class Entry:
    path: str  # as shown to people: relative to the repository root, with "/"
    kind: str


class Tree(Protocol):
    """A flag repository as files: the working tree, or a revision read from git objects."""

    label: str

    @property
    def rev(self) -> str | None:
        """The revision read, or None for the working tree."""
        ...

    def flag_entries(self) -> list[Entry]: ...

    def read(self, path: str) -> bytes | None: ...

    def kind(self, path: str) -> str | None: ...

    def entries_under(self, directory: str) -> list[Entry]: ...


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds ``policy.yaml``."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / POLICY_FILE).is_file():
            return candidate
    raise FatalError(f"no {POLICY_FILE} in {start} or any parent: run inside a flaggate repository or pass --root")


class WorkTree:
    """The files on disk under ``root``."""

    label = "working tree"
    rev: str | None = None

    def __init__(self, root: Path) -> None:
        self.root = root
        self._listed: dict[str, list[Entry]] = {}  # directory -> every entry below it, as listed once per command
        self._blob_ids: dict[str, history.Background[histcache.IndexReading | None]] = {}

    def kind(self, path: str) -> str | None:
        """The kind of ``path`` (relative to the root), without following links; None when absent."""
        try:
            mode = os.lstat(self.root / path).st_mode
        except OSError:
            return None
        return _kind(mode)

    def top_names(self) -> list[str]:
        """The names of the top-level entries."""
        try:
            return sorted(os.listdir(self.root))
        except OSError:
            return []

    def local_attributes(self) -> bytes | None:
        """This clone's ``.git/info/attributes``: it changes the working tree as much as ``.gitattributes``."""
        git_dir = self.root / ".git"
        if git_dir.is_file():  # a linked worktree: "gitdir: <dir>", info/ lives in the common directory
            try:
                pointer = git_dir.read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                return None
            if not pointer.startswith("gitdir:"):
                return None
            git_dir = (self.root / pointer[len("gitdir:") :].strip()).resolve()
            common = git_dir / "commondir"
            if common.is_file():
                git_dir = (git_dir / common.read_text(encoding="utf-8", errors="replace").strip()).resolve()
        try:
            return (git_dir / "info" / "attributes").read_bytes()
        except OSError:
            return None

    def entries_under(self, directory: str) -> list[Entry]:
        """Every entry below ``directory`` (directories included), never following a link.

        Listed once per command (the layout rule and the newest-runs rule list
        ``evidence/``): a directory below one listed is read from that listing."""
        for listed, listing in self._listed.items():
            if directory == listed or directory.startswith(f"{listed}/"):
                inside = f"{directory}/"
                return [e for e in listing if e.path.startswith(inside)]
        entries: list[Entry] = []
        pending = [directory]
        while pending:
            current = pending.pop()
            try:
                with os.scandir(self.root / current) as found:
                    items = sorted(found, key=lambda e: e.name)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise FatalError(f"cannot list {current}: {exc.strerror}") from None
            for item in items:
                path = f"{current}/{item.name}"
                kind = _scanned_kind(item)
                if kind == DIRECTORY:
                    pending.append(path)
                entries.append(Entry(path, kind))
        self._listed[directory] = entries
        return list(entries)

    def display(self, path: Path) -> str:
        try:
            return path.absolute().relative_to(self.root.absolute()).as_posix()
        except ValueError:
            return path.absolute().as_posix()  # outside the repository: absolute, so it reads back

    def _entry(self, path: Path) -> Entry:
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return Entry(self.display(path), OTHER)
        return Entry(self.display(path), _kind(mode))

    def flag_entries(self) -> list[Entry]:
        # One directory listing, kinds from it (no stat per file): a tree of 10,000 flags pays
        # this twice per check (the snapshot and the layout rule).
        directory = self.root / FLAGS_DIR
        try:
            with os.scandir(directory) as found:
                items = sorted(found, key=lambda e: e.name)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise FatalError(f"cannot list {directory}: {exc.strerror}") from None
        return [Entry(f"{FLAGS_DIR}/{item.name}", _scanned_kind(item)) for item in items]

    def entries_for(self, paths: Iterable[Path]) -> list[Entry]:
        """Entries for paths named on the command line; a directory stands for its files."""
        entries: list[Entry] = []
        for path in paths:
            if path.is_dir() and not path.is_symlink():
                entries.extend(self._entry(path / name) for name in sorted(os.listdir(path)))
            elif not os.path.lexists(path):
                raise FatalError(f"{path}: no such file or directory")
            else:
                entries.append(self._entry(path))
        return entries

    def expect_blob_ids(self, directory: str) -> None:
        """Ask git now, on another thread, what ``blob_ids`` will ask of the files below ``directory``."""
        from validator import histcache, history

        if directory not in self._blob_ids:
            self._blob_ids[directory] = history.Background(lambda: histcache.index_blobs(self.root, directory))

    def blob_ids(self, paths: list[str]) -> dict[str, str]:
        """The blob ids of those of ``paths`` that git's index holds as they are on disk (``histcache.index_blobs``)."""
        found: dict[str, str] = {}
        for path in paths:
            directory = path.rpartition("/")[0]
            if not directory:
                continue
            self.expect_blob_ids(directory)
            reading = self._blob_ids[directory].result()
            blob = reading.blobs.get(path) if reading is not None else None
            if blob is not None:
                found[path] = blob
        return found

    def read_blobs(self, ids: list[str]) -> list[bytes | None]:
        """Blobs by id, from git (what a commit of a file git holds as it is takes)."""
        from validator import history

        try:
            return history.Blobs(self.root).read(ids)
        except history.HistoryError:
            return [None] * len(ids)

    def blob_digest(self, directory: str) -> str | None:
        """A name for what git's index holds below ``directory`` and which of its files differ from it (None: git cannot say)."""
        self.expect_blob_ids(directory)
        reading = self._blob_ids[directory].result()
        return reading.digest if reading is not None else None

    def read(self, path: str) -> bytes | None:
        return self.read_many([path])[0]

    def read_many(self, paths: list[str]) -> list[bytes | None]:
        """Each file's bytes, up to one byte past the larger bound (YAML 256 KiB, evidence JSON 1 MiB: each
        parser reports its own), read at its size: a promotion reads every run of its flag.  None for a
        path that is missing, a directory, or no regular file (a FIFO would never end; the layout rule
        reports special files)."""
        limit = max(loading.MAX_BYTES, jsonfile.MAX_BYTES) + 1
        found: list[bytes | None] = []
        for path in paths:
            try:  # an absolute path stays itself; O_NONBLOCK: opening a FIFO must not wait for a writer
                fd = os.open(os.path.join(self.root, path), os.O_RDONLY | os.O_NONBLOCK)
            except (FileNotFoundError, IsADirectoryError):
                found.append(None)
                continue
            except OSError as exc:
                raise FatalError(f"cannot read {path}: {exc.strerror}") from None
            try:
                status = os.fstat(fd)
                if not stat.S_ISREG(status.st_mode):
                    found.append(None)
                    continue
                data = os.read(fd, min(status.st_size + 1, limit))  # one byte more: the end is seen at once
                while data and len(data) < limit:  # a file that grew since is read on
                    chunk = os.read(fd, min(1 << 16, limit - len(data)))
                    if not chunk:
                        break
                    data += chunk
                found.append(data)
            except OSError as exc:
                raise FatalError(f"cannot read {path}: {exc.strerror}") from None
            finally:
                os.close(fd)
        return found


def _scanned_kind(item: os.DirEntry[str]) -> str:
    """The kind of a listed entry, never following a link (an entry gone since the listing is OTHER)."""
    try:
        if item.is_symlink():
            return SYMLINK
        if item.is_dir(follow_symlinks=False):
            return DIRECTORY
        if item.is_file(follow_symlinks=False):
            return FILE
    except OSError:
        pass
    return OTHER


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return SYMLINK
    if stat.S_ISDIR(mode):
        return DIRECTORY
    if stat.S_ISREG(mode):
        return FILE
    return OTHER


@dataclass
class FlagFile:
    path: str
    doc: loading.Document | None = None
    flag: Flag | None = None

    def finding(self, path: tuple[Any, ...], rule: str, message: str, severity: str = "error") -> Finding:
        """A finding at the line of ``path`` in this file (the file's first line when it has no document)."""
        line, column = self.doc.where(path) if self.doc else (1, 1)
        return Finding(self.path, line, column, rule, message, self.flag.name if self.flag else None, severity)

    @property
    def stem(self) -> str:
        name = self.path.rsplit("/", 1)[-1]
        return name[: -len(FLAG_SUFFIX)] if name.endswith(FLAG_SUFFIX) else name


@dataclass
class Snapshot:
    """One tree's policy, resources and flags, with what was wrong reading them."""

    label: str
    policy: Policy | None = None
    resources: Resources | None = None
    files: list[FlagFile] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def flags(self) -> dict[str, FlagFile]:
        """Flag files by name; the first file wins when two share a name."""
        by_name: dict[str, FlagFile] = {}
        for file in self.files:
            if file.flag is not None:
                by_name.setdefault(file.flag.name, file)
        return by_name

    def unreadable_names(self) -> set[str]:
        """Names that files which failed to validate probably carry (their stems)."""
        return {file.stem for file in self.files if file.flag is None}


def _load_model(tree: Tree, path: str, model: type, findings: list[Finding]):  # type: ignore[no-untyped-def]
    raw = tree.read(path)
    if raw is None:
        findings.append(Finding(path, 1, 1, schema.RULE, f"{path} is missing from the {tree.label}"))
        return None, None
    doc, problems = loading.load(path, raw)
    findings.extend(problems)
    if doc is None:
        return None, None
    obj, problems = schema.validate(doc, model)
    findings.extend(problems)
    return obj, doc


def load_flag(path: str, raw: bytes) -> tuple[FlagFile, list[Finding]]:
    """One flag file read and checked on its own (the same bytes at the same path: the same answer, read once)."""
    file, findings = _load_flag(path, raw)
    return file, list(findings)


@functools.lru_cache(maxsize=256)
def _load_flag(path: str, raw: bytes) -> tuple[FlagFile, tuple[Finding, ...]]:
    # A process that judges several trees reads the same files again: the base and the working
    # tree share most of them, and status judges each promotion it calls ready on its own.  What a
    # file reads as is a function of its path and bytes, and nothing changes a FlagFile once read.
    file, findings = _read_flag(path, raw)
    return file, tuple(findings)


def _read_flag(path: str, raw: bytes) -> tuple[FlagFile, list[Finding]]:
    file = FlagFile(path)
    doc, findings = loading.load(path, raw)
    if doc is None:
        return file, findings
    file.doc = doc
    file.flag, findings = schema.validate(doc, Flag, flag=doc.data.get("name") if isinstance(doc.data.get("name"), str) else None)
    if file.flag is None:
        findings = [_state_hint(doc, f) for f in findings]
    return file, findings


def load_policy(root: Path) -> Policy:
    """The working tree's policy.yaml; FatalError when it does not load."""
    findings: list[Finding] = []
    policy, _ = _load_model(WorkTree(root), POLICY_FILE, Policy, findings)
    if policy is None:
        first = findings[0]
        raise FatalError(f"{first.file}:{first.line}:{first.column}: {first.rule}: {first.message}")
    if not isinstance(policy, Policy):
        raise FatalError(f"{POLICY_FILE} did not read as a policy")
    return policy


def read_flag(root: Path, name: str) -> FlagFile:
    """The working tree's ``flags/<name>.yaml``, loaded; FatalError when missing or invalid."""
    from validator.names import FLAG_NAME

    path = f"{FLAGS_DIR}/{name}{FLAG_SUFFIX}"
    raw = WorkTree(root).read(path) if FLAG_NAME.match(name) else None
    if raw is None:
        from validator.names import unknown_flag

        raise FatalError(unknown_flag(root, name))
    file, findings = load_flag(path, raw)
    if file.flag is None or file.doc is None:
        first = findings[0]
        raise FatalError(
            f"{path} has problems; fix them first (flaggate check): {first.file}:{first.line}:{first.column}: {first.rule}: {first.message}"
        )
    return file


def _state_hint(doc: loading.Document, finding: Finding) -> Finding:
    """``state: true`` was meant to be a state: say which states are legal."""
    state = doc.data.get("state")
    states = doc.data.get("states")
    if isinstance(state, str) or not isinstance(states, list) or finding.line != doc.where(("state",))[0]:
        return finding
    legal = ", ".join(str(s) for s in states)
    return Finding(
        finding.file,
        finding.line,
        finding.column,
        finding.rule,
        f"{finding.message}; the state must be one of: {legal}",
        finding.flag,
    )


def load_snapshot(tree: Tree, entries: list[Entry] | None = None) -> Snapshot:
    """Read a whole tree.  ``entries`` adds or replaces flag files (paths given by the user)."""
    # What is loaded is acyclic and kept: the cyclic collector would only rescan
    # it again and again as it grows (half the time of a 10,000-file check).
    # Frozen afterwards, for the same reason: every full collection the rules
    # trigger later would rescan all of it (0.57 s each at 10,000 files).  The
    # command line unfreezes when a command ends (cli.main).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _load_snapshot(tree, entries)
    finally:
        if collecting:
            gc.freeze()
            gc.enable()


def _load_snapshot(tree: Tree, entries: list[Entry] | None) -> Snapshot:
    snapshot = Snapshot(tree.label)
    findings = snapshot.findings
    listed = tree.flag_entries()  # first: a tree of git objects then reads the rules files with the flags, in one go
    snapshot.policy, _ = _load_model(tree, POLICY_FILE, Policy, findings)
    snapshot.resources, _ = _load_model(tree, RESOURCES_FILE, Resources, findings)

    chosen: dict[str, Entry] = {entry.path: entry for entry in listed}
    for entry in entries or ():
        # A file given by the user is that flag's version to check: it replaces the
        # repository's file of the same name instead of duplicating the flag.
        base = entry.path.rsplit("/", 1)[-1]
        for path in [p for p in chosen if p.startswith(f"{FLAGS_DIR}/") and p.rsplit("/", 1)[-1] == base]:
            del chosen[path]
        chosen[entry.path] = entry
    for entry in sorted(chosen.values(), key=lambda e: e.path):
        problem = _entry_problem(entry)
        if problem:
            findings.append(Finding(entry.path, 1, 1, "consistency", problem))
            continue
        raw = tree.read(entry.path)
        if raw is None:
            findings.append(Finding(entry.path, 1, 1, "consistency", f"{entry.path} cannot be read"))
            continue
        file, problems = load_flag(entry.path, raw)
        snapshot.files.append(file)
        findings.extend(problems)
    return snapshot


def _entry_problem(entry: Entry) -> str | None:
    if entry.kind == SYMLINK:
        return "symlinks are not allowed in flags/: put the flag file itself here"
    if entry.kind == DIRECTORY:
        return "directories are not allowed in flags/: flag files live directly in flags/"
    if entry.kind != FILE:
        return "only regular <name>.yaml files are allowed in flags/ (found a submodule or special file)"
    if not entry.path.endswith(FLAG_SUFFIX):
        return f"only <name>{FLAG_SUFFIX} files are allowed in flags/; rename or remove this file"
    return None
