"""``flaggate rollback-check``: rollback triggers over metric samples; with --apply the demote, with --open-pr the pull request."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from validator.commands import root as _root
from validator.errors import FatalError


def run(args: argparse.Namespace) -> int:
    from validator import edit, emergency, plan, rollback
    from validator.repo import read_flag
    from validator.report import text

    root = _root(args)
    file = read_flag(root, args.flag)
    if not (file.flag is not None):
        raise ValueError("expected a read flag file here: cli.py was called out of order")
    opening = _open_pr_preflight(root, args) if args.open_pr else None
    samples = rollback.read_samples(args.samples)
    # When the flag entered its state is the history's to say: --since stands in where git cannot
    # tell, and can only narrow the window (samples from before the entry measured another state).
    entered = _entered_at(root, file.flag.name, plan.position(file.flag))
    since = args.since if entered is None or (args.since is not None and args.since > entered) else entered
    # The clock, as every command: "now" taken from the newest sample would let stale samples
    # from before a timeout's deadline stand for a flag nobody has measured since.
    now = args.now or datetime.now(UTC)
    report = rollback.evaluate(file.flag, samples, since=since, now=now)
    print(rollback.render(report))
    if not report.fired or not (args.apply or args.open_pr):
        return report.verdict
    reason = report.fired[0].trigger.reason_code
    try:
        change = emergency.prepare(
            root,
            args.flag,
            reason=reason,
            justification=rollback.justification(report),
            snapshot=report.snapshot(),
            to=None,
            base="HEAD",
            now=now,
        )
    except edit.NoMove as refused:
        raise FatalError(f"the emergency demote cannot be written: {refused}; nothing written") from None
    print("\n".join(change.lines(reason)))
    if not change.result.ok:
        print(text(change.result))
        raise FatalError("the emergency demote would not pass flaggate check --base HEAD; nothing written")
    edit.write_all(root, change.changes)
    p = change.primary
    print(f"applied: {p.kind} {p.flag}: {p.before} -> {p.after} ({reason}); wrote {' '.join(c.path for c in change.changes)}")
    if opening is not None:
        _open_pr(root, args, opening, change, reason, rollback.render(report))
    return 1


def _entered_at(root: Path, flag: str, position: object) -> datetime | None:
    """When the flag entered its current step, from git history; None outside git."""
    from validator import history, timeline

    try:
        standing = timeline.standings(timeline.events(root, "HEAD")).get(flag)
    except history.HistoryError:
        return None
    return standing.entered_at if standing is not None else None


def _open_pr_preflight(root: Path, args: argparse.Namespace) -> dict[str, str]:
    """Everything --open-pr needs, checked before anything is written: token, repository, remote, a clean tree, a branch."""
    from validator import history

    if not os.environ.get("GITHUB_TOKEN"):
        raise FatalError("GITHUB_TOKEN is not set: --open-pr needs a token that can open pull requests; nothing written")
    repo = args.repo or os.environ.get("GITHUB_REPOSITORY") or ""
    if repo.count("/") != 1:
        raise FatalError("--open-pr needs --repo OWNER/NAME (or GITHUB_REPOSITORY); nothing written")
    history.ensure_repository(root)
    if not history.git(root, "remote", "get-url", args.remote, check=False).strip():
        raise FatalError(f"--open-pr: no git remote {args.remote!r} to push to (--remote NAME); nothing written")
    dirty = history.git(root, "status", "--porcelain", "--untracked-files=no", check=False).strip()
    if dirty:
        first = dirty.splitlines()[0].strip()
        raise FatalError(
            f"--open-pr needs a clean working tree (the pull request must hold the demote alone), but {first!r} is changed: "
            "commit or stash it; nothing written"
        )
    base = history.current_branch(root)
    import secrets

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    # Unique per run: a retry after a failed push or pull request never collides with the branch it left.
    branch = f"flaggate/rollback-{args.flag}-{stamp}-{secrets.token_hex(3)}"
    return {"repo": repo, "base": base, "branch": branch}


def _open_pr(root: Path, args: argparse.Namespace, opening: dict[str, str], change: Any, reason: str, report: str) -> None:
    """Commit the written demote on its own branch, push it, open the pull request; on failure, restore the tree."""
    from validator import github, history

    p = change.primary
    moved = len(change.changes)
    title = f"Emergency demote: {p.flag} {p.before} -> {p.after} ({reason})" + (f", {moved - 1} cascaded" if moved > 1 else "")
    branch = opening["branch"]
    paths = [c.path for c in change.changes]
    try:
        history.push_branch(root, branch, paths, title, args.remote)
    except FatalError:
        _restore(root, change.changes)
        history.git(root, "branch", "-q", "-D", branch, check=False)
        raise
    body = f"{title}\n\nOpened by `flaggate rollback-check`.\n\n```text\n{report}\n```\n"
    try:
        url = github.open_emergency_pr(
            repo=opening["repo"],
            head=branch,
            base=opening["base"],
            title=title,
            body=body,
            label=args.label,
            retries=args.retries,
            timeout=args.timeout,
            throttle=args.throttle,
        )
    except FatalError as exc:
        raise FatalError(f"{exc}; the demote is pushed on branch {branch}: open the pull request from it, or run again") from None
    print(f"opened {url} from branch {branch}")


def _restore(root: Path, changes: list[Any]) -> None:
    """Put back the files a failed --open-pr wrote, where they still hold what it wrote."""
    from validator import edit

    for change in changes:
        path = root / change.path
        try:
            if path.read_text(encoding="utf-8") == change.new_text:
                edit.write_atomically(path, change.old_text.encode("utf-8"))
        except OSError:
            pass
