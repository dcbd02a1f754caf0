"""Values from files rendered inert: one set of unsafe characters, one rendering per kind of output.

* text (terminal, CI log, workflow annotation): :func:`escape`, every unsafe
  character written as its escape, so a value is one visible line;
* JSON: :func:`json_text`, applied to an already-encoded document, every
  unsafe character written as ``\\uXXXX`` (the document decodes to the same
  values);
* markdown (job summary, pull request comment): :func:`markdown`, text that
  GitHub-flavoured markdown shows as the characters they are: no link,
  image, autolink, mention, cross-reference, emphasis, heading, HTML, entity
  or table cell boundary.

The unsafe characters are those that change what a terminal, a CI log or a
reader sees beyond themselves: C0 and C1 controls and DEL (a newline starts
a GitHub workflow command, ESC an ANSI sequence), the line and paragraph
separators, every format character (bidi marks, embeddings, overrides and
isolates, zero-width characters, the BOM, the soft hyphen, the invisible tag
letters), invisible fillers, and lone surrogates (unprintable: they would crash
the UTF-8 encoder of stdout).  Ordinary non-ASCII text (é, 日本) is kept.
"""

from __future__ import annotations

import re
from typing import Any

# Controls, separators and every format character (Unicode category Cf: bidi marks, zero-width
# characters, the soft hyphen, interlinear annotation, the invisible "tag" letters that can hide a
# whole sentence), the invisible Hangul fillers and the combining grapheme joiner, lone surrogates.
UNSAFE_CHARACTERS = (
    "\x00-\x1f\x7f-\x9f\xad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\ud800-\udfff"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e007f"
)
UNSAFE = re.compile(f"[{UNSAFE_CHARACTERS}]")

# What a JSON encoder leaves raw: it escapes C0 controls itself, and a raw
# newline in its output is indentation, not part of a value.
_UNSAFE_IN_JSON = re.compile(f"[{UNSAFE_CHARACTERS.replace(chr(0) + '-' + chr(0x1F), '', 1)}]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:
        return f"\\U{code:08x}"
    return {9: "\\t", 10: "\\n", 13: "\\r"}.get(code) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape(value: Any) -> str:
    """Any value from a file or the API as one inert line: every unsafe character written as its escape.

    ``"shadow\\n::error"`` prints as ``shadow\\n::error`` on one line,
    ``"\\u202e"`` as the six characters ``\\u202e``.
    """
    return UNSAFE.sub(_escape_char, str(value))


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # JSON writes a character beyond the BMP as its UTF-16 surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def json_text(encoded: str) -> str:
    """An encoded JSON document with every unsafe character left raw by the encoder written as ``\\uXXXX``.

    Only outside ASCII (and DEL) is there anything to do, and that test is a
    fast scan, so documents of plain text pay nothing for it.
    """
    if encoded.isascii() and "\x7f" not in encoded:
        return encoded
    return _UNSAFE_IN_JSON.sub(_json_escape, encoded)


# Markdown: characters with a meaning in GitHub-flavoured markdown, each
# written with a backslash (CommonMark shows an escaped ASCII punctuation
# character as itself): links and images ([ ] ( ) !), code (`), emphasis and
# strikethrough (* _ ~), HTML, autolinks and block quotes (< >), entities (&),
# headings (#), table cells (|), math ($) and the backslash itself.  An
# underscore between two letters or digits is never emphasis and stays as it
# is, so names like allocation_dual_write read as themselves.
_MARKDOWN_ACTIVE = re.compile(r"[\\`*~\[\]()!<>&|$]|(?<![^\W_])_|_(?![^\W_])")
# At the start of a line a value could begin a list item, a thematic break or
# a setext underline (- + = 1. 1)); escaped there only, where they mean it.
_MARKDOWN_LINE_START = re.compile(r"^([ \t]*)(?:[-+=]|\d+(?=[.)]))")
# GitHub links these after rendering, in any text outside code (escaping
# cannot stop it): @mentions and team mentions, #123 and owner/repo#123
# references, GH-123, and bare URLs and e-mail addresses.  A zero-width space
# after the sign breaks the pattern and is invisible to the reader.
_GITHUB_REFERENCE = re.compile(r"(?i)[@#]|\bgh(?=-)|\bwww(?=\.)|(?<=:)(?=//)")
_ZWSP = "\u200b"


def _escape_line_start(match: re.Match[str]) -> str:
    indent, sign = match.group(1), match.group()[len(match.group(1)) :]
    # "1." is escaped at its dot (the digits are no punctuation), "-" at itself.
    return f"{indent}{sign}\\" if sign[:1].isdigit() else f"{indent}\\{sign}"


def markdown(value: Any, limit: int = 300) -> str:
    """A value from a file or a pull request as plain text in markdown, table cells included.

    Unsafe characters are escaped first (:func:`escape`), so the result is one
    line; then every markdown-active character is backslash-escaped and
    every GitHub reference pattern broken, so nothing in it links, embeds,
    pings, formats or ends a cell.
    """
    text = escape(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = _MARKDOWN_ACTIVE.sub(lambda m: "\\" + m.group(), text)
    text = _MARKDOWN_LINE_START.sub(_escape_line_start, text, count=1)
    return _GITHUB_REFERENCE.sub(lambda m: m.group() + _ZWSP, text)
