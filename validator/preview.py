"""``flaggate pr-check --dry-run`` without a token: the pull request comment, previewed offline.

The change is judged from local git exactly as ``flaggate check --base`` does
(against the branch's upstream, ``origin/HEAD`` or ``--base REF``), and the
comment is rendered as ``pr-check`` would post it.  Reviews live on GitHub,
so approvals are listed as needed and marked as not read; nothing is
contacted and PyGithub is never imported.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from validator import check, history, pull_request
from validator.errors import FatalError
from validator.repo import WorkTree
from validator.report import inert, text

NOT_READ = "not read: offline preview without GITHUB_TOKEN (approvals are checked on the pull request)"


def _no_teams(team: str) -> tuple[set[str] | None, str]:
    return None, NOT_READ


def local_pull(root: Path, base: str, base_sha: str) -> pull_request.Pull:
    """The pull request this branch would open, as far as local git can tell."""
    head_sha = history.git(root, "rev-parse", "HEAD").strip()
    title = history.git(root, "log", "-1", "--format=%s", "HEAD").strip()
    author = history.git(root, "log", "-1", "--format=%an", "HEAD").strip()
    branch = history.git(root, "rev-parse", "--abbrev-ref", "HEAD").strip()
    return pull_request.Pull(
        number=0,
        title=title,
        author=author,
        head_sha=head_sha,
        base_sha=base_sha,
        head_ref=branch,
        base_ref=base,
        changed_files=history.changed_files(root, base_sha),
    )


def render(root: Path, base: str, now: datetime) -> tuple[str, str, bool]:
    """(the check's text, the comment's markdown, whether the change passes) for the working tree against ``base``."""
    base_sha = history.resolve(root, base)
    pull = local_pull(root, base, base_sha)
    result = check.run(root, WorkTree(root), base=base_sha, now=now)
    judgement = result.judgement
    if judgement is None:
        raise FatalError("the change was not judged against a base")
    needed = pull_request.evaluate(pull, judgement.moves, judgement.policy, _no_teams).needed
    approvals = pull_request.Approvals(findings=[], verdicts=[], needed=needed, sources={NOT_READ})
    body = pull_request.comment(pull, result, approvals)
    header = f"Pull request #0: {inert(pull.title, 120)}"
    body = body.replace(
        header,
        f"Offline preview (not posted), the working tree as of the last commit: {inert(pull.title, 120)}",
        1,
    )
    body = body.replace("No reviews yet.", f"Reviews {NOT_READ}.", 1)
    return text(result), body, result.ok


def main(root: Path, base: str, now: datetime) -> int:
    report, body, ok = render(root, base, now)
    print(report)
    print(f"approvals: {NOT_READ}")
    print()
    print(body)
    return 0 if ok else 1
