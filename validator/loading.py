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
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

import yaml

from validator.errors import FatalError
from validator.finding import Finding

# One reader: libyaml's C parser, everywhere.  PyYAML's pure-Python parser
# accepts and refuses other inputs (tabs, some indentation, messages), so a
# machine without libyaml would read flag files differently: it cannot decide.
_Parser: Any
try:
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    _Parser = None

RULE = "yaml"

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_NODES = 20_000
MAX_SCALAR = 16 * 1024
MAX_NUMBER_CHARS = 40

_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
# What other YAML readers read as a number: the YAML 1.2 core schema (editors' yaml-language-server,
# js-yaml, go-yaml v3, ruamel) and YAML 1.1's (PyYAML, many services: 1_000, 0b101, +0x1f, 1:20,
# as PyYAML's resolver spells them).  Any of it that ``resolve_plain`` keeps as text (1e3, .5,
# 017, 0x1f, .inf) would mean a number to them and text to flaggate, so it is refused ("quote it").
_CORE_NUMBER = re.compile(
    r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
    r"|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
    r"|[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*"
    # ruamel's YAML 1.2 resolver, which also takes underscores: +_1, ._5, 1_0e5, 1_0.5e5, 0o_7
    r"|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
    r"|\.[0-9_]+(?:[eE][-+][0-9]+)?)\Z"
)
_CORE_NUMBER_START = frozenset("0123456789+-._")
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\.[0-9]+\Z")
_TRUE = frozenset(("true", "True", "TRUE"))
_FALSE = frozenset(("false", "False", "FALSE"))
_NULL = frozenset(("", "~", "null", "Null", "NULL"))
_NUMBER_START = frozenset("0123456789+-")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_ODD_LINE_BREAK = re.compile("\r(?!\n)|[\x85\u2028\u2029]")
# Every byte but the ones the checks of ``_decode`` look for (control characters, carriage
# returns, and any non-ASCII byte, which may start U+0085, U+2028 or U+2029): a file that is
# only these bytes passes them all, found with one C pass instead of two regular expressions.
_PLAIN_BYTES = bytes(b for b in range(128) if b == 0x09 or b == 0x0A or 0x20 <= b < 0x7F)
# Plain scalars that ``resolve_plain`` may turn into something else than the string itself.
_PLAIN_WORDS = _NULL | _TRUE | _FALSE

KeyPath = tuple[Any, ...]


class Mark(NamedTuple):
    """Where a node is: 1-based line and column, and its character span."""

    line: int
    column: int
    start: int
    end: int


class Document:
    """A parsed YAML file: its plain data and where every node of it came from.

    Positions are recorded on demand: the clean files of a large repository
    never pay for them; the first finding or edit re-reads the text with
    positions (the same parse, so the same result).
    """

    def __init__(self, path: str, text: str, data: Any) -> None:
        self.path = path
        self.text = text
        self.data = data
        self._marks: dict[KeyPath, Mark] | None = None
        self._key_marks: dict[KeyPath, Mark] = {}

    @property
    def marks(self) -> dict[KeyPath, Mark]:
        if self._marks is None:
            self._marks = {}
            _build(self.path, self.text, self._marks, self._key_marks)
        return self._marks

    @property
    def key_marks(self) -> dict[KeyPath, Mark]:
        self.marks  # noqa: B018 - fills both
        return self._key_marks

    def where(self, path: KeyPath, *, key: bool = False) -> tuple[int, int]:
        """Line and column of the node at ``path``.

        With ``key=True`` the key's own position (for an unknown key).  A path
        that does not exist (a missing key) falls back to its nearest existing
        ancestor, which is the mapping the key is missing from.
        """
        path = tuple(path)
        marks = self.marks
        if key and path in self._key_marks:
            key_mark = self._key_marks[path]
            return key_mark.line, key_mark.column
        while path not in marks and path:
            path = path[:-1]
        mark = marks.get(path)
        if mark is None:
            return 1, 1
        return mark.line, mark.column


class _Stop(Exception):
    """Parsing cannot usefully go on (an anchor, a bound exceeded)."""


def _other_number_message(value: str) -> str:
    return (
        f"{value} is a number to other YAML readers (YAML 1.2 and 1.1: editors, services in other languages) but not one flaggate reads: "
        f'quote it ("{value}") if it is text, or write the number with plain digits (a decimal point, no exponent)'
    )


def other_number(value: str) -> bool:
    """Is this plain scalar a number to another YAML reader (1.2 or 1.1), but text to ``resolve_plain``?"""
    return value[:1] in _CORE_NUMBER_START and _CORE_NUMBER.match(value) is not None and type(resolve_plain(value)) is str


def resolve_plain(value: str) -> Any:
    """The type of a plain (unquoted) scalar: the small YAML 1.2 core set only."""
    if value in _NULL:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if value[0] in _NUMBER_START and len(value) <= MAX_NUMBER_CHARS:
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
    if not raw.translate(None, _PLAIN_BYTES):
        return text, []  # ASCII without control characters or carriage returns: nothing below can match
    control = _CONTROL.search(text)
    if control:
        line, column = _position(text, control.start())
        code = f"U+{ord(control.group()):04X}"
        return None, finding(line, column, f"control character {code} is not allowed")
    # libyaml also breaks lines at these; editors and every position here
    # count "\n" only, so a finding after one would point at the wrong line.
    odd_break = _ODD_LINE_BREAK.search(text)
    if odd_break:
        line, column = _position(text, odd_break.start())
        code = "a carriage return without a line feed" if odd_break.group() == "\r" else f"line separator U+{ord(odd_break.group()):04X}"
        return None, finding(line, column, f"{code} is not allowed; end lines with \\n (or \\r\\n)")
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
    # At the end of the stream libyaml points one line past a file without a
    # final newline: the place to show is the end of the last line.
    lines = text.split("\n")
    if line > len(lines):
        line, column = len(lines), len(lines[-1]) + 1
    column = min(column, len(lines[line - 1]) + 1)
    return Finding(path, line, column, RULE, message)


def load(path: str, raw: bytes) -> tuple[Document | None, list[Finding]]:
    """Parse one YAML file whose top level must be a mapping.

    Returns the document, or None when it cannot be trusted, and the findings.
    Never raises for any input.
    """
    text, findings = _decode(path, raw)
    if text is None:
        return None, findings
    data = _clean(text)
    if data is not None:
        return Document(path, text, data), []
    try:
        return _build(path, text)
    except yaml.MarkedYAMLError as exc:
        return None, [_yaml_error(path, text, exc)]
    except (yaml.YAMLError, ValueError, RecursionError, MemoryError, TypeError) as exc:
        return None, [Finding(path, 1, 1, RULE, f"unreadable YAML: {exc}")]


def _clean(text: str) -> dict[str, Any] | None:
    """The data of a file with nothing to report, built from the same events as ``_build``; None otherwise.

    Most files read (every version of every flag in a long history) have no
    finding, and this is ``_build`` without what only a finding needs: no
    positions, no line of each key, no messages.  At the first event ``_build``
    would report on (or when libyaml raises) it gives up and returns None,
    and ``_build`` reads the file again from the start: whatever it finds is
    then exactly what it always found, and a file this returns data for is
    one where ``_build`` finds nothing and builds the same data.
    """
    if _Parser is None:
        return None
    parser = _Parser(text)
    get_event: Callable[[], Any] = parser.get_event
    ScalarEvent = yaml.ScalarEvent
    MappingStartEvent = yaml.MappingStartEvent
    SequenceStartEvent = yaml.SequenceStartEvent
    MappingEndEvent = yaml.MappingEndEvent
    SequenceEndEvent = yaml.SequenceEndEvent
    DocumentStartEvent = yaml.DocumentStartEvent
    StreamEndEvent = yaml.StreamEndEvent
    words, number_start, resolve, intern = _PLAIN_WORDS, _NUMBER_START, resolve_plain, sys.intern
    core_start = _CORE_NUMBER_START
    stack: list[tuple[Any, Any]] = []  # the enclosing containers, each with its pending key
    container: Any = None  # the innermost open mapping or sequence
    in_mapping = False
    key: Any = _NOKEY  # the pending key of ``container`` (a mapping)
    root: Any = None
    nodes = 0
    documents = 0
    try:
        while True:
            event = get_event()
            kind = type(event)
            if kind is ScalarEvent:
                nodes += 1
                if event.anchor is not None or event.tag is not None or container is None or nodes > MAX_NODES:
                    return None
                value = event.value
                style = event.style
                if in_mapping and key is _NOKEY:
                    if style == "":
                        if not value or value == "<<":
                            return None
                        if value in words or value[0] in number_start:
                            if type(resolve(value)) is not str:
                                return None
                        if value[0] in core_start and other_number(value):
                            return None
                    if value in container:
                        return None
                    key = intern(value)  # the same few keys in every file: held once however many files are kept
                    continue
                if len(value) > MAX_SCALAR:
                    return None
                if style == "":
                    if not value:
                        node: Any = None
                    elif value[0] in number_start:
                        if len(value) > MAX_NUMBER_CHARS:
                            return None  # ``_build`` reports a long number; a long string is rare enough to read again
                        node = resolve(value)
                    elif value in words:
                        node = resolve(value)
                    else:
                        node = intern(value) if len(value) <= 64 else value  # states, names, ids: repeated
                    if value and value[0] in core_start and type(node) is str and other_number(value):
                        return None  # ``_build`` says to quote it
                elif style == '"' and _LONE_SURROGATE.search(value):
                    return None
                else:
                    node = value
                if in_mapping:
                    container[key] = node
                    key = _NOKEY
                else:
                    container.append(node)
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                if not stack:
                    return None
                container, key = stack.pop()
                in_mapping = type(container) is dict
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                nodes += 1
                if event.anchor is not None or event.tag is not None or len(stack) >= MAX_DEPTH or nodes > MAX_NODES:
                    return None
                node = {} if kind is MappingStartEvent else []
                if container is None:
                    if root is not None or kind is not MappingStartEvent:
                        return None
                    root = node
                elif in_mapping:
                    if key is _NOKEY:
                        return None  # a collection as a key
                    container[key] = node
                    key = _NOKEY
                else:
                    container.append(node)
                stack.append((container, key))
                container, key, in_mapping = node, _NOKEY, kind is MappingStartEvent
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    return None
            elif kind is StreamEndEvent:
                break
            elif kind is not yaml.StreamStartEvent and kind is not yaml.DocumentEndEvent:
                return None  # an alias, or an event this does not know
    except Exception:  # noqa: BLE001 - ``_build`` reads the file again and reports it
        return None
    finally:
        dispose = getattr(parser, "dispose", None)
        if dispose is not None:
            dispose()
    if root is None or documents != 1 or stack or container is not None:
        return None
    return root  # type: ignore[no-any-return]


def _build(
    path: str, text: str, marks: dict[KeyPath, Mark] | None = None, key_marks: dict[KeyPath, Mark] | None = None
) -> tuple[Document | None, list[Finding]]:
    """Build the data from libyaml's events; with ``marks``, also record every position."""
    findings: list[Finding] = []
    track = marks is not None

    def problem(mark: Any, message: str) -> None:
        findings.append(Finding(path, mark.line + 1, mark.column + 1, RULE, message))

    if _Parser is None:
        raise FatalError(
            "PyYAML was built without libyaml, the one YAML reader flaggate trusts (every machine must read flag files "
            "the same way); install a PyYAML wheel with libyaml (pip install --force-reinstall pyyaml)"
        )
    parser = _Parser(text)
    # Events are read by their kind below; the stubs' Optional return adds nothing to that.
    get_event: Callable[[], Any] = parser.get_event
    ScalarEvent = yaml.ScalarEvent
    MappingStartEvent = yaml.MappingStartEvent
    SequenceStartEvent = yaml.SequenceStartEvent
    MappingEndEvent = yaml.MappingEndEvent
    SequenceEndEvent = yaml.SequenceEndEvent
    AliasEvent = yaml.AliasEvent
    DocumentStartEvent = yaml.DocumentStartEvent
    StreamEndEvent = yaml.StreamEndEvent
    resolve = resolve_plain

    # A frame is [container, path (when tracking), pending key or _NOKEY, first line of each key].
    stack: list[list[Any]] = []
    root: Any = _NOKEY
    nodes = 0
    documents = 0
    try:
        while True:
            event = get_event()
            kind = type(event)
            if kind is ScalarEvent:
                pass
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                frame = stack.pop()
                if track:
                    old = marks[frame[1]]  # type: ignore[index]
                    marks[frame[1]] = Mark(old.line, old.column, old.start, event.end_mark.index)  # type: ignore[index]
                continue
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                pass
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    problem(event.start_mark, "a second YAML document starts here; a file holds exactly one")
                    raise _Stop
                continue
            elif kind is StreamEndEvent:
                break
            elif kind is AliasEvent:
                problem(event.start_mark, f"alias *{event.anchor} is not allowed: write the value out")
                raise _Stop
            else:
                continue  # stream start, document end
            nodes += 1
            if nodes > MAX_NODES:
                problem(event.start_mark, f"more than {MAX_NODES} nodes in one file")
                raise _Stop
            if event.anchor is not None:
                problem(event.start_mark, f"anchor &{event.anchor} is not allowed: anchors and aliases are rejected")
                raise _Stop
            if event.tag is not None:
                problem(event.start_mark, f"explicit tag {event.tag} is not allowed")
            node_path: Any = None
            if stack:
                frame = stack[-1]
                container = frame[0]
                if type(container) is dict:
                    if frame[2] is _NOKEY:
                        # This node is a key.
                        if kind is not ScalarEvent:
                            problem(event.start_mark, "a mapping key must be a plain string, not a collection")
                            raise _Stop
                        value = event.value
                        plain = event.style == ""
                        # An empty plain key is null, exactly like ``~``: both are refused.
                        key: Any = (resolve(value) if value else None) if plain else value
                        if plain and value == "<<":
                            problem(event.start_mark, "merge keys (<<) are not allowed: write the keys out")
                        elif plain and not value:
                            problem(event.start_mark, "empty key (null) is not a string; write the key's name")
                            key = value
                        elif type(key) is not str:
                            shown = "null" if key is None else value
                            problem(event.start_mark, f"key {shown!r} is not a string; quote it")
                            key = value
                        elif plain and other_number(value):
                            problem(event.start_mark, f"key {_other_number_message(value)}")
                        seen = frame[3]
                        if key in seen:
                            line = event.start_mark.line + 1
                            problem(event.start_mark, f"duplicate key {key!r}: first defined on line {seen[key]}, again on line {line}")
                            frame[2] = _Duplicate(key)
                            continue
                        seen[key] = event.start_mark.line + 1
                        # The same few keys in every flag: held once (about 1.3 KB per flag loaded).
                        frame[2] = key = sys.intern(key)
                        if track:
                            start = event.start_mark
                            key_marks[frame[1] + (key,)] = Mark(start.line + 1, start.column + 1, start.index, event.end_mark.index)  # type: ignore[index]
                        continue
                    if track:
                        node_path = frame[1] + (frame[2],)
                elif track:
                    node_path = frame[1] + (len(container),)
            elif track:
                node_path = ()
            if kind is ScalarEvent:
                value = event.value
                if event.style == '"' and _LONE_SURROGATE.search(value):
                    # libyaml refuses \ud800 escapes; the pure-Python parser does not.
                    problem(event.start_mark, "string holds a lone surrogate, which is not a Unicode character")
                    value = ""
                if len(value) > MAX_SCALAR:
                    problem(event.start_mark, f"value is {len(value)} characters long, over the {MAX_SCALAR} bound")
                    value = ""
                if event.style == "" and event.tag is None and value:
                    if len(value) > MAX_NUMBER_CHARS and value[0] in _NUMBER_START and (_INT.match(value) or _DECIMAL.match(value)):
                        problem(event.start_mark, f"number with {len(value)} digits is too long")
                    elif other_number(value):
                        problem(event.start_mark, _other_number_message(value))
                    node: Any = resolve(value)
                elif event.style == "" and event.tag is None:
                    node = None
                else:
                    node = value
                if track:
                    start = event.start_mark
                    marks[node_path] = Mark(start.line + 1, start.column + 1, start.index, event.end_mark.index)  # type: ignore[index]
            else:
                if len(stack) >= MAX_DEPTH:
                    problem(event.start_mark, f"nesting deeper than {MAX_DEPTH} levels")
                    raise _Stop
                node = {} if kind is MappingStartEvent else []
                if track:
                    start = event.start_mark
                    marks[node_path] = Mark(start.line + 1, start.column + 1, start.index, start.index)  # type: ignore[index]
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
        line, column = _first_content(text)
        findings.append(Finding(path, line, column, RULE, f"top level is {kind_name}; it must be a mapping of keys"))
        return None, findings
    if findings:
        return None, findings
    return Document(path, text, root), findings


def _first_content(text: str) -> tuple[int, int]:
    """Where the first line that is not blank or a comment starts."""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if stripped and not stripped.startswith("#"):
            return number, len(line) - len(stripped) + 1
    return 1, 1


class _NoKey:
    def __repr__(self) -> str:
        return "<no key>"


_NOKEY: Any = _NoKey()


class _Duplicate(str):
    """The second occurrence of a key: positioned, but never stored."""
