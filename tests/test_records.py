"""The generated readers (``validator/records.py``) against their source, the pydantic models.

The records are what every command reads files with; the models are the one declaration the JSON
Schemas and the readers are generated from.  These tests hold the readers to the models: the
committed module is today's rendering, and on thousands of mutated files the reader accepts exactly
what pydantic accepts and gives the same data.
"""

from __future__ import annotations

import copy
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import validator.model as declared
from tests.conftest import REPO, run
from validator import codegen, records
from validator.loading import load
from validator.record import Invalid

FILES = {
    "Flag": sorted(str(p.relative_to(REPO)) for p in (REPO / "flags").glob("*.yaml")),
    "Policy": ["policy.yaml"],
    "Resources": ["resources.yaml"],
}
VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 3, 100, 101, 365, 366, 10**30, 1.5, Decimal("0.01"), Decimal("-0"), Decimal("NaN"),
    Decimal("Infinity"), Decimal("1E+5"), "", "x", "X", "a\n", "a b", "off", "on", "shadow", "canary", "drift_ppm", ">=",
    "DRIFT_BREACH", "org/team", "bad key!", "a" * 64, "a" * 65, "é", "x" * 4001, "table", [], {}, ["a"], [1], {"a": 1},
    {"drift_ppm": 1}, {"flag": "a", "in": ["x"], "when": ["y"]}, ["a", "b"], "ed25519:" + "A" * 43 + "=",
]  # fmt: skip


def _data(path: str) -> Any:
    doc, problems = load(path, (REPO / path).read_bytes())
    assert doc is not None, problems
    return doc.data


def _mutate(data: Any, rng: random.Random) -> Any:
    """One to three random edits at random places: a value replaced, a key dropped or added, an item dropped or doubled."""
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        spots = _spots(data)
        if not spots:
            return data
        parent, key = rng.choice(spots)
        action = rng.random()
        if action < 0.6:
            parent[key] = copy.deepcopy(rng.choice(VALUES))
        elif action < 0.75:
            del parent[key]
        elif action < 0.9 and isinstance(parent, dict):
            # A new key, with a value like its neighbours' half the time (so that only the key can be wrong).
            value = rng.choice(list(parent.values())) if parent and rng.random() < 0.5 else rng.choice(VALUES)
            keys = ["extra", "stat", "why", "min", "max", "percentage", "guards", 7, "a" * 65, "a" * 64, "Bad-Key", "org/team"]
            parent[rng.choice(keys)] = copy.deepcopy(value)
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            parent[key] = copy.deepcopy(rng.choice(spots)[0])
    return data


def _spots(node: Any) -> list[tuple[Any, Any]]:
    """(container, key or index) of every value in ``node``."""
    found: list[tuple[Any, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found += [(node, key), *_spots(value)]
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += [(node, i), *_spots(value)]
    return found


def _pydantic(name: str, data: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The model's data, plain and as JSON (numbers as text), or None where pydantic refuses it."""
    try:
        model = getattr(declared, name).model_validate(data)
    except ValidationError:
        return None
    return model.model_dump(by_alias=True), model.model_dump(by_alias=True, mode="json")


def _reader(name: str, data: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    try:
        record = records.READERS[getattr(records, name)](data)
    except Invalid:
        return None
    return record.dump(), record.dump(json=True)


def test_the_committed_readers_are_todays_rendering() -> None:
    assert (REPO / "validator/records.py").read_text(encoding="utf-8") == codegen.render(), "run: python -m validator.codegen"
    assert (REPO / "validator/schema_texts.py").read_text(encoding="utf-8") == codegen.render_texts(), "run: python -m validator.codegen"


def test_schema_texts_are_used_only_while_current(monkeypatch: pytest.MonkeyPatch) -> None:
    from validator import schema_files, schema_texts

    assert schema_files.rendered() == schema_files.render() == schema_texts.TEXTS
    monkeypatch.setattr(schema_texts, "TEXTS", {"flag.schema.json": "stale"})
    assert schema_files.rendered() == {"flag.schema.json": "stale"}  # the digest still matches: taken as it is
    monkeypatch.setattr(schema_texts, "SOURCE_DIGEST", "0" * 64)  # a model edited since they were generated
    assert schema_files.rendered() == schema_files.render()


@pytest.mark.parametrize("name", sorted(FILES))
def test_readers_accept_exactly_what_the_models_accept(name: str) -> None:
    rng = random.Random(f"records-{name}")
    accepted = refused = 0
    for path in FILES[name]:
        original = _data(path)
        assert _reader(name, original) == _pydantic(name, original) is not None
        for _ in range(3000 // len(FILES[name])):
            data = _mutate(original, rng)
            expected, got = _pydantic(name, data), _reader(name, data)
            assert got == expected, (path, data)
            accepted += expected is not None
            refused += expected is None
    assert accepted > 100 and refused > 1000, (accepted, refused)


@pytest.mark.parametrize(("key", "flag"), [("in_", "ledger_backfill_mode"), ("from_", "allocation_read_switch")])
def test_a_python_field_name_is_not_a_key(key: str, flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # pydantic also took the field's Python name for a key (populate_by_name); the JSON Schema that
    # editors and other languages read does not: a file must mean the same to every reader.
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(REPO / "flags", repo / "flags")
    for name in ("policy.yaml", "resources.yaml"):
        shutil.copy(REPO / name, repo / name)
    path = repo / f"flags/{flag}.yaml"
    text = path.read_text()
    alias = f" {key.rstrip('_')}:"
    assert alias in text
    path.write_text(text.replace(alias, f" {key}:", 1))
    code, out, _ = run(["check", "--root", str(repo)], capsys)
    assert code == 1 and f"'{key}'" in out and "schema" in out, out


def test_check_imports_no_pydantic() -> None:
    code = (
        f"import sys; from validator.cli import main; rc = main(['check', '--root', {str(REPO)!r}]);"
        "print([m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core', 'jsonschema')]); raise SystemExit(rc)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
