"""The emergency demote, shared by ``flaggate demote`` and ``rollback-check --apply``.

One change: the demote (or the kill switch's straight disable), every
dependent it would strand cascaded back with the same reason code, and the
metrics snapshot of what was seen.  The whole change is judged as
``flaggate check --base`` will judge it before a byte is written, so what is
written is a tree that passes check, check --base, the pre-commit hook and
publish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from validator import cascade, edit, metrics, names
from validator.errors import FatalError
from validator.report import Result

_NUMBER = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,12})?\Z")


@dataclass
class Emergency:
    primary: edit.Change
    cascaded: list[cascade.Cascaded]
    result: Result

    @property
    def changes(self) -> list[edit.Change]:
        return [self.primary, *(c.change for c in self.cascaded)]

    def lines(self, reason: str) -> list[str]:
        """The change in words, one line per moved flag: printed before anything is written."""
        p = self.primary
        found = [f"{p.kind}: {p.flag}: {p.before} -> {p.after} ({reason})"]
        for c in self.cascaded:
            m = c.change
            found.append(f"cascade: {m.kind}: {m.flag}: {m.before} -> {m.after} ({reason}): {c.why}")
        return found


def parse_metrics(items: list[str]) -> dict[str, Decimal]:
    """``NAME=VALUE`` pairs as exact decimals; FatalError (exit 2) naming the bad one."""
    found: dict[str, Decimal] = {}
    for item in items:
        name, value = names.name_value(item, "--metrics", "drift_ppm=812", list(metrics.METRICS), found)
        if not _NUMBER.match(value):
            raise FatalError(f"--metrics {name}={value!r}: the value must be a decimal number such as 812 or 0.015")
        found[name] = Decimal(value)
    return found


def prepare(
    root: Path,
    name: str,
    *,
    reason: str,
    justification: str,
    snapshot: dict[str, Decimal] | None,
    to: str | None,
    base: str,
    now: datetime,
) -> Emergency:
    """The whole emergency change, judged; ``edit.NoMove`` when the plan or a dependent allows none."""
    primary = edit.prepare(root, name, "demote", justification=justification, evidence=[], reason=reason, metrics=snapshot, to=to)
    cascaded = cascade.cascade(root, [primary], reason=reason, justification=justification, base=base)
    changes = [primary, *(c.change for c in cascaded)]
    return Emergency(primary, cascaded, edit.judge(root, changes, now, base))
