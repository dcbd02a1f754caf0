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

RULE = "reason_code"
