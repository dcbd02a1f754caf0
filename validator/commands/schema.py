"""``flaggate schema``: write or check schema/*.json, generated from the models."""

from __future__ import annotations

import argparse

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
    return 1 if stale else 0
