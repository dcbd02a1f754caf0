"""``flaggate pr-check``: the only module that imports PyGithub.

Reads the pull request, judges the change locally exactly as
``flaggate check --base <base sha>`` does, evaluates approvals, then updates
one summary comment in place and sets the ``flaggate`` commit status on the
head sha.  Every GitHub or network fault is one line and exit 2; nothing is
posted when the head moved while checking, and a failed validation never
posts a success status.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from github import Auth, Github, GithubException, RateLimitExceededException
from urllib3.util.retry import Retry

from validator import check, history, jsonfile, pull_request
from validator.errors import FatalError
from validator.records import Policy
from validator.report import Result, escape, text

DEFAULT_API = "https://api.github.com"


class GitHubFault(FatalError):
    """GitHub or the network failed us: exit 2 with a one-line cause."""


@contextlib.contextmanager
def doing(what: str, api: str, timeout: float) -> Iterator[None]:
    """Turn every fault of one GitHub step into a one-line GitHubFault."""
    try:
        yield
    except RateLimitExceededException as exc:
        reset = (exc.headers or {}).get("x-ratelimit-reset")
        when = f" (resets at {datetime.fromtimestamp(int(reset), UTC).strftime('%H:%M:%SZ')})" if reset and str(reset).isdigit() else ""
        raise GitHubFault(f"GitHub rate limit exceeded while {what}{when}") from None
    except GithubException as exc:
        raise GitHubFault(_describe(exc, what)) from None
    except requests.exceptions.Timeout:
        raise GitHubFault(f"GitHub did not answer within {timeout:g}s while {what}") from None
    except requests.exceptions.RetryError as exc:
        raise GitHubFault(f"GitHub kept failing while {what}, after retries: {_reason(exc)}") from None
    except requests.exceptions.ConnectionError as exc:
        raise GitHubFault(f"cannot connect to the GitHub API at {api} while {what}: {_reason(exc)}") from None
    except requests.exceptions.RequestException as exc:
        raise GitHubFault(f"request to GitHub failed while {what}: {_reason(exc)}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GitHubFault(f"GitHub sent a malformed answer while {what}: {type(exc).__name__}: {exc}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def _describe(exc: GithubException, what: str) -> str:
    status = exc.status
    message = exc.data.get("message", "") if isinstance(exc.data, dict) else ""
    headers = exc.headers or {}
    if status == 401:
        return f"GitHub rejected the token (401 {message or 'Bad credentials'}) while {what}: check GITHUB_TOKEN"
    if status in (403, 429) and (str(headers.get("x-ratelimit-remaining")) == "0" or "rate limit" in message.lower()):
        return f"GitHub rate limit exceeded ({status}) while {what}"
    if status == 403:
        return (
            f"GitHub refused ({status} {message or 'Forbidden'}) while {what}: the token cannot do this "
            "(a pull request from a fork gets a read-only token)"
        )
    if status == 404:
        return f"GitHub found nothing (404) while {what}: check the repository and pull request number, and the token's access"
    if status is not None and status >= 500:
        return f"GitHub server error {status} while {what}"
    return f"GitHub answered {status} {message} while {what}".strip()


# GitHub caps webhook payloads at 25 MB; the event file is one of them.
MAX_EVENT_BYTES = 25 * 1024 * 1024


def _event() -> dict[str, Any]:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_EVENT_BYTES + 1)
    except OSError as exc:
        raise FatalError(f"cannot read the event file GITHUB_EVENT_PATH={path}: {exc.strerror}") from None
    try:
        data = jsonfile.loads(raw, max_bytes=MAX_EVENT_BYTES).data
    except jsonfile.JSONError as exc:
        raise FatalError(f"the event file GITHUB_EVENT_PATH={path}:{exc.line}:{exc.column} is not valid JSON: {exc.message}") from None
    if not isinstance(data, dict):
        raise FatalError(f"the event file GITHUB_EVENT_PATH={path} holds {type(data).__name__}, not a JSON object")
    return data


def _member(event: dict[str, Any], key: str, inner: str, kind: type) -> Any:
    """``event[key][inner]`` when present, with a one-line cause when the event has another shape."""
    outer = event.get(key)
    if outer is None:
        return None
    if not isinstance(outer, dict):
        raise FatalError(f"the event file's {key!r} is not an object; is GITHUB_EVENT_PATH a pull_request event?")
    value = outer.get(inner)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise FatalError(f"the event file's {key}.{inner} is not {'a string' if kind is str else 'a whole number'}")
    return value


def target(repo: str | None, number: int | None) -> tuple[str, int]:
    """The pull request to check: --repo/--pr, else the workflow's event."""
    if repo and number:
        return repo, number
    event = _event()
    name = repo or _member(event, "repository", "full_name", str) or os.environ.get("GITHUB_REPOSITORY")
    found = number or _member(event, "pull_request", "number", int)
    if not name or not isinstance(found, int):
        raise FatalError("no pull request: pass --repo OWNER/NAME --pr N, or run in a pull_request workflow (GITHUB_EVENT_PATH)")
    if name.count("/") != 1:
        raise FatalError(f"--repo must be OWNER/NAME, not {name!r}")
    return name, found


def connect(token: str, api: str, *, retries: int, timeout: float, throttle: float | None) -> Github:
    retry: Retry | None = None
    if retries > 0:
        retry = Retry(
            total=retries,
            backoff_factor=0.5,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=None,
            respect_retry_after_header=False,
            raise_on_status=True,
        )
    options: dict[str, Any] = {}
    if throttle is not None:
        options = {"seconds_between_requests": throttle, "seconds_between_writes": throttle}
    return Github(auth=Auth.Token(token), base_url=api.rstrip("/"), timeout=int(max(timeout, 1)), retry=retry, per_page=100, **options)


def fetch(gh: Github, name: str, number: int, step: Any) -> tuple[Any, Any, pull_request.Pull]:
    with step("reading the pull request"):
        repo = gh.get_repo(name)
        pr = repo.get_pull(number)
        pull = pull_request.Pull(
            number=pr.number,
            title=pr.title or "",
            author=pr.user.login if pr.user else "ghost",
            head_sha=pr.head.sha,
            base_sha=pr.base.sha,
            head_ref=pr.head.ref,
            base_ref=pr.base.ref,
            default_branch=repo.default_branch,
        )
    with step("listing the pull request's reviews"):
        for review in pr.get_reviews():
            submitted = review.submitted_at.isoformat() if review.submitted_at else None
            pull.reviews.append(
                pull_request.Review(review.id, review.user.login if review.user else "ghost", review.state, review.commit_id, submitted)
            )
    with step("listing the pull request's commits"):
        listed = 0
        for commit in pr.get_commits():
            listed += 1
            for person, identity in ((commit.author, "author"), (commit.committer, "committer")):
                if person is not None and person.login:
                    pull.committers.add(person.login)
                elif identity == "author" or not _web_flow(commit):
                    who = getattr(getattr(commit.commit, identity, None), "email", None) or "?"
                    pull.unlinked.append(f"{commit.sha[:12]} {identity} <{who}>")
        # GitHub lists at most 250 commits of a pull request; its own count says how many there are.
        total = pr.commits
        pull.unlisted_commits = max(0, total - listed) if isinstance(total, int) else 0
    with step("listing the pull request's files"):
        # GitHub lists at most 3000 files and a rename under its new name only: git's comparison
        # (run() adds it) is what counts; this list is kept for what GitHub shows.
        pull.changed_files = [f.filename for f in pr.get_files()]
    return repo, pr, pull


def _web_flow(commit: Any) -> bool:
    """GitHub itself committed it (merge button, web edits): its committer is GitHub, not a person."""
    email = getattr(getattr(commit.commit, "committer", None), "email", None) or ""
    return email == "noreply@github.com"


def team_lookup(gh: Github, policy: Policy, step: Any) -> pull_request.TeamLookup:
    cache: dict[str, tuple[set[str] | None, str]] = {}
    listed = {k.lower(): {m.lower() for m in v} for k, v in policy.teams.items()}

    def lookup(team: str) -> tuple[set[str] | None, str]:
        if team in cache:
            return cache[team]
        org, slug = team.split("/", 1)
        answer: tuple[set[str] | None, str]
        try:
            with step(f"reading the members of team {team}"):
                members = {m.login for m in gh.get_organization(org).get_team_by_slug(slug).get_members()}
            answer = (members, "the GitHub team API")
        except GitHubFault as fault:
            # GITHUB_TOKEN cannot read team membership (403/404): use the base's approvers list.
            if "403" not in str(fault) and "404" not in str(fault):
                raise
            answer = (listed.get(team.lower()), "policy.yaml teams on the base branch (the token cannot read teams)")
        cache[team] = answer
        return answer

    return lookup


def run(
    root: Path, *, repo: str | None, number: int | None, now: datetime, retries: int, timeout: float, throttle: float | None, dry_run: bool
) -> int:
    token = os.environ.get("GITHUB_TOKEN")
    if not token:
        raise FatalError("GITHUB_TOKEN is not set: pr-check needs a token to read the pull request and report on it")
    api = os.environ.get("GITHUB_API_URL") or DEFAULT_API
    name, pr_number = target(repo, number)
    gh = connect(token, api, retries=retries, timeout=timeout, throttle=throttle)

    def step(what: str) -> Any:
        return doing(what, api, timeout)

    gh_repo, pr, pull = fetch(gh, name, pr_number, step)
    head = _local_commit(root, pull.head_sha)
    # What the pull request changes, as GitHub compares it (from the merge base), read from git.
    pull.changed_files = sorted({*pull.changed_files, *history.changed_files(root, f"{pull.base_sha}...{head}")})
    # The head is judged as git stores it: a checkout's filters or uncommitted files play no part.
    result: Result = check.run(root, history.GitTree(root, head), base=pull.base_sha, now=now)
    judgement = result.judgement
    if judgement is None:
        raise FatalError("the change was not judged against a base")
    policy = judgement.policy
    approvals = pull_request.evaluate(pull, judgement.moves, policy, team_lookup(gh, policy, step))
    final = Result([*result.findings, *approvals.findings], result.checked, result.transitions, judgement)
    body = pull_request.comment(pull, final, approvals)
    print(text(final))
    for verdict in approvals.verdicts:
        counted = "counted for " + ", ".join(verdict.counted_for) if verdict.counted_for else "not counted: " + "; ".join(verdict.reasons)
        print(f"review {verdict.review.id} by {escape(verdict.review.login)} ({escape(verdict.review.state)}): {escape(counted)}")
    if dry_run:
        print(body)
        return 0 if final.ok else 1

    with step("checking that the head did not move"):
        head_now = gh_repo.get_pull(pr_number).head.sha
    if head_now != pull.head_sha:
        raise GitHubFault(
            f"the head moved from {pull.head_sha[:12]} to {head_now[:12]} while checking; posting nothing stale (the new head gets its own run)"
        )

    with step("updating the summary comment"):
        _upsert_comment(gh, pr, body)
    state = "success" if final.ok else "failure"
    description = "flags checked: all rules pass" if final.ok else f"{len(final.errors)} problem(s): see the summary comment"
    with step("setting the flaggate commit status"):
        options: dict[str, Any] = {}
        run_url = _run_url()
        if run_url:
            options["target_url"] = run_url
        context = pull_request.status_context(pull)
        gh_repo.get_commit(pull.head_sha).create_status(state=state, description=description[:140], context=context, **options)
    print(f"flaggate: posted the summary comment and status {context!r} {state} on {pull.head_sha[:12]}", file=sys.stderr)
    return 0 if final.ok else 1


def _local_commit(root: Path, sha: str) -> str:
    """The pull request's head must be in this clone: it is what gets judged."""
    history.ensure_repository(root)
    if history.git(root, "cat-file", "-t", f"{sha}^{{commit}}", check=False).strip() != "commit":
        raise FatalError(
            f"the pull request's head {sha[:12]} is not in this clone; fetch it (actions/checkout with fetch-depth: 0 checks it out)"
        )
    return sha


def _run_url() -> str | None:
    server, repo, run_id = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else None


def _upsert_comment(gh: Github, pr: Any, body: str) -> None:
    """Update our one comment (found by the hidden marker) or create it; never a second one."""
    try:
        own = gh.get_user().login
    except GithubException:
        own = None  # an Actions token cannot read /user; our comments are then the bot's
    mine = None
    for existing in pr.get_issue_comments():
        if pull_request.MARKER not in (existing.body or ""):
            continue
        user = existing.user
        if (own is not None and user is not None and user.login == own) or (own is None and user is not None and user.type == "Bot"):
            mine = existing
            break
    if mine is None:
        pr.create_issue_comment(body)
    elif mine.body != body:
        mine.edit(body)


def open_emergency_pr(
    *, repo: str | None, head: str, base: str, title: str, body: str, label: str, retries: int, timeout: float, throttle: float | None
) -> str:
    """Open the emergency demote pull request and label it; returns its URL."""
    token = os.environ.get("GITHUB_TOKEN")
    if not token:
        raise FatalError("GITHUB_TOKEN is not set: --open-pr needs a token that can open pull requests")
    api = os.environ.get("GITHUB_API_URL") or DEFAULT_API
    name = repo or os.environ.get("GITHUB_REPOSITORY")
    if not name or name.count("/") != 1:
        raise FatalError("--open-pr needs --repo OWNER/NAME (or GITHUB_REPOSITORY)")
    gh = connect(token, api, retries=retries, timeout=timeout, throttle=throttle)
    with doing("opening the emergency pull request", api, timeout):
        pull = gh.get_repo(name).create_pull(title=title, body=body, head=head, base=base)
    with doing(f"labelling pull request #{pull.number} {label!r}", api, timeout):
        pull.add_to_labels(label)
    return pull.html_url or f"#{pull.number}"
