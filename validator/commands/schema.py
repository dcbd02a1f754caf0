"""``flaggate schema``: write or check schema/*.json, generated from the models."""

from __future__ import annotations

import argparse
from pathlib import Path

from validator.commands import root as _root


def run(args: argparse.Namespace) -> int:
    from validator import schema_files

    root = _root(args)
    if args.write:
        for name in schema_files.write(root):
            print(f"wrote {name}")
        return 0
    stale = schema_files.drift(root)
    for name in stale:
        print(f"{name}: schema: out of date with validator/model.py; run `flaggate schema --write`")
    generated = _stale_generated(root)
    if generated:
        print(f"{generated}: schema: out of date with validator/model.py; run `python -m validator.codegen`")
    return 1 if stale or generated else 0


def _stale_generated(root: Path) -> str | None:
    """In flaggate's own repository: the generated modules, when the model sources are not the ones they were made from."""
    import re

    from validator import codegen

    texts = root / "validator" / "schema_texts.py"
    if not (root / "validator" / "model.py").is_file() or not texts.is_file():
        return None
    made_from = re.search(r"^SOURCE_DIGEST = '([0-9a-f]{64})'$", texts.read_text(encoding="utf-8"), re.MULTILINE)
    if made_from and made_from.group(1) == codegen.source_digest(root / "validator"):
        return None
    return "validator/records.py and validator/schema_texts.py"
