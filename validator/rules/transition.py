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

RULE = "transition"
