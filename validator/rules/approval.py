"""approval: a promotion carries an effective approval of the flag's owners (``flaggate pr-check``).

An approval is effective when it is the reviewer's latest non-comment review,
its state is APPROVED, it was given on the pull request's current head sha,
the reviewer is neither the author nor a committer or pusher of the pull
request, and the reviewer is an owner of the flag (a listed login, or a member
of a listed ``org/team``: by the GitHub API when the token can read it, else
by ``policy.yaml``'s ``teams``, read from the base branch).  Logins compare
case-insensitively.  A promotion needs ``approvals`` (policy) such approvals,
``final_step_approvals`` for the plan's last step; a demote needs one from an
owner or from the policy's ``on_call``.

Passing: an owner approved the head sha.  Failing: only the author approved,
or the approval was given on an older commit.
"""

from __future__ import annotations

RULE = "approval"
