"""The rules, in one registry.  Each rule has a stable id; its module docstring is its user documentation.

Ids are stable: tools, reviewers and the README refer to them.  The registry
drives what reports show (the README's rule table is tested against it, the
pull request comment lists findings rule by rule in its order) and, for a
rule registered with a ``check``, what runs: ``flaggate check`` calls every
registered check with a ``Context`` and collects the findings it *returns*.
Adding a rule is a module (id, docstring, check) plus one ``register`` call;
nothing else can silently miss it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from validator.finding import Finding
    from validator.repo import Snapshot, Tree


@dataclass(frozen=True)
class Context:
    """What a rule's check may look at: the tree judged, and with a base the change."""

    tree: Tree
    snapshot: Snapshot
    base: Any = None  # the gate's Base (yardstick) when checked against one
    moves: list[Any] = field(default_factory=list)  # the gate's moves when checked against a base
    now: datetime | None = None


Check = Callable[[Context], "list[Finding]"]


@dataclass(frozen=True)
class Rule:
    id: str
    summary: str
    check: Check | None = None  # None: the rule is applied where its data is (loader, gate, pr-check)


REGISTRY: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    """Add a rule; its id must be new."""
    if rule.id in REGISTRY:
        raise ValueError(f"rule {rule.id!r} is registered twice")
    REGISTRY[rule.id] = rule
    return rule


def unregister(rule_id: str) -> None:
    REGISTRY.pop(rule_id, None)


for _id, _summary in (
    ("yaml", "the file parses strictly"),
    ("schema", "keys, types, formats"),
    ("consistency", "a flag file agrees with itself and its plan"),
    ("layout", "every reader sees the same bytes"),
    ("dependency", "requirements exist, are acyclic and hold"),
    ("transition", "one legal step of the base's plan"),
    ("amend", "a rule change is judged, never with a promotion"),
    ("evidence", "green runs, recomputed, the newest, append-only"),
    ("soak", "time spent in the step"),
    ("reason_code", "demotes carry a policy reason code"),
    ("approval", "owner approvals on the head sha"),
    ("history", "git history readable"),
):
    register(Rule(_id, _summary))


def ids() -> tuple[str, ...]:
    return tuple(REGISTRY)


# The ids as a constant, for code that names them.
RULE_IDS: tuple[str, ...] = ids()


def run_checks(context: Context) -> list[Finding]:
    """Every registered rule's own check, findings returned (never appended to a shared list)."""
    found: list[Finding] = []
    for rule in list(REGISTRY.values()):
        if rule.check is not None:
            found.extend(rule.check(context))
    return found
