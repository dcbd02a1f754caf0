"""amend: a change to a rule is a change, and it is judged.

Anything that decides a verdict or what services read is a rule: a flag's
``states``, ``rollout`` (its steps, percentages, ``soak_days`` and step
guards), ``guards``, ``rollback``, ``requires``, ``owners`` and ``kill_switch``; the whole of
``policy.yaml``; the whole of ``resources.yaml``.  Changing one of them is a
move of kind ``amend``:

* it is listed in ``check --base``'s json ``transitions`` (with every changed
  field before and after), in the pull request comment, and in the audit log;
* in ``flaggate pr-check`` it needs an approval from the policy's
  ``platform_owners`` in addition to the flag's owners (read at the base);
* it never moves a flag (what services read is the same before and after),
  and it is not combined with a promotion of the same flag: amend in one pull
  request, promote in a later one, judged by the amended rules.

The change is always judged by the base's rules, so loosening a rule and
using the looser rule in the same pull request does not work.  Some rules no
approval can override (the ``consistency`` rule checks them on every tree):
every plan starts with ``off``, which always publishes 0%; canary percentages
rise strictly along the plan and no step after one that serves everyone
serves fewer; the flag's state and percentage remain a step of its plan.

Passing: ``soak_days: 7`` -> ``soak_days: 5`` in one pull request approved by
a platform owner, the promotion in the next.  Failing: the same change
together with the promotion it makes possible (``amend: ... is combined with
a promotion``).
"""

from __future__ import annotations

import json
from typing import Any

from validator.record import Record

RULE = "amend"
KIND = "amend"

# The fields of a flag whose change is an amend (the rest: name, description,
# state, percentage, transition).
FLAG_FIELDS = ("states", "rollout", "guards", "rollback", "requires", "owners", "kill_switch")


def rules_of(record: Record, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The rule fields of a record as plain JSON data (defaults filled in, numbers as text)."""
    return record.dump(json=True, include=set(fields) if fields is not None else None)


def fingerprint(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def changes(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Every changed field, as ``{"field": "rollout[1].soak_days", "before": 7, "after": 5}``."""
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after), key=str):
            child = f"{path}.{key}" if path else str(key)
            found.extend(changes(before.get(key), after.get(key), child))
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = []
        for i, (a, b) in enumerate(zip(before, after)):
            found.extend(changes(a, b, f"{path}[{i}]"))
        return found
    return [{"field": path or "(file)", "before": before, "after": after}]


def describe(change: dict[str, Any]) -> str:
    """One changed field for people: ``rollout[1].soak_days: 7 -> 5``."""
    return f"{change['field']}: {show(change['before'])} -> {show(change['after'])}"


def show(value: Any) -> str:
    if value is None:
        return "(none)"
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
