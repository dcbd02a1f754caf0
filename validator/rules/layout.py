"""layout: every reader of the repository sees the same bytes.

The pull request check reads git objects; a developer's ``flaggate check``
and the pre-commit hook read the working tree; services read what
``publish`` wrote from git objects.  Anything that can make two of them see
different content is an error, because then a green check is about other
bytes than the ones that ship:

* a symlink at or under ``flags/``, ``evidence/``, ``policy.yaml`` or
  ``resources.yaml`` (the directories themselves included): the working tree
  follows it, git stores only its target's name;
* a ``.gitattributes`` entry (in the repository root, ``flags/`` or
  ``evidence/``, or the clone's ``.git/info/attributes``) that sets
  ``filter``, ``working-tree-encoding``, ``ident`` or an explicit ``eol`` on
  those files: the working tree then holds other bytes than the commit.
  Plain ``text=auto`` normalisation, ``eol=lf``, ``-text`` and ``binary`` stay
  allowed.
  Lines and patterns are read as git reads them (lines end at a line feed
  only, fields are split at spaces and tabs, C-quoted patterns unquoted) and
  matched byte by byte as git matches them, ignoring case as a clone with
  ``core.ignorecase`` does (the default on macOS and Windows), in time that
  grows with the pattern and the path, never more; an attributes file with
  more than 256 lines that set one of these is an error at its 257th (merge
  the patterns).

Passing: ``*.yaml text=auto``.  Failing: ``flags/*.yaml filter=lfs`` or
``evidence -> /tmp/runs`` (a symlink).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from itertools import islice

from validator.finding import Finding
from validator.repo import DIRECTORY, EVIDENCE_DIR, FILE, FLAGS_DIR, POLICY_FILE, RESOURCES_FILE, SYMLINK, Entry, Tree

RULE = "layout"
ATTRIBUTES = ".gitattributes"
_FORBIDDEN = ("filter", "working-tree-encoding", "ident", "eol")
MAX_CHECKED_LINES = 256  # lines of one attributes file that set one of them, matched against every protected path
_PROTECTED = (FLAGS_DIR, EVIDENCE_DIR, POLICY_FILE, RESOURCES_FILE)
# Paths a pattern is tried on besides the files present, so that a rule for
# files that do not exist yet is caught too.
_PROBES = (f"{FLAGS_DIR}/x.yaml", f"{EVIDENCE_DIR}/x/y.json", POLICY_FILE, RESOURCES_FILE)


def check(tree: Tree) -> list[Finding]:
    findings: list[Finding] = []
    for path in _PROTECTED:
        if tree.kind(path) == SYMLINK:
            findings.append(
                Finding(
                    path,
                    1,
                    1,
                    RULE,
                    f"{path} is a symlink: the working tree follows it, git does not; replace it with the real {'directory' if '.' not in path else 'file'}",
                )
            )
    evidence = tree.entries_under(EVIDENCE_DIR) if tree.kind(EVIDENCE_DIR) == DIRECTORY else []
    flags = tree.flag_entries()
    findings.extend(_case_collisions(tree, [*flags, *evidence]))
    attribute_files = [ATTRIBUTES, f"{FLAGS_DIR}/{ATTRIBUTES}"]
    for entry in evidence:
        if entry.kind == SYMLINK:
            findings.append(
                Finding(
                    entry.path, 1, 1, RULE, f"{entry.path} is a symlink: evidence files are regular files; replace it with the file itself"
                )
            )
        elif entry.kind not in (FILE, DIRECTORY):
            findings.append(Finding(entry.path, 1, 1, RULE, f"{entry.path} is not a regular file (a submodule or special file); remove it"))
        elif entry.path.endswith(f"/{ATTRIBUTES}"):
            attribute_files.append(entry.path)
    present = (e.path for e in evidence if e.kind == FILE)
    protected = [_as_bytes(p) for p in (*_PROBES, *(e.path for e in flags), *present)]
    # Git reads attributes files and matches paths as bytes: both are held here as latin-1 text, one
    # character per byte, so that "?" and a [class] take one byte as git's do.
    sources: list[tuple[str, str, str]] = []  # (path shown, text, directory its patterns are relative to)
    for path in attribute_files:
        raw = tree.read(path)
        if raw is not None:
            sources.append((path, raw.decode("latin-1"), _as_bytes(path[: -len(ATTRIBUTES)])))
    local = getattr(tree, "local_attributes", None)
    if local is not None:
        raw = local()
        if raw is not None:
            sources.append((".git/info/attributes", raw.decode("latin-1"), ""))
    macros = _macros(text for _, text, _ in sources)
    for path, text, directory in sources:
        findings.extend(_attributes(path, text, directory, protected, macros))
    return findings


def _as_bytes(path: str) -> str:
    """A path as git matches it: its bytes, one latin-1 character each."""
    return path.encode("utf-8", "surrogateescape").decode("latin-1")


def _shown(text: str) -> str:
    return text.encode("latin-1").decode("utf-8", "replace")


_BLANK = " \t\r\n"  # git's attr.c: the only characters that separate fields
_FIELDS = re.compile(r"[ \t\r\n]+")
_BOM = "\xef\xbb\xbf"  # as latin-1 text
_MACRO = "[attr]"


def _case_collisions(tree: Tree, entries: list[Entry]) -> list[Finding]:
    """Names that a case-insensitive checkout (macOS, Windows: git's ``core.ignorecase``) makes one.

    There ``Flags/`` is ``flags/``, ``.GITATTRIBUTES`` is read as ``.gitattributes`` and of
    ``evidence/f/RR-1.json`` and ``evidence/f/rr-1.json`` one overwrites the other: a clone would
    hold files, or apply attributes, that the check of the commit never saw."""
    top = getattr(tree, "top_names", None)
    names = top() if top is not None else []
    findings = []
    for name in names:
        meant = folded_name(name)
        if meant in (FLAGS_DIR, EVIDENCE_DIR, POLICY_FILE, RESOURCES_FILE, ATTRIBUTES) and name != meant:
            findings.append(Finding(name, 1, 1, RULE, _collision(name, meant)))
    paths = [e.path for e in entries]
    seen: dict[str, str] = {}
    for path in paths:
        folded = folded_name(path)
        if folded in seen and seen[folded] != path:
            findings.append(Finding(path, 1, 1, RULE, _collision(path, seen[folded])))
        elif folded.rsplit("/", 1)[-1] == ATTRIBUTES and not path.endswith(f"/{ATTRIBUTES}"):
            findings.append(Finding(path, 1, 1, RULE, _collision(path, f"{path.rsplit('/', 1)[0]}/{ATTRIBUTES}")))
        seen.setdefault(folded, path)
    return findings


def folded_name(name: str) -> str:
    """A name as a case-insensitive file system compares it: composed (macOS stores "é" decomposed),
    upper-cased as NTFS and APFS do (so "ſ" is "s" and "ı" is "i"), then lower-cased to compare."""
    return unicodedata.normalize("NFC", name).upper().lower()


def _collision(name: str, other: str) -> str:
    return (
        f"{_shown(_as_bytes(name))} differs from {_shown(_as_bytes(other))} only in case: on a case-insensitive checkout "
        "(macOS, Windows) the two are one, so a clone would hold what the check never saw; rename or remove it"
    )


def _lines(text: str) -> list[tuple[int, str, str, list[str]]]:
    """(number, line, pattern, attributes) of every rule line, as git's attr.c reads them.

    Lines end at a line feed only and fields are separated by spaces, tabs and carriage returns
    only: Python's own splitting also breaks at form feeds, U+0085, U+00A0 and more, which would
    read ``flags/[<form feed>a-z]*.yaml filter=x`` as two harmless lines."""
    found = []
    if text.startswith(_BOM):  # git skips a UTF-8 byte order mark, so the first pattern starts after it
        text = text[len(_BOM) :]
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip(_BLANK)
        if stripped and not stripped.startswith("#"):
            pattern, attrs = _split(stripped)
            found.append((number, line, pattern, attrs))
    return found


def _macros(texts: Iterable[str]) -> dict[str, list[str]]:
    """Macros that set a forbidden attribute, however deep, wherever and in whatever order they are defined.

    Git reads macro definitions before it applies any line, so a macro used
    above its definition, or defined in the root file and used in a nested
    one, is just as effective; so is one defined through another macro.  A
    name defined twice is taken with both definitions' attributes.  Found by
    one pass backwards from the forbidden attributes (a chain of ten thousand
    macros is as quick as one).
    """
    defined: dict[str, list[str]] = {}
    for text in texts:
        for _, _, pattern, attrs in _lines(text):
            name = _macro_name(pattern)
            if name is not None:
                defined.setdefault(name, []).extend(attrs)
    used_by: dict[str, list[str]] = {}  # an attribute or macro name -> the macros that set it
    for name, attrs in defined.items():
        for attribute in attrs:
            if not attribute.startswith(("-", "!")):
                used_by.setdefault(attribute.split("=", 1)[0], []).append(name)
    bad: dict[str, list[str]] = {}
    waiting = [name for forbidden in _FORBIDDEN for name in used_by.get(forbidden, [])]
    while waiting:
        name = waiting.pop()
        if name not in bad:
            bad[name] = []
            waiting.extend(used_by.get(name, []))
    for name in bad:
        bad[name] = [a for a in defined[name] if _sets_forbidden(a, bad)]
    return bad


def _macro_name(pattern: str) -> str | None:
    """The name a ``[attr]`` line defines, as git's attr.c takes it: after the prefix and any
    blanks, up to the next blank (a quoted pattern can hold blanks); None for any other line."""
    if not pattern.startswith(_MACRO) or len(pattern) == len(_MACRO):
        return None
    rest = pattern[len(_MACRO) :].lstrip(_BLANK)
    return _FIELDS.split(rest, maxsplit=1)[0]


def _attributes(path: str, text: str, directory: str, protected: list[str], macros: dict[str, list[str]]) -> list[Finding]:
    """Findings for the lines of one attributes file that rewrite protected files."""
    findings = []
    checked = 0
    for number, line, pattern, attrs in _lines(text):
        if _macro_name(pattern) is not None:
            continue
        bad = [a for a in attrs if _sets_forbidden(a, macros)]
        if not bad:
            continue
        column = len(_shown(line)) - len(_shown(line.lstrip(_BLANK))) + 1
        checked += 1
        if checked > MAX_CHECKED_LINES:
            # Each such line is matched against every protected path (thousands of runs, after years):
            # a file of many thousands of them would hold the check for minutes.
            message = (
                f"more than {MAX_CHECKED_LINES} lines of {path} set {', '.join(sorted(_FORBIDDEN))} or a macro: flaggate "
                "checks at most that many against the flag and evidence files; merge the patterns"
            )
            findings.append(Finding(path, number, column, RULE, message))
            break
        # Two hits are all the message needs.  A line for a flag or run that does not exist yet
        # would rewrite it the day it is added: refused now, from the pattern's own shape.
        hits = list(islice((p for p in protected if p.startswith(directory) and _matches(pattern, p[len(directory) :])), 2))
        if hits:
            on = f"{_shown(hits[0])}{' and more' if len(hits) > 1 else ''}"
        elif _could_reach(pattern, directory):
            on = "flag or run files a later change could add (its beginning and end fit theirs)"
        else:
            continue
        message = (
            f"{_shown(pattern)} sets {', '.join(_shown(b) for b in bad)} on {on}: the working tree would hold "
            "other bytes than the commit, so two readers could disagree; remove it (plain text=auto is fine)"
        )
        findings.append(Finding(path, number, column, RULE, message))
    return findings


_ROOTS = (f"{FLAGS_DIR}/", f"{EVIDENCE_DIR}/", POLICY_FILE, RESOURCES_FILE)
_ENDS = (".yaml", ".json", ".json.sig")  # a flag, a run, a run's signature (policy.yaml and resources.yaml too)


def _could_reach(pattern: str, directory: str) -> bool:
    """Could the pattern match a protected file that does not exist yet?  Decided from its literal
    beginning (up to the first wildcard or bracket) and end (after the last), in either case: a
    pattern whose beginning fits flags/, evidence/ or the two files, and whose end fits .yaml,
    .json or .json.sig, could; ``docs/*.json`` or ``*.png`` could not.  Matching more only adds a
    finding for a line that touches no file yet."""
    anchored = "/" in pattern.rstrip("/")
    pieces = _tokens(pattern.lstrip("/") if anchored else pattern, True)
    literal = [next(iter(p)) if isinstance(p, frozenset) else None for p in pieces]
    if None not in literal:  # no wildcard: the path itself
        whole = "".join(c for c in literal if c is not None)
        return _protected_shape((directory.translate(_LOWER) + whole) if anchored else f"{FLAGS_DIR}/{whole}") or (
            not anchored and whole.endswith(_ENDS)
        )
    first, last = literal.index(None), len(literal) - literal[::-1].index(None)
    head = directory.translate(_LOWER) + "".join(c for c in literal[:first] if c is not None) if anchored else ""
    tail = "".join(c for c in literal[last:] if c is not None)
    head_fits = not anchored or any(root.startswith(head) or head.startswith(root) for root in _ROOTS)
    return head_fits and any(tail.endswith(end) or end.endswith(tail) for end in _ENDS)


def _protected_shape(path: str) -> bool:
    if path in (POLICY_FILE, RESOURCES_FILE):
        return True
    parts = path.split("/")
    if parts[0] == FLAGS_DIR:
        return len(parts) == 2 and parts[1].endswith(".yaml") and len(parts[1]) > len(".yaml")
    # A run and its signature: evidence/<flag>/<run id>.json and .json.sig (a "*.png" line is no concern).
    return parts[0] == EVIDENCE_DIR and len(parts) == 3 and all(parts) and parts[2].endswith((".json", ".json.sig"))


def _split(line: str) -> tuple[str, list[str]]:
    """The pattern and the attributes of one line (stripped of blanks).

    A pattern in double quotes is unquoted as git's unquote_c_style does (octal escapes included);
    one git cannot unquote is, as in git, read up to the first blank."""
    if line.startswith('"'):
        unquoted = _unquote(line)
        if unquoted is not None:
            pattern, rest = unquoted
            # Git keeps the unquoted pattern as a C string: it ends at an escaped NUL ("\\000").
            return pattern.split("\0", 1)[0], [a for a in _FIELDS.split(rest) if a]
    pattern, *attrs = _FIELDS.split(line)
    return pattern, [a for a in attrs if a]


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"'}


def _unquote(line: str) -> tuple[str, str] | None:
    """(pattern, the rest of the line) of a C-quoted pattern, or None where git's unquote_c_style fails."""
    out: list[str] = []
    i = 1
    while i < len(line):
        c = line[i]
        if c == '"':
            return "".join(out), line[i + 1 :]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        code = line[i + 1 : i + 2]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        elif code in ("0", "1", "2", "3") and len(line) > i + 3 and all(d in "01234567" for d in line[i + 2 : i + 4]):
            out.append(chr(int(line[i + 1 : i + 4], 8)))
            i += 4
        else:
            return None
    return None


def _sets_forbidden(attribute: str, macros: dict[str, list[str]]) -> bool:
    if attribute.startswith(("-", "!")):
        return False
    if attribute == "eol=lf":  # a checkout writes the blob's own line ends: the bytes stay the commit's
        return False
    name = attribute.split("=", 1)[0]
    return name in _FORBIDDEN or name in macros


def _matches(pattern: str, path: str) -> bool:
    """gitattributes pattern matching, as gitignore's without negation or directory-only patterns:
    as a clone matches with core.ignorecase off (Linux) or on (macOS, Windows)."""
    if pattern.startswith("!"):
        return False
    if "/" not in pattern.rstrip("/"):
        name = path.rsplit("/", 1)[-1]
        return _match(_tokens(pattern, False), name) or _match(_tokens(pattern, True), name.translate(_LOWER))
    pattern = pattern.lstrip("/")
    return _match(_tokens(pattern, False), path) or _match(_tokens(pattern, True), path.translate(_LOWER))


_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)  # git folds ASCII letters only


# A pattern's pieces: one character (a literal, ? or a [class]), or a wildcard.  Matched by
# following every place in the path at once (time: pieces x characters), never by backtracking:
# patterns come from the pull request, and `*a*a*a*a*...Z` against a long name is exponential for a
# backtracking regex.
_STAR = "*"  # [^/]*
_ANY = "**"  # .*
_DIRS = "**/"  # (?:.*/)?
_TAIL = "/**"  # /.* at the end
_ONE = "?"  # [^/]
Piece = str | frozenset[str] | Callable[[str], bool]  # a wildcard, one given character, a [class]


def _class_end(pattern: str, start: int, dead: set[int] | None = None) -> int:
    """Where the bracket expression opened at ``start`` closes (-1: it does not).

    As git's wildmatch: the first member may be "]"; a "\\" escapes the next character; "[:" opens
    a character class that runs to the next "]" and is one when that "]" follows a ":" (the "]" of
    ``[[:alpha:]]`` that ends the class does not end the expression), else the "[" is a member.

    ``dead`` holds the places a scan that found no end went through: a later scan that reaches one
    of them cannot find an end either, so a pattern of two thousand unclosed "[" is scanned once,
    not two thousand times."""
    j = start + 1
    if pattern[j : j + 1] in ("!", "^"):
        j += 1
    first = True
    passed: list[int] = []
    while j < len(pattern):
        c = pattern[j]
        if not first:
            if dead is not None and j in dead:
                break
            if c == "]":
                return j
            passed.append(j)
        first = False
        if c == "\\":
            j += 2
        elif c == "[" and pattern[j + 1 : j + 2] == ":":
            close = pattern.find("]", j + 2)
            if close < 0:
                break
            j = close + 1 if close >= j + 3 and pattern[close - 1] == ":" else j + 1
        else:
            j += 1
    if dead is not None:
        dead.update(passed)
    return -1


def _class(body: str, fold: bool) -> Callable[[str], bool]:
    """One character of a bracket expression, read as git's wildmatch reads it: members, ranges
    a-z (a range's first character matches even when the range is reversed; "-" after a range or a
    class is a member), escapes, a leading ! or ^ negates.

    A character class such as [:alpha:] is taken to match every character: a pattern that matches
    more only adds a finding, one that matches less could let a filter through unseen."""
    negate = body[:1] in ("!", "^")
    k = 1 if negate else 0
    singles: set[str] = set()
    ranges: list[tuple[str, str]] = []
    previous: str | None = None
    while k < len(body):
        c = body[k]
        if c == "\\" and k + 1 < len(body):
            previous = body[k + 1]
            singles.add(previous)
            k += 2
        elif c == "-" and previous is not None and k + 1 < len(body):
            high = body[k + 1]
            k += 2
            if high == "\\" and k < len(body):
                high = body[k]
                k += 1
            ranges.append((previous, high))
            previous = None
        elif c == "[" and body[k + 1 : k + 2] == ":":
            close = body.find("]", k + 2)
            if close >= k + 3 and body[close - 1] == ":":
                return lambda c: True
            singles.add("[")
            previous = "["
            k += 1
        else:
            singles.add(c)
            previous = c
            k += 1

    def member(c: str) -> bool:
        # Folding, git lowers the path's character (done by the caller) and, for ranges only, tries
        # its upper case too: members themselves are compared as written.
        found = c in singles or any(low <= c <= high for low, high in ranges)
        if not found and fold and "a" <= c <= "z":
            found = any(low <= c.upper() <= high for low, high in ranges)
        return found != negate

    return member


@lru_cache(maxsize=512)
def _tokens(pattern: str, fold: bool) -> tuple[Piece, ...]:
    out: list[Piece] = []
    dead: set[int] = set()
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append(_DIRS)
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append(_TAIL)
            i += 3
        elif pattern.startswith("**", i):
            out.append(_ANY)
            i += 2
        elif pattern[i] == "*":
            out.append(_STAR)
            i += 1
        elif pattern[i] == "?":
            out.append(_ONE)
            i += 1
        elif pattern[i] == "[" and (end := _class_end(pattern, i, dead)) > 0:
            out.append(_class(pattern[i + 1 : end], fold))
            i = end + 1
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(frozenset(pattern[i + 1]))
            i += 2
        else:
            out.append(frozenset(pattern[i].translate(_LOWER) if fold else pattern[i]))
            i += 1
    return tuple(out)


@lru_cache(maxsize=65536)
def _masks(text: str) -> tuple[dict[str, int], int, int]:
    """For each character of ``text``, the places it stands at (bit j: text[j]); and the places of
    "/" and of every other character."""
    by_char: dict[str, int] = {}
    for j, c in enumerate(text):
        by_char[c] = by_char.get(c, 0) | 1 << j
    slashes = by_char.get("/", 0)
    return by_char, slashes, ((1 << len(text)) - 1) & ~slashes


def _match(pieces: tuple[Piece, ...], text: str) -> bool:
    """Does ``text`` match the pieces?  Every place in ``text`` the pieces so far can end at, as the
    bits of one integer (bit j: just before text[j]), advanced a piece at a time: no backtracking."""
    by_char, slashes, plain = _masks(text)
    n = len(text)
    everything = (1 << (n + 1)) - 1
    at = 1
    for piece in pieces:
        if isinstance(piece, frozenset):  # one given character
            (char,) = piece
            at = (at & by_char.get(char, 0)) << 1
        elif not isinstance(piece, str):  # one character of a [class]
            stands = 0
            for c, places in by_char.items():
                if piece(c):
                    stands |= places
            at = (at & stands) << 1
        elif piece == _ONE:
            at = (at & plain) << 1
        elif piece == _STAR:
            # From each place, on through the run of characters other than "/" that follows it: adding
            # the place's bit to the run's bits carries through the run to its end.
            at |= ((at & plain) + plain) ^ plain
        elif piece == _ANY:
            at = everything & ~((at & -at) - 1) if at else 0
        elif piece == _DIRS:
            at |= ((slashes & ~((at & -at) - 1)) << 1) if at else 0
        else:  # _TAIL: a "/" at or after a place, then anything
            after_slash = at & slashes
            at = everything & ~(((after_slash & -after_slash) << 1) - 1) if after_slash else 0
        if not at:
            return False
    return bool(at >> n & 1)
