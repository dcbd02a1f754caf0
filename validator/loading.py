"""The strict YAML loader: the only place flag-repository YAML is read.

PyYAML's ``safe_load`` reads ``state: off`` as ``False``, keeps the last of two
duplicate keys, expands alias bombs and raises exceptions that are not
``YAMLError``.  This loader drives libyaml's event parser directly and builds
plain Python values itself, so that:

* plain scalars become ``true``/``false`` (bool), integers (int), decimals
  (``Decimal``, never float) or null; everything else (``off``, ``on``, ``yes``,
  ``017``, ``1:20``, ``2024-01-02``) stays the string it looks like;
* anchors, aliases, merge keys and explicit tags are findings, and nothing is
  ever constructed from a tag;
* duplicate keys, non-string keys, several documents, a top level that is not
  a mapping, and files over the size, depth, node-count and scalar-length
  bounds are findings;
* every node keeps its line and column, so any later rule can point at the
  line a person has to change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml

try:  # libyaml's C parser is ~9x faster; the pure-Python one is the fallback.
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    _Parser = None

from validator.finding import Finding

RULE = "yaml"

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_NODES = 20_000
MAX_SCALAR = 16 * 1024
MAX_NUMBER_CHARS = 40

_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\.[0-9]+\Z")
_TRUE = frozenset(("true", "True", "TRUE"))
_FALSE = frozenset(("false", "False", "FALSE"))
_NULL = frozenset(("", "~", "null", "Null", "NULL"))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Path = tuple[Any, ...]


@dataclass(frozen=True)
class Mark:
    """Where a node is: 1-based line and column, and its character span."""

    line: int
    column: int
    start: int
    end: int


@dataclass
class Document:
    """A parsed YAML file: its plain data and where every node of it came from."""

    path: str
    text: str
    data: Any
    marks: dict[Path, Mark] = field(default_factory=dict)
    key_marks: dict[Path, Mark] = field(default_factory=dict)

    def where(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Line and column of the node at ``path``.

        With ``key=True`` the key's own position (for an unknown key).  A path
        that does not exist (a missing key) falls back to its nearest existing
        ancestor, which is the mapping the key is missing from.
        """
        path = tuple(path)
        if key and path in self.key_marks:
            mark = self.key_marks[path]
            return mark.line, mark.column
        while path not in self.marks and path:
            path = path[:-1]
        mark = self.marks.get(path)
        if mark is None:
            return 1, 1
        return mark.line, mark.column


class _Stop(Exception):
    """Parsing cannot usefully go on (an anchor, a bound exceeded)."""


def resolve_plain(value: str) -> Any:
    """The type of a plain (unquoted) scalar: the small YAML 1.2 core set only."""
    if value in _NULL:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if len(value) <= MAX_NUMBER_CHARS:
        if _INT.match(value):
            return int(value)
        if _DECIMAL.match(value):
            return Decimal(value)
    return value


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _decode(path: str, raw: bytes) -> tuple[str | None, list[Finding]]:
    def finding(line: int, column: int, message: str) -> list[Finding]:
        return [Finding(path, line, column, RULE, message)]

    if len(raw) > MAX_BYTES:
        return None, finding(1, 1, f"file is {len(raw)} bytes, over the {MAX_BYTES}-byte bound")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return None, finding(1, 1, "file is UTF-16 or UTF-32 (byte order mark); save it as UTF-8")
    if raw.startswith(b"\xef\xbb\xbf"):
        return None, finding(1, 1, "file starts with a UTF-8 byte order mark; save it as UTF-8 without BOM")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        column = len(raw[raw.rfind(b"\n", 0, nul) + 1 : nul].decode("utf-8", "replace")) + 1
        hint = " (is it UTF-16?)" if raw.count(b"\x00") * 4 > len(raw) else ""
        return None, finding(line, column, f"NUL byte in file{hint}; save it as UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        byte = raw[exc.start : exc.start + 1].hex()
        return None, finding(line, column, f"invalid UTF-8 (byte 0x{byte}); save the file as UTF-8")
    control = _CONTROL.search(text)
    if control:
        line, column = _position(text, control.start())
        code = f"U+{ord(control.group()):04X}"
        return None, finding(line, column, f"control character {code} is not allowed")
    return text, []


def _yaml_error(path: str, text: str, exc: yaml.MarkedYAMLError) -> Finding:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    context = exc.context
    if context and exc.context_mark is not None and "end of stream" in problem:
        # An unterminated quote: the useful place is where it was opened.
        mark = exc.context_mark
        message = f"{context}: {problem} (never closed)"
    elif context:
        message = f"{problem} ({context})"
    else:
        message = problem
    if mark is not None and text[mark.index : mark.index + 1] == "\t":
        message += ": a tab; indent with spaces"
    line = mark.line + 1 if mark is not None else 1
    column = mark.column + 1 if mark is not None else 1
    return Finding(path, line, column, RULE, message)


def load(path: str, raw: bytes) -> tuple[Document | None, list[Finding]]:
    """Parse one YAML file whose top level must be a mapping.

    Returns the document, or None when it cannot be trusted, and the findings.
    Never raises for any input.
    """
    text, findings = _decode(path, raw)
    if text is None:
        return None, findings
    try:
        return _build(path, text)
    except yaml.MarkedYAMLError as exc:
        return None, [_yaml_error(path, text, exc)]
    except (yaml.YAMLError, ValueError, RecursionError, MemoryError, TypeError) as exc:
        return None, [Finding(path, 1, 1, RULE, f"unreadable YAML: {exc}")]


def _build(path: str, text: str) -> tuple[Document | None, list[Finding]]:
    findings: list[Finding] = []
    marks: dict[Path, Mark] = {}
    key_marks: dict[Path, Mark] = {}

    def problem(mark: Any, message: str) -> None:
        findings.append(Finding(path, mark.line + 1, mark.column + 1, RULE, message))

    parser = _Parser(text) if _Parser is not None else yaml.parser.Parser(yaml.reader.Reader(text))
    get_event = parser.get_event
    ScalarEvent = yaml.ScalarEvent
    MappingStartEvent = yaml.MappingStartEvent
    SequenceStartEvent = yaml.SequenceStartEvent
    MappingEndEvent = yaml.MappingEndEvent
    SequenceEndEvent = yaml.SequenceEndEvent
    AliasEvent = yaml.AliasEvent
    DocumentStartEvent = yaml.DocumentStartEvent
    StreamEndEvent = yaml.StreamEndEvent

    # A frame is [container, path, pending key or _NOKEY, first line of each key].
    stack: list[list[Any]] = []
    root: Any = _NOKEY
    nodes = 0
    documents = 0
    try:
        while True:
            event = get_event()
            kind = type(event)
            if kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    problem(event.start_mark, "a second YAML document starts here; a file holds exactly one")
                    raise _Stop
                continue
            if kind is StreamEndEvent:
                break
            if kind is MappingEndEvent or kind is SequenceEndEvent:
                frame = stack.pop()
                old = marks[frame[1]]
                marks[frame[1]] = Mark(old.line, old.column, old.start, event.end_mark.index)
                continue
            if kind is AliasEvent:
                problem(event.start_mark, f"alias *{event.anchor} is not allowed: write the value out")
                raise _Stop
            if kind is not ScalarEvent and kind is not MappingStartEvent and kind is not SequenceStartEvent:
                continue  # stream start, document end
            nodes += 1
            if nodes > MAX_NODES:
                problem(event.start_mark, f"more than {MAX_NODES} nodes in one file")
                raise _Stop
            start = event.start_mark
            if event.anchor is not None:
                problem(start, f"anchor &{event.anchor} is not allowed: anchors and aliases are rejected")
                raise _Stop
            if event.tag is not None:
                problem(start, f"explicit tag {event.tag} is not allowed")
            # Where does this node go?
            if stack:
                frame = stack[-1]
                container = frame[0]
                if type(container) is dict and frame[2] is _NOKEY:
                    # This node is a key.
                    if kind is not ScalarEvent:
                        problem(start, "a mapping key must be a plain string, not a collection")
                        raise _Stop
                    value = event.value
                    key: Any = resolve_plain(value) if event.style == "" else value
                    if event.style == "" and value == "<<":
                        problem(start, "merge keys (<<) are not allowed: write the keys out")
                    elif not isinstance(key, str):
                        shown = "null" if key is None else value
                        problem(start, f"key {shown!r} is not a string; quote it")
                        key = value
                    seen = frame[3]
                    if key in seen:
                        problem(start, f"duplicate key {key!r}: first defined on line {seen[key]}, again on line {start.line + 1}")
                        frame[2] = _Duplicate(key)
                        continue
                    seen[key] = start.line + 1
                    frame[2] = key
                    key_marks[frame[1] + (key,)] = Mark(start.line + 1, start.column + 1, start.index, event.end_mark.index)
                    continue
                if type(container) is dict:
                    node_path = frame[1] + (frame[2],)
                else:
                    node_path = frame[1] + (len(container),)
            else:
                node_path = ()
            if kind is ScalarEvent:
                value = event.value
                if len(value) > MAX_SCALAR:
                    problem(start, f"value is {len(value)} characters long, over the {MAX_SCALAR} bound")
                    value = value[:0]
                if event.style == "" and event.tag is None:
                    if len(value) > MAX_NUMBER_CHARS and (_INT.match(value) or _DECIMAL.match(value)):
                        problem(start, f"number with {len(value)} digits is too long")
                    node: Any = resolve_plain(value)
                else:
                    node = value
                marks[node_path] = Mark(start.line + 1, start.column + 1, start.index, event.end_mark.index)
            else:
                if len(stack) >= MAX_DEPTH:
                    problem(start, f"nesting deeper than {MAX_DEPTH} levels")
                    raise _Stop
                node = {} if kind is MappingStartEvent else []
                marks[node_path] = Mark(start.line + 1, start.column + 1, start.index, start.index)
            if stack:
                frame = stack[-1]
                container = frame[0]
                if type(container) is dict:
                    if type(frame[2]) is not _Duplicate:
                        container[frame[2]] = node
                    frame[2] = _NOKEY
                else:
                    container.append(node)
            else:
                root = node
            if kind is not ScalarEvent:
                stack.append([node, node_path, _NOKEY, {}])
    except _Stop:
        return None, findings
    finally:
        dispose = getattr(parser, "dispose", None)
        if dispose is not None:
            dispose()

    if root is _NOKEY or documents == 0:
        findings.append(Finding(path, 1, 1, RULE, "file is empty (or holds only comments)"))
        return None, findings
    if type(root) is not dict:
        kind_name = "a list" if type(root) is list else "a single value"
        mark = marks[()]
        findings.append(Finding(path, mark.line, mark.column, RULE, f"top level is {kind_name}; it must be a mapping of keys"))
        return None, findings
    if findings:
        return None, findings
    return Document(path, text, root, marks, key_marks), findings


class _NoKey:
    def __repr__(self) -> str:
        return "<no key>"


_NOKEY: Any = _NoKey()


class _Duplicate(str):
    """The second occurrence of a key: positioned, but never stored."""
