"""Strict JSON with positions, for evidence files.

``json.loads`` keeps the last of two duplicate keys, reads ``1.5`` as a float
and accepts ``NaN``; none of that is acceptable for money.  This parser
rejects duplicate keys (naming both lines), reads numbers with a fraction or
exponent as ``Decimal``, rejects ``NaN``/``Infinity``, bounds size and depth,
and records the line and column of every value and key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_SPACE = re.compile(r"[ \t\n\r]*")

Path = tuple[Any, ...]


class JSONError(ValueError):
    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message


@dataclass
class JSONDocument:
    text: str
    data: Any
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    located: bool = False

    def where(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        if not self.located:  # positions are found only when a finding needs one
            located = _Parser(self.text).document()
            self.marks, self.key_marks, self.located = located.marks, located.key_marks, True
        path = tuple(path)
        if key and path in self.key_marks:
            return self.key_marks[path]
        while path and path not in self.marks:
            path = path[:-1]
        return self.marks.get(path, (1, 1))


class _Refused(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Refused("duplicate key")
    return result


def _constant(name: str) -> Any:
    raise _Refused(name)


def _integer(text: str) -> int:
    if len(text) > 40:
        raise _Refused("long number")
    return int(text)


def loads(raw: bytes) -> JSONDocument:
    """Parse ``raw`` strictly; JSONError carries the line and column of the problem."""
    if len(raw) > MAX_BYTES:
        raise JSONError(1, 1, f"file is {len(raw)} bytes, over the {MAX_BYTES}-byte bound")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise JSONError(1, 1, "file starts with a byte order mark; save it as UTF-8 without BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = len(raw[raw.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode("utf-8", "replace")) + 1
        raise JSONError(line, column, "invalid UTF-8; save the file as UTF-8") from None
    try:
        # The C decoder is the fast path; anything it dislikes, or that we
        # refuse, is parsed again by the positional parser for a precise error.
        data = json.loads(text, object_pairs_hook=_pairs, parse_float=_decimal, parse_int=_integer, parse_constant=_constant)
    except (ValueError, RecursionError):
        located = _Parser(text).document()  # raises JSONError with the position
        return JSONDocument(text, located.data, located.marks, located.key_marks, True)
    return JSONDocument(text, data)


def _decimal(text: str) -> Decimal:
    if len(text) > 40:
        raise _Refused("long number")
    return Decimal(text)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.doc = JSONDocument(text, None)

    def _pos(self, index: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, index) + 1
        return line, index - (self.text.rfind("\n", 0, index) + 1) + 1

    def fail(self, index: int, message: str) -> JSONError:
        line, column = self._pos(index)
        return JSONError(line, column, message)

    def skip(self, i: int) -> int:
        return _SPACE.match(self.text, i).end()  # type: ignore[union-attr]

    def document(self) -> JSONDocument:
        i = self.skip(0)
        if i == len(self.text):
            raise self.fail(i, "file is empty")
        self.doc.data, i = self.value(i, (), 0)
        i = self.skip(i)
        if i != len(self.text):
            raise self.fail(i, "extra data after the JSON value")
        return self.doc

    def value(self, i: int, path: Path, depth: int) -> tuple[Any, int]:
        text = self.text
        self.doc.marks[path] = self._pos(i)
        if i >= len(text):
            raise self.fail(i, "unexpected end of file: a value is missing")
        ch = text[i]
        if ch == "{":
            return self.obj(i, path, depth + 1)
        if ch == "[":
            return self.array(i, path, depth + 1)
        if ch == '"':
            try:
                return scanstring(text, i + 1, True)
            except json.JSONDecodeError as exc:
                raise self.fail(exc.pos, exc.msg) from None
        for word, meaning in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, i):
                return meaning, i + len(word)
        match = _NUMBER.match(text, i)
        if match and match.end() > i:
            token = match.group()
            if len(token) > 40:
                raise self.fail(i, f"number with {len(token)} characters is too long")
            if match.group(1) or match.group(2):
                return Decimal(token), match.end()
            return int(token), match.end()
        word = re.match(r"[A-Za-z_+-]+", text[i:])
        shown = word.group() if word else text[i]
        raise self.fail(i, f"unexpected {shown!r}: expected a JSON value (NaN and Infinity are not JSON)")

    def obj(self, i: int, path: Path, depth: int) -> tuple[dict[str, Any], int]:
        if depth > MAX_DEPTH:
            raise self.fail(i, f"nesting deeper than {MAX_DEPTH} levels")
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        i = self.skip(i + 1)
        if self.text.startswith("}", i):
            return result, i + 1
        while True:
            if not self.text.startswith('"', i):
                raise self.fail(i, "expected a key in double quotes")
            key_pos = self._pos(i)
            key, i = self.value(i, path + ("\0key",), depth)
            del self.doc.marks[path + ("\0key",)]
            if key in first_line:
                raise JSONError(
                    key_pos[0], key_pos[1], f"duplicate key {key!r}: first on line {first_line[key]}, again on line {key_pos[0]}"
                )
            first_line[key] = key_pos[0]
            self.doc.key_marks[path + (key,)] = key_pos
            i = self.skip(i)
            if not self.text.startswith(":", i):
                raise self.fail(i, f"expected ':' after key {key!r}")
            result[key], i = self.value(self.skip(i + 1), path + (key,), depth)
            i = self.skip(i)
            if self.text.startswith(",", i):
                i = self.skip(i + 1)
                continue
            if self.text.startswith("}", i):
                return result, i + 1
            raise self.fail(i, "expected ',' or '}'")

    def array(self, i: int, path: Path, depth: int) -> tuple[list[Any], int]:
        if depth > MAX_DEPTH:
            raise self.fail(i, f"nesting deeper than {MAX_DEPTH} levels")
        result: list[Any] = []
        i = self.skip(i + 1)
        if self.text.startswith("]", i):
            return result, i + 1
        while True:
            item, i = self.value(i, path + (len(result),), depth)
            result.append(item)
            i = self.skip(i)
            if self.text.startswith(",", i):
                i = self.skip(i + 1)
                continue
            if self.text.startswith("]", i):
                return result, i + 1
            raise self.fail(i, "expected ',' or ']'")
