"""transition: with ``--base REF``, every state change is one legal step, described.

Compared with the flags at git revision REF (the pull request's base), each
flag (identified by its ``name``, so a file rename is not a new flag) may:

* **promote**: one step forward along its rollout plan (``off -> shadow``,
  ``canary 5% -> canary 25%``, the backfill's ``active -> off``);
* **demote**: one step back in an emergency (``enforce -> shadow``,
  ``full -> canary 25%``);
* **disable**: from the plan's second step back to its first (``shadow -> off``).

Anything else is refused, naming the base state, the new state and the legal
next steps: ``off -> enforce``, ``off -> canary 25%``, two steps back, a state
that does not exist.  Legality is judged on the plan as it is at REF, so a
change cannot edit the plan and jump in one go.  A new flag file must start in
its plan's first step; a flag file may be deleted only if the flag was in its
first state (off) at REF and no other flag requires it.  At most
``max_promotions_per_change`` (policy, 1) promotions per change.

The ``transition`` block must describe the change: ``from`` and ``to`` equal
the base and new states (a block left over from an earlier change is
refused), percentages too where given, and a justification is present.

Passing: ``state: shadow -> enforce`` with ``transition: {from: shadow, to:
enforce, ...}``.  Failing: ``state: off -> enforce`` ("legal next steps:
shadow (promote)").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from validator import plan

if TYPE_CHECKING:
    from validator.finding import Finding
    from validator.gate import Move
    from validator.records import Policy

RULE = "transition"


def block_findings(move: Move) -> list[Finding]:
    """The transition block describes the move: from, to and percentages match, a justification is given."""
    head = move.head
    if not (head is not None and head.flag is not None and move.before is not None and move.after is not None):
        raise ValueError("the gate was handed a move without the files it describes")
    block = head.flag.transition
    if block is None:
        return [
            head.finding(
                ("state",),
                RULE,
                f"{move.kind} {move.before} -> {move.after} needs a transition block (from, to, justification); `flaggate {'promote' if move.kind == plan.PROMOTE else 'demote'}` writes it",
            )
        ]
    stale = []
    if block.from_ != move.before.state:
        stale.append(("from", f"transition.from is {block.from_!r} but the flag was {move.before.state!r} at the base"))
    # transition.to against the new state is the consistency rule's, reported without a base too.
    if block.from_percentage is not None and block.from_percentage != move.before.percentage:
        stale.append(
            (
                "from_percentage",
                f"transition.from_percentage is {block.from_percentage} but the base percentage is {move.before.percentage}",
            )
        )
    if block.to_percentage is not None and block.to_percentage != move.after.percentage:
        stale.append(("to_percentage", f"transition.to_percentage is {block.to_percentage} but the percentage is {move.after.percentage}"))
    base_block = move.base.flag.transition if move.base and move.base.flag else None
    hint = " (the block was left over from an earlier change)" if base_block == block else ""
    return [head.finding(("transition", key), RULE, message + hint) for key, message in stale]


def promotions_per_change(moves: list[Move], policy: Policy) -> list[Finding]:
    """At most ``max_promotions_per_change`` promotions: each gets its own evidence, approval and audit entry."""
    promotions = [m for m in moves if m.kind == plan.PROMOTE and m.head is not None]
    if len(promotions) <= policy.max_promotions_per_change:
        return []
    names = ", ".join(m.flag or "" for m in promotions)
    message = (
        f"this change promotes {len(promotions)} flags ({names}); policy allows {policy.max_promotions_per_change} per change, "
        "so each gets its own evidence, approval and audit entry"
    )
    return [m.head.finding(("state",), RULE, message) for m in promotions if m.head is not None]
