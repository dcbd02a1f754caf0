"""reason_code: a demote or disable carries a reason code of the policy and a justification.

Emergency demotes and disables need no evidence (the on-call path stays
fast; a dependent they would strand moves back in the same change, with the
same code: ``flaggate demote`` writes that cascade), but their ``transition`` block
names ``reason_code``, one of ``policy.yaml``'s ``reason_codes``
(``DRIFT_BREACH``, ``WRITE_ERRORS``, ``BACKFILL_INCOMPLETE``,
``REPAIR_FAILURES``, ``DELIVERY_FAILURES``, ``REPLAY_MISMATCH``,
``OPERATOR_DECISION``).

Passing: ``enforce -> shadow`` with ``reason_code: DRIFT_BREACH``.
Failing: the same without ``reason_code``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from validator.finding import Finding
    from validator.gate import Move
    from validator.records import Policy

RULE = "reason_code"


def check(move: Move, policy: Policy, head_codes: list[str] | None = None) -> list[Finding]:
    """A demote or disable names a reason code of the base policy."""
    head = move.head
    if head is None or head.flag is None:
        raise ValueError("the gate was handed a move without the files it describes")
    block = head.flag.transition
    if block is None:
        return []  # reported by the transition block check
    codes = ", ".join(policy.reason_codes)
    if block.reason_code is None:
        return [
            head.finding(("transition",), RULE, f"{move.kind} {move.before} -> {move.after} needs transition.reason_code, one of: {codes}")
        ]
    if block.reason_code not in policy.reason_codes and (head_codes is None or block.reason_code in head_codes):
        # A code unknown to the tree's policy too is the consistency rule's finding, at the same line: one finding per problem.
        message = f"reason code {block.reason_code} is not one of the base policy's: {codes}"
        return [head.finding(("transition", "reason_code"), RULE, message)]
    return []
