"""The committed JSON Schemas in ``schema/``, generated from ``validator.model``."""

from __future__ import annotations

import json
from pathlib import Path

SCHEMA_DIR = "schema"


def render() -> dict[str, str]:
    """filename -> the exact text the committed file must have."""
    from validator.model import SCHEMAS, json_schema

    return {name: json.dumps(json_schema(model, name), indent=2, ensure_ascii=False) + "\n" for name, model in SCHEMAS.items()}


def rendered() -> dict[str, str]:
    """What ``render`` gives, without pydantic while the generated texts are current.

    They are current when the model sources beside this module are the ones they were generated
    from (a test holds them to ``render`` on every run of the suite)."""
    from validator import codegen, schema_texts

    if codegen.source_digest(Path(__file__).parent) == schema_texts.SOURCE_DIGEST:
        return dict(schema_texts.TEXTS)
    return render()


def drift(root: Path) -> list[str]:
    """Files in ``schema/`` that differ from what the models generate."""
    stale = []
    for name, text in rendered().items():
        path = root / SCHEMA_DIR / name
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current != text:
            stale.append(f"{SCHEMA_DIR}/{name}")
    return stale


def write(root: Path) -> list[str]:
    written = []
    (root / SCHEMA_DIR).mkdir(exist_ok=True)
    for name, text in rendered().items():
        path = root / SCHEMA_DIR / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            written.append(f"{SCHEMA_DIR}/{name}")
    return written
