"""``jsonfile.loads_many`` gives, file by file, what ``jsonfile.loads`` gives (the newest-runs rule reads runs in bulk)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from validator import jsonfile

EXAMPLES = Path(__file__).resolve().parent / "examples"

TRICKY: list[bytes] = [
    b'{"seq": 1, "flag_state": "shadow"}',
    b"",
    b"   ",
    b"[1",
    b"2]",
    b"1, 2",
    b'{"a": 1',
    b"}",
    b'{"a": 1, "a": 2}',
    b'{"n": NaN}',
    b'{"n": 1' + b"0" * 60 + b"}",
    b'{"s": "' + b"9" * 60 + b'"}',
    b'{"s": "\\ud800"}',
    b'{"s": "\\ud83d\\ude00"}',
    b"[" * 40 + b"]" * 40,
    b"[" * 3000 + b"]" * 3000,
    b"\xef\xbb\xbf{}",
    b'{"x": "\xff"}',
    b'{"ok": true}  \n\n',
    b'  \t{"lead": "space"}',
    b'"a string"',
    b'{"x": 1}{"y": 2}',
    b'{"x": 1} x',
    b'{"d": 1.50, "e": 1e400}',
    b'{"big": ' + b"1" * 5000 + b"}",
    b'{"q": "\\"}"}',
    b'{"q": "unterminated}\n',
    b'"',
    b'{"x": 1}\n"',
]


def _expected(raw: bytes) -> tuple[str, Any] | None:
    try:
        doc = jsonfile.loads(raw)
    except jsonfile.JSONError:
        return None
    return doc.text, json.dumps(doc.data, default=str, sort_keys=True)


def _got(raws: list[bytes]) -> list[tuple[str, Any] | None]:
    return [None if d is None else (d.text, json.dumps(d.data, default=str, sort_keys=True)) for d in jsonfile.loads_many(raws)]


def test_each_file_alone_and_every_neighbour_pair() -> None:
    """Every tricky file alone, and every ordered pair: a file never borrows its neighbour's brackets or quotes."""
    for raw in TRICKY:
        assert _got([raw]) == [_expected(raw)], raw
    for a, b in itertools.product(TRICKY, repeat=2):
        assert _got([a, b]) == [_expected(a), _expected(b)], (a, b)


def test_the_evidence_examples_in_one_call() -> None:
    raws = [p.read_bytes() for p in sorted(EXAMPLES.rglob("*.json"))]
    assert len(raws) > 100
    assert _got(raws) == [_expected(r) for r in raws]
    assert _got(raws + TRICKY) == [_expected(r) for r in raws + TRICKY]


def test_read_many_reads_what_read_reads(tmp_path: Path) -> None:
    """``WorkTree.read_many`` (the newest-runs rule's reading of many runs) gives ``read``'s bytes: empty, missing,
    a directory, a link, and a file over the bound cut where ``read`` cuts it."""
    from validator.repo import WorkTree

    (tmp_path / "empty.json").write_bytes(b"")
    (tmp_path / "small.json").write_bytes(b'{"a": 1}\n')
    (tmp_path / "big.json").write_bytes(b"x" * (jsonfile.MAX_BYTES + 5000))
    (tmp_path / "dir.json").mkdir()
    (tmp_path / "link.json").symlink_to("small.json")
    tree = WorkTree(tmp_path)
    names = ["empty.json", "small.json", "big.json", "dir.json", "link.json", "missing.json"]
    assert tree.read_many(names) == [tree.read(n) for n in names]
    assert len(tree.read_many(["big.json"])[0] or b"") == jsonfile.MAX_BYTES + 1
