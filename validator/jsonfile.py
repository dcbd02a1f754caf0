"""Strict JSON with positions, for evidence files, sample lines and event files.

``json.loads`` keeps the last of two duplicate keys, reads ``1.5`` as a float,
accepts ``NaN``, lone surrogates (``"\\ud800"``) and any nesting depth; none of
that is acceptable for money.  This module accepts exactly RFC 8259 JSON texts
minus deliberate refusals: duplicate keys (naming both lines), ``NaN`` and
``Infinity``, numbers longer than 40 characters, strings that are not
sequences of Unicode scalar values (lone surrogates), nesting deeper than 32
levels and files over the size bound.  Numbers with a fraction or exponent
are read as ``Decimal``.

Speed is linear in the file size for every input, valid or not (a 1 MiB
file is judged in well under a second): the C decoder does the parsing, and
the checks it cannot do (depth, surrogates, number length) are each one
regular-expression pass.  When something is refused, the refusal says what
(the duplicate key of the n-th object to close, a number, a constant) and
one more pass finds where.  Line and column of a value are found on demand:
the containers on its path are scanned member by member, skipping each
member with the C decoder, and line starts are bisected.
"""

from __future__ import annotations

import bisect
import gc
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, DecimalException
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_NUMBER_CHARS = 40

_SPACE = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")
_BRACKET_OR_STRING = re.compile(_STRING.pattern + r"|[\[\]{}]")
_BRACE_OR_STRING = re.compile(_STRING.pattern + r"|[{}]")
# A surrogate can only enter a decoded string through a \u escape: the text
# itself was decoded from UTF-8, which has no surrogates.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_WORD = re.compile(r"[A-Za-z_+-]+")

KeyPath = tuple[Any, ...]


class JSONError(ValueError):
    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message


class _Refused(ValueError):
    pass


class _DuplicateKey(ValueError):
    def __init__(self, key: str, closed: int) -> None:
        super().__init__(key)
        self.key = key
        self.closed = closed  # objects close in text order: this is the n-th '}'


def _constant(name: str) -> Any:
    raise _Refused(name)


def _strict() -> json.JSONDecoder:
    """The C decoder with our hooks: duplicate keys and NaN/Infinity refused, fractions as Decimal."""
    closed = 0

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal closed
        closed += 1
        result = dict(items)
        if len(result) != len(items):
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    raise _DuplicateKey(key, closed)
                seen.add(key)
        return result

    return json.JSONDecoder(object_pairs_hook=pairs, parse_float=_decimal, parse_constant=_constant)


def _decimal(token: str) -> Decimal:
    try:
        return Decimal(token)
    except DecimalException:  # an exponent beyond what any Decimal holds
        raise _Refused("number") from None


def _unreadable_number(token: str) -> bool:
    if len(token) > MAX_NUMBER_CHARS:
        return True
    try:
        Decimal(token)
    except DecimalException:
        return True
    return False


# For skipping over values of a text already known to be valid.
_SKIP = json.JSONDecoder(parse_float=str, parse_int=str)


class _Lines:
    """Line and column (1-based, in characters) of a character offset, by bisection."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None

    def at(self, index: int) -> tuple[int, int]:
        if self._starts is None:
            self._starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        line = bisect.bisect_right(self._starts, index)
        return line, index - self._starts[line - 1] + 1


@dataclass
class JSONDocument:
    text: str
    data: Any
    _lines: _Lines | None = field(default=None, repr=False)
    _members: dict[int, dict[Any, tuple[int, int]]] = field(default_factory=dict, repr=False)

    def where(self, path: KeyPath, *, key: bool = False) -> tuple[int, int]:
        """Line and column of the value at ``path`` (of its key with ``key=True``).

        A path that does not exist falls back to its nearest existing ancestor.
        """
        if self._lines is None:
            self._lines = _Lines(self.text)
        offset = _SPACE.match(self.text, 0).end()  # type: ignore[union-attr]
        key_offset: int | None = None
        for step in path:
            members = self._members_of(offset)
            if step not in members:
                key_offset = None
                break
            key_offset, offset = members[step]
        else:
            if key and key_offset is not None:
                return self._lines.at(key_offset)
        return self._lines.at(offset)

    def _members_of(self, offset: int) -> dict[Any, tuple[int, int]]:
        """The members of the container at ``offset``: key -> (key offset, value offset)."""
        if offset not in self._members:
            self._members[offset] = _scan_members(self.text, offset)
        return self._members[offset]


def _scan_members(text: str, i: int) -> dict[Any, tuple[int, int]]:
    return {name: (key_at, value_at) for name, key_at, value_at in _members(text, i)}


def _members(text: str, i: int) -> Iterator[tuple[Any, int, int]]:
    """(key or index, key offset, value offset) of each member of the container at ``i``, in order."""
    if i >= len(text) or text[i] not in "[{":
        return
    close = "}" if text[i] == "{" else "]"
    is_object = close == "}"
    skip = _SPACE.match
    i = skip(text, i + 1).end()  # type: ignore[union-attr]
    if text.startswith(close, i):
        return
    index = 0
    while True:
        key_at = i
        if is_object:
            name, i = scanstring(text, i + 1, True)
            i = skip(text, i).end() + 1  # type: ignore[union-attr]
            i = skip(text, i).end()  # type: ignore[union-attr]
        else:
            name, index = index, index + 1
        yield name, key_at, i
        _, i = _SKIP.raw_decode(text, i)
        i = skip(text, i).end()  # type: ignore[union-attr]
        if text.startswith(close, i):
            return
        i = skip(text, i + 1).end()  # type: ignore[union-attr]


def _depth_exceeds(text: str, bound: int) -> bool:
    """Does JSON ``text`` nest deeper than ``bound``?  A few C passes, no Python step per value."""
    skeleton = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(bound):
        if not skeleton:
            return False
        skeleton = _INNERMOST.sub("", skeleton)
    return bool(skeleton)


def loads(raw: bytes, *, max_bytes: int = MAX_BYTES) -> JSONDocument:
    """Parse ``raw`` strictly; JSONError carries the line and column of the problem."""
    if len(raw) > max_bytes:
        raise JSONError(1, 1, f"file is {len(raw)} bytes, over the {max_bytes}-byte bound")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise JSONError(1, 1, "file starts with a byte order mark; save it as UTF-8 without BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = len(raw[raw.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode("utf-8", "replace")) + 1
        raise JSONError(line, column, "invalid UTF-8; save the file as UTF-8") from None
    # The decoded data is acyclic: the cyclic collector, triggered again and
    # again by 300,000 small containers, only costs time (half of it here).
    collecting = gc.isenabled()
    gc.disable()
    try:
        data = _strict().decode(text)
    except _DuplicateKey as exc:
        raise _duplicate(text, exc) from None
    except _Refused as exc:
        if str(exc) == "number":
            error = _first(
                text,
                _NUMBER_TOKEN,
                "number {} is out of range: at most 40 characters and an exponent a decimal can hold",
                _unreadable_number,
            )
        else:
            error = _first(text, _CONSTANT, "unexpected {}: expected a JSON value (NaN and Infinity are not JSON)")
        raise error or JSONError(1, 1, str(exc)) from None
    except json.JSONDecodeError as exc:
        raise _syntax(text, exc) from None
    except RecursionError:
        raise _too_deep(text) from None
    except ValueError:  # int() refuses over 4,300 digits before any hook of ours sees the number
        error = _first(text, _NUMBER_TOKEN, f"number {{}} is too long (at most {MAX_NUMBER_CHARS} characters)", _unreadable_number)
        raise error or JSONError(1, 1, "unreadable JSON") from None
    finally:
        if collecting:
            gc.enable()
    # Each check below is one C pass over the text; only a hit pays for finding the place.
    if _depth_exceeds(text, MAX_DEPTH):
        raise _too_deep(text)
    if _LONG_RUN.search(text):
        error = _first(
            text,
            _NUMBER_TOKEN,
            f"number {{}} is too long (at most {MAX_NUMBER_CHARS} characters)",
            lambda token: len(token) > MAX_NUMBER_CHARS,
        )
        if error:
            raise error
    if _SURROGATE_ESCAPE.search(text):
        error = _first(text, _STRING_TOKEN, "", _has_lone_surrogate)
        if error:
            raise JSONError(error.line, error.column, "string holds a lone surrogate (\\ud800-\\udfff), which is not a Unicode character")
    return JSONDocument(text, data)


_CONSTANT = re.compile(r"(NaN|-?Infinity)")
_NUMBER_TOKEN = re.compile(r"(-?[0-9][0-9.eE+-]*)")
_STRING_TOKEN = re.compile(r'("[^"\\]*(?:\\.[^"\\]*)*")')
_LONG_RUN = re.compile(rf"[-+.eE0-9]{{{MAX_NUMBER_CHARS + 1},}}")


def _has_lone_surrogate(token: str) -> bool:
    return bool(_SURROGATE_ESCAPE.search(token)) and bool(_LONE_SURROGATE.search(scanstring(token, 1, True)[0]))


def _first(text: str, token: re.Pattern[str], message: str, test: Any = None) -> JSONError | None:
    """The first ``token`` outside strings (or, for the string token, the first string) that passes ``test``."""
    pattern = re.compile(_STRING.pattern + "|" + token.pattern) if token is not _STRING_TOKEN else token
    for match in pattern.finditer(text):
        found = match.group(1)
        if found is not None and (test is None or test(found)):
            line, column = _Lines(text).at(match.start())
            shown = found if len(found) <= 24 else found[:20] + "..."
            return JSONError(line, column, message.format(repr(shown)))
    return None


def _duplicate(text: str, exc: _DuplicateKey) -> JSONError:
    """Where the second ``exc.key`` is, in the object that closed ``exc.closed``-th."""
    opened: list[int] = []
    closed = 0
    start = 0
    for match in _BRACE_OR_STRING.finditer(text):
        token = match.group()
        if token == "{":
            opened.append(match.start())
        elif token == "}":
            closed += 1
            start = opened.pop()
            if closed == exc.closed:
                break
    lines = _Lines(text)
    first = 0
    for name, key_at, _ in _members(text, start):
        if name == exc.key:
            line, column = lines.at(key_at)
            if first:
                return JSONError(line, column, f"duplicate key {name!r}: first on line {first}, again on line {line}")
            first = line
    return JSONError(1, 1, f"duplicate key {exc.key!r}")  # pragma: no cover - the scan above finds it


_SYNTAX = {
    "Expecting value": "expected a JSON value",
    "Expecting ',' delimiter": "expected ',' or a closing bracket",
    "Expecting ':' delimiter": "expected ':' after the key",
    "Expecting property name enclosed in double quotes": "expected a key in double quotes",
    "Extra data": "extra data after the JSON value",
    "Unterminated string starting at": "string is never closed",
    "Invalid control character at": "control character in a string; escape it (\\n, \\t, \\u0000)",
    "Invalid \\escape": "invalid escape in a string; a backslash is written \\\\",
    "Invalid \\uXXXX escape": "invalid \\u escape: four hex digits are needed",
}


def _syntax(text: str, exc: json.JSONDecodeError) -> JSONError:
    pos = exc.pos
    message = _SYNTAX.get(exc.msg, exc.msg)
    if exc.msg == "Expecting value":
        if not text[pos:].strip(" \t\n\r"):
            message = "file is empty" if not text.strip(" \t\n\r") else "unexpected end of file: a value is missing"
        else:
            word = _WORD.match(text, pos)
            shown = word.group() if word else text[pos]
            message = f"unexpected {shown!r}: expected a JSON value (NaN and Infinity are not JSON)"
    line, column = _Lines(text).at(pos)
    return JSONError(line, column, message)


def _too_deep(text: str) -> JSONError:
    depth = 0
    for match in _BRACKET_OR_STRING.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line, column = _Lines(text).at(match.start())
                return JSONError(line, column, f"nesting deeper than {MAX_DEPTH} levels")
        elif token in "]}":
            depth -= 1
    return JSONError(1, 1, f"nesting deeper than {MAX_DEPTH} levels")  # pragma: no cover


# Each byte of a character of a long-number run (``_LONG_RUN``) as b"1", every other byte as b"0".
_NUMBER_BYTES = bytes(0x31 if chr(b) in "-+.eE0123456789" else 0x30 for b in range(256))


def loads_many(raws: list[bytes]) -> list[JSONDocument | None]:
    """``loads`` of each of ``raws`` (None where it raises), with one decoder and one pass of each check over them all.

    Each file is decoded where it sits in one joined text, by the same strict
    decoder and hooks; a file that does not decode, alone and whole, or any
    check that fires anywhere, is read again by ``loads`` itself, so every
    answer is the one ``loads`` gives (a promotion reads every run of its flag).
    """
    found: list[JSONDocument | None] = [None] * len(raws)
    texts: list[str | None] = []
    for raw in raws:
        text: str | None = None
        if len(raw) <= MAX_BYTES and not raw.startswith(b"\xef\xbb\xbf"):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        texts.append(text)
    spans: list[tuple[int, int]] = []
    offset = 0
    for text in texts:
        size = len(text) if text is not None else 0
        spans.append((offset, offset + size))
        offset += size + 1
    joined = "\n".join(t if t is not None else "" for t in texts)
    decoder = _strict()
    alone: list[int] = []  # read again by ``loads``
    decoded: list[int] = []
    collecting = gc.isenabled()
    gc.disable()
    try:
        for i, (text, (start, end)) in enumerate(zip(texts, spans)):
            if text is None:
                alone.append(i)
                continue
            at = _SPACE.match(joined, start).end()  # type: ignore[union-attr]
            try:
                data, stop = decoder.raw_decode(joined, at)
            except (ValueError, RecursionError):
                alone.append(i)
                continue
            if stop > end or _SPACE.match(joined, stop, end).end() != end:  # type: ignore[union-attr]
                alone.append(i)
                continue
            found[i] = JSONDocument(text, data)
            decoded.append(i)
    finally:
        if collecting:
            gc.enable()
    # The checks ``loads`` makes after decoding, each over every file decoded at once (between two files
    # there is only a line feed, which ends any run of digits and is in no escape), by a quicker test that
    # fires whenever the check could: whatever it fires for is read again by ``loads`` itself.
    every = "\n".join(found[i].text for i in decoded)  # type: ignore[union-attr]
    if b"1" * (MAX_NUMBER_CHARS + 1) in every.encode("utf-8").translate(_NUMBER_BYTES) or "\\u" in every:
        alone.extend(decoded)
    else:
        for i in decoded:
            text = found[i].text  # type: ignore[union-attr]
            # Nesting is at most the number of opening brackets (strings included).
            if text.count("[") + text.count("{") > MAX_DEPTH and _depth_exceeds(text, MAX_DEPTH):
                alone.append(i)
    for i in alone:
        try:
            found[i] = loads(raws[i])
        except JSONError:
            found[i] = None
    return found
