"""Where the runs a promotion cited are: their object ids, read from each commit's own tree.

A cited run is whatever is at ``evidence/<flag>/<run>.json`` in the commit
of the promotion.  Asking git for ``<commit>:<path>`` makes it rebuild and
scan the ``evidence/<flag>`` tree for every file asked, and that directory
grows by three runs per promotion: six lookups per promotion over a
directory that keeps growing made the audit log quadratic, and slow long
before that.  Here each promotion's directory is read once (one ``git
cat-file`` process for all of them) and its entries are found in the raw
tree, so git rebuilds the tree once per promotion instead of once per file.

The raw tree is parsed exactly, never searched: a run id found by a byte
search could sit in another entry's name (``x rr-1.json``) or inside an
object id.  Entries are read from a known entry boundary; the part of a
directory that is byte for byte the one of the previous promotion of the same
flag (in the usual history, all of it but the runs just added at its end) is
not parsed again.  A tree is used only when git itself would find exactly the
entries found here: every entry well formed, names unique, in git's order,
and the path to it made of directories.  Anything else (a malformed or
unsorted tree, an odd mode) is left to git, asked for ``<commit>:<path>`` as
before.  So each answer is the object git's own path lookup names.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from collections.abc import Iterable
from pathlib import Path

from validator import history
from validator.rules.evidence import EVIDENCE_DIR

_DIR_MODE, _TYPE_BITS = 0o040000, 0o170000
_ENTRY = {size: re.compile(rb"([0-7]+) ([^\x00]+)\x00([\x00-\xff]{%d})" % size) for size in (20, 32)}  # SHA-1 and SHA-256 object ids

Key = tuple[str, str, str]


class _Tree:
    """One directory's entries, kept to be extended by the next version of the same directory."""

    def __init__(self) -> None:
        self.raw = b""
        self.ends = array("q")  # where each entry ends in ``raw``: entry boundaries
        self.keys: list[bytes] = []  # git's sort key of each entry (a directory's name ends in "/")
        self.names: list[bytes] = []
        self.index: dict[bytes, bytes] = {}  # name -> b"d" (a directory) or b"f", then the raw object id
        self.usable = False

    def read(self, raw: bytes, size: int) -> bool:
        """Take ``raw`` as the new version; False when it is not a tree git reads by exact name."""
        if self.usable and raw == self.raw:
            return True
        start, count = 0, 0
        if self.usable:
            common = _common_prefix(self.raw, raw)
            count = bisect_right(self.ends, common)  # entries wholly inside the common bytes: the same entries
            start = self.ends[count - 1] if count else 0
        for name in self.names[count:]:
            del self.index[name]
        del self.ends[count:], self.keys[count:], self.names[count:]
        self.raw, self.usable = raw, False
        entry = _ENTRY[size].match
        ends, keys, names, index = self.ends, self.keys, self.names, self.index
        last = keys[-1] if keys else None
        while start < len(raw):
            found = entry(raw, start)
            if found is None:
                return False
            mode_text, name, oid = found.groups()
            mode = int(mode_text, 8)
            key = name + b"/" if mode & _TYPE_BITS == _DIR_MODE else name
            if (last is not None and key <= last) or name in index:
                return False  # unsorted or a repeated name: git's lookup may not find what a dict finds
            start = found.end()
            ends.append(start)
            keys.append(key)
            names.append(name)
            index[name] = (b"d" if key is not name else b"f") + oid
            last = key
        self.usable = True
        return True

    def find(self, name: str) -> tuple[bool, str] | None:
        """(is it a directory, its object id) of the entry named ``name``."""
        found = self.index.get(name.encode("utf-8", "surrogateescape"))
        return (found[:1] == b"d", found[1:].hex()) if found is not None else None


def _common_prefix(a: bytes, b: bytes) -> int:
    """The length of the longest common prefix of ``a`` and ``b``."""
    if b.startswith(a):  # the usual case, runs added at the end: no copy of either
        return len(a)
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _is_dir(raw: bytes, size: int, name: str, oid: str) -> bool:
    """Is ``name`` in the (small) tree ``raw`` a directory whose object is ``oid``, read as git reads it?"""
    tree = _Tree()
    found = tree.find(name) if tree.read(raw, size) else None
    return found is not None and found[0] and found[1] == oid


def locate(root: Path, wanted: Iterable[tuple[str, str, list[tuple[str, Key]]]]) -> dict[Key, str]:
    """``Locator(root).locate(wanted)``."""
    return Locator(root).locate(wanted)


class Locator:
    """Finds cited files in the history of one repository; each directory read goes on from the last one read."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.trees: dict[str, _Tree] = {}  # flag -> its directory as last read

    def locate(self, wanted: Iterable[tuple[str, str, list[tuple[str, Key]]]]) -> dict[Key, str]:
        """For each (commit, flag, [(file name, key)]): the object to read for each file that is there, by key.

        The value is the file's object id, or ``<commit>:<path>`` where git
        must be asked by path (the tree could not be read exactly); a file
        that is surely not there has no key.  Directories are best read in
        the order of the history (each mostly extends the one before).
        """
        return _locate(self.root, list(wanted), self.trees)


def _locate(root: Path, asks: list[tuple[str, str, list[tuple[str, Key]]]], trees: dict[str, _Tree]) -> dict[Key, str]:
    names: list[str] = []
    for commit, flag, _ in asks:
        # The root and evidence/ trees are small; they say whether the path is made of directories.
        names += [f"{commit}^{{tree}}", f"{commit}:{EVIDENCE_DIR}", f"{commit}:{EVIDENCE_DIR}/{flag}"]
    objects = history.Blobs(root, lean=True).objects(names)
    found: dict[Key, str] = {}
    for commit, flag, files in asks:
        top, evidence, directory = next(objects), next(objects), next(objects)
        if directory is None or directory[1] != "tree":
            continue  # no directory evidence/<flag> at this commit: none of its files is there
        size = len(directory[0]) // 2
        tree = trees.setdefault(flag, _Tree())
        exact = (
            size in _ENTRY
            and top is not None
            and evidence is not None
            and _is_dir(top[2], size, EVIDENCE_DIR, evidence[0])
            and _is_dir(evidence[2], size, flag, directory[0])
            and tree.read(directory[2], size)
        )
        for file, key in files:
            if not exact:
                found[key] = f"{commit}:{EVIDENCE_DIR}/{flag}/{file}"
                continue
            entry = tree.find(file)
            if entry is not None:
                found[key] = entry[1]
    for _ in objects:
        pass
    return found
