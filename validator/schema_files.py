"""The committed JSON Schemas in ``schema/``, generated from ``validator.model``."""

from __future__ import annotations

import json
from pathlib import Path

from validator.model import SCHEMAS, json_schema

SCHEMA_DIR = "schema"


def render() -> dict[str, str]:
    """filename -> the exact text the committed file must have."""
    return {name: json.dumps(json_schema(model, name), indent=2, ensure_ascii=False) + "\n" for name, model in SCHEMAS.items()}


def drift(root: Path) -> list[str]:
    """Files in ``schema/`` that differ from what the models generate."""
    stale = []
    for name, text in render().items():
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
    for name, text in render().items():
        path = root / SCHEMA_DIR / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            written.append(f"{SCHEMA_DIR}/{name}")
    return written
