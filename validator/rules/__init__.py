"""The rules.  Each rule has a stable id; its module docstring is its user documentation.

Ids are stable: tools, reviewers and the README refer to them.
"""

from __future__ import annotations

RULE_IDS: tuple[str, ...] = (
    "yaml",
    "schema",
    "consistency",
    "layout",
    "dependency",
    "transition",
    "evidence",
    "soak",
    "reason_code",
    "amend",
    "approval",
    "history",
)
