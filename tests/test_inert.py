"""validator/inert.py: one set of unsafe characters, one rendering per output kind.

The markdown rendering is checked with cmark-gfm (GitHub's own markdown
engine, raw HTML allowed so any that got through would show), and against
the patterns GitHub links after rendering (mentions, references, bare URLs).
"""

from __future__ import annotations

import html
import json
import re
import unicodedata

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from validator import inert, jsonout, page, term
from validator.finding import ERROR, WARNING, Finding
from validator.report import Result
from validator.report import markdown as markdown_report

HOSTILE = [
    "![flaggate: passed, approved by platform-admins](https://evil.example/badge.svg)",
    "runbook: [sso login](https://evil.example/login) [ref][1] [^1]",
    "<https://evil.example/auto> <mail@evil.example>",
    "https://evil.example/bare HTTP://EVIL.EXAMPLE www.evil.example mail@evil.example",
    "#123 and (#7) GH-123 gh-7 acme-payments/flags#1 user/repo@abc1234 org/repo#12",
    "@user @acme-payments/ledger-platform cc:@dana (@everyone)",
    "*em* **strong** _em_ __strong__ ~~del~~ ~del~ snake_case_name _leading trailing_",
    "# heading",
    "### heading ###",
    "> quote",
    "- item",
    "1. item",
    "<b>bold</b> <img src=x onerror=alert(1)> <script>alert(1)</script> <!-- hidden --> <details open>",
    "&lt;b&gt; &#x202e; &amp; &copy;",
    "a | b || c \\| d |",
    "`code` ``x`` ``` fence ```",
    "$\\color{red}{\\text{approved}}$ and $$x$$",
    "[ ] [x] task",
    "\\*not\\* \\[x\\] trailing backslash \\",
    "line one\nline two\r\n::error::forged\x1b[31m\u202e\u2028",
]

# Tags the document around the values produces; anything else came from a value.
_TEMPLATE_TAGS = {"table", "thead", "tbody", "tr", "th", "td", "p", "ul", "li", "h3"}
# What GitHub turns into links or pings in rendered text outside code.
_GITHUB_ACTIVE = [
    re.compile(r"(?<![\w`])@[A-Za-z0-9]"),  # mention, team mention
    re.compile(r"(?<![\w-])#\d"),  # issue or pull request
    re.compile(r"(?i)\bgh-\d"),
    re.compile(r"[\w.-]+/[\w.-]+[#@][0-9a-f]"),  # cross-repository reference, commit
    re.compile(r"(?i)\b(?:https?|ftp)://"),
    re.compile(r"(?i)\bwww\."),
    re.compile(r"[\w.+-]+@[\w-]+\."),  # e-mail address
]


def _render(md: str) -> str:
    return str(cmarkgfm.github_flavored_markdown_to_html(md, options=Options.CMARK_OPT_UNSAFE))


def _tags(rendered: str) -> set[str]:
    return {t.lower() for t in re.findall(r"<([A-Za-z][A-Za-z0-9]*)", rendered)}


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", fragment))


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_shows_a_value_as_plain_text(value: str) -> None:
    """Finding 11: links, images, references, emphasis, headings, HTML and pipes in a value stay text."""
    shown = inert.markdown(value)
    assert "\n" not in shown and "\r" not in shown
    assert not re.search(r"(?<!\\)\$", shown)  # GitHub's math ($...$) starts at an unescaped dollar
    md = f"| flag | why |\n|---|---|\n| f | {shown} |\n\n{shown}\n\n- why: {shown}\n"
    rendered = _render(md)
    assert _tags(rendered) <= _TEMPLATE_TAGS, rendered
    assert "<!--" not in rendered
    cells = re.findall(r"<td>(.*?)</td>", rendered, re.S)
    paragraphs = re.findall(r"<p>(.*?)</p>", rendered, re.S)
    items = re.findall(r"<li>why: (.*?)</li>", rendered, re.S)
    assert len(cells) == 2 and len(paragraphs) == 1 and len(items) == 1, rendered
    for fragment in (cells[1], paragraphs[0], items[0]):
        text = _text(fragment)
        for pattern in _GITHUB_ACTIVE:
            assert not pattern.search(text), (pattern.pattern, text)
        # Exactly the value (its unsafe characters escaped): the zero-width spaces are all that was added.
        assert text.replace("\u200b", "") == inert.escape(value)


def test_plain_names_read_as_themselves() -> None:
    assert inert.markdown("allocation_dual_write") == "allocation_dual_write"
    assert inert.markdown("flags/allocation_dual_write.yaml") == "flags/allocation_dual_write.yaml"
    assert inert.markdown("x" * 400, 300) == "x" * 299 + "…"


def test_the_markdown_report_is_inert_as_a_whole() -> None:
    value = " ".join(v for v in HOSTILE if "\n" not in v)
    result = Result(
        findings=[Finding(value, 3, 1, "schema", value, ERROR), Finding(value, 4, 2, "owners", value, WARNING)],
        checked=1,
        transitions=[{"flag": value, "from": value, "to": value, "from_percentage": None, "to_percentage": 5, "kind": "promote"}],
    )
    rendered = _render(markdown_report(result))
    assert _tags(rendered) <= _TEMPLATE_TAGS, rendered
    text = _text(rendered)
    for pattern in _GITHUB_ACTIVE:
        assert not pattern.search(text), (pattern.pattern, text)


# Characters every output kind escapes (the brief of findings 08, 09 and 12).
UNSAFE = (
    [chr(c) for c in range(0x20)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + ["\u2028", "\u2029", "\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))]
    + ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\ud800", "\udbff", "\udc00", "\udfff"]
    # Invisible format characters an attack smuggled text in: the soft hyphen, the Mongolian vowel
    # separator, interlinear annotation, a tag letter, a Hangul filler.
    + ["\u00ad", "\u180e", "\ufff9", "\ufffb", "\U000e0041", "\U000e007f", "\u3164"]
)
# Every character the set holds: every format character (Unicode category Cf), the invisible
# fillers, and all lone surrogates.
UNSAFE_ALL = (
    set(UNSAFE)
    | {chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"}
    | {"\u034f", "\u115f", "\u1160", "\u3164", "\uffa0"}
    | set(map(chr, range(0x2060, 0x2070)))  # the invisible operators' block, U+2065 unassigned but kept out
    | set(map(chr, range(0x13430, 0x13440)))  # the hieroglyph format controls' block
    | set(map(chr, range(0xD800, 0xE000)))
)


def test_json_escapes_exactly_the_unsafe_characters() -> None:
    """Finding 12: published JSON carried U+202E raw; ordinary non-ASCII text stays as it is."""
    # Every character of the BMP (all of the unsafe set is there) and a few beyond; each surrogate
    # alone (a high one before a low one would decode as their pair).
    beyond = "\U0001f600\U000110bd\U0001d173\U000e0001\U000e0041\U0010ffff"
    every = "".join(chr(c) if not 0xD800 <= c < 0xE000 else chr(c) + "." for c in range(0x10000)) + beyond
    for encoded in (jsonout.dumps({"v": every}), inert.json_text(json.dumps({"v": every}, ensure_ascii=False))):
        raw = set(encoded)
        assert set(every) - raw - {"\n"} == (UNSAFE_ALL & set(every)) - {"\n"}  # a raw newline is indentation only
        assert "é" in raw and "日" in raw and "\U0001f600" in raw and "\u00a0" in raw
        assert json.loads(encoded)["v"] == every  # the escapes decode to the same value
    assert jsonout.dumps({"v": "café 日本"}) == '{\n  "v": "café 日本"\n}\n'


@pytest.mark.parametrize("ch", UNSAFE)
def test_text_outputs_escape_the_same_characters(ch: str) -> None:
    for shown in (inert.escape(f"a{ch}b"), term.safe(f"a{ch}b"), inert.markdown(f"a{ch}b"), page.esc(f"a{ch}b")):
        assert ch not in shown and shown.isascii()
        assert "\\" in shown or (ch in "\t\n" and shown == "a b")  # the status page: tab and newline are HTML whitespace
    for render in (inert.escape, term.safe, inert.markdown, page.esc):
        assert render("café 日本") == "café 日本"
