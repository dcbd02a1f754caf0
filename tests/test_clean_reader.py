"""The one YAML reader's fast path (``loading._clean``) never disagrees with the full one (``loading._build``).

``_clean`` builds a file with nothing to report without positions; at the
first thing ``_build`` would report it gives up and ``_build`` reads the file
again.  So wherever ``_clean`` answers, ``_build`` must find nothing and build
the same data, key order and types included.  Checked on every file of the
examples corpus and on mutated flag files (Hypothesis, seeded in CI).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_properties import _YAML_VALUE, NASTY_BYTES, NASTY_YAML, mutate
from validator import loading

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "tests" / "examples").rglob("*.yaml")) + sorted((REPO / "flags").glob("*.yaml"))
SEEDS = [p.read_bytes() for p in sorted((REPO / "flags").glob("*.yaml"))] + [(REPO / "policy.yaml").read_bytes()]


def _typed(value: object) -> object:
    """The data with each value's exact type, so 1 and True and Decimal("1") stay apart."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, value)


def _agree(raw: bytes) -> None:
    text, findings = loading._decode("x.yaml", raw)
    if text is None:
        return
    fast = loading._clean(text)
    try:
        doc, found = loading._build("x.yaml", text)
    except Exception:  # noqa: BLE001 - load() turns these into findings; the fast path must have given up
        assert fast is None
        return
    if fast is None:
        return
    assert found == [] and doc is not None
    assert _typed(fast) == _typed(doc.data)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_reads_alike(path: Path) -> None:
    _agree(path.read_bytes())


# 300 in CI (the suite's time budget; each example reads a flag file twice), the profile's count otherwise.
@settings(max_examples=300 if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci" else settings.default.max_examples)
@given(st.data())
def test_mutated_flag_files_read_alike(data: st.DataObject) -> None:
    raw = data.draw(st.sampled_from(SEEDS), label="seed")
    _agree(mutate(raw, data, tokens=NASTY_YAML + [b.decode("latin-1") for b in NASTY_BYTES], token_pattern=_YAML_VALUE))
