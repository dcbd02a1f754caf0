"""What ``flaggate pr-check`` decides, without talking to GitHub: approvals and the comment.

``validator.github`` (the PyGithub adapter) fetches the pull request and posts the results; this
module is pure, so every approval case and every rendering is testable on
plain data.  Everything taken from the pull request (titles, branch names,
justifications, logins) is rendered inert in the comment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from validator import plan, rules
from validator.finding import ERROR, Finding
from validator.gate import Move
from validator.records import Policy
from validator.report import Result, inert, summary
from validator.rules import amend, approval
from validator.rules.layout import folded_name

MARKER = "<!-- flaggate:summary -->"
CONTEXT = "flaggate"  # the commit status of a pull request into the default branch (the one to require there)
MAX_COMMENT = 60_000

# Team lookup: team -> (members or None when unknown, where the answer came from)
TeamLookup = Callable[[str], tuple[set[str] | None, str]]


@dataclass(frozen=True)
class Review:
    id: int
    login: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
    commit_id: str | None
    submitted_at: str | None


@dataclass
class Pull:
    number: int
    title: str
    author: str
    head_sha: str
    base_sha: str
    head_ref: str
    base_ref: str
    default_branch: str | None = None  # the repository's, as GitHub names it
    committers: set[str] = field(default_factory=set)  # authors and committers of the PR's commits
    unlinked: list[str] = field(default_factory=list)  # commit identities GitHub links to no account
    changed_files: list[str] = field(default_factory=list)
    unlisted_commits: int = 0  # commits GitHub does not list (it lists at most 250 of a pull request)
    reviews: list[Review] = field(default_factory=list)


def status_context(pull: Pull) -> str:
    """The commit status's name: ``flaggate`` for a pull request into the default branch, else named for its base.

    A status belongs to a commit, not to a pull request: the same head opened
    a second time into another branch (where the flag may already stand where
    the head puts it) would otherwise post its verdict over the one the default
    branch requires.  Protecting another branch: require ``flaggate (into <branch>)``.
    """
    if pull.default_branch is not None and pull.base_ref == pull.default_branch:
        return CONTEXT
    context = f"{CONTEXT} (into {pull.base_ref})"
    if len(context) > 200:  # never cut: two long names sharing their beginning would share a status
        digest = hashlib.sha256(pull.base_ref.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        context = f"{CONTEXT} (into {pull.base_ref[:120]}... sha256:{digest})"
    return context


@dataclass
class ReviewVerdict:
    review: Review
    counted_for: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


@dataclass
class Approvals:
    findings: list[Finding]
    verdicts: list[ReviewVerdict]
    needed: dict[str, str]  # flag -> what it needs, for the comment
    sources: set[str]


def latest_reviews(reviews: list[Review]) -> tuple[dict[str, Review], list[Review]]:
    """Each reviewer's latest non-comment review, and the reviews that do not decide anything."""
    latest: dict[str, Review] = {}
    others = []
    for review in sorted(reviews, key=lambda r: (r.submitted_at or "", r.id)):
        if review.state in ("COMMENTED", "PENDING"):
            others.append(review)
            continue
        key = review.login.lower()
        if key in latest:
            others.append(latest[key])
        latest[key] = review
    return latest, others


def evaluate(pull: Pull, moves: list[Move], policy: Policy, teams: TeamLookup) -> Approvals:
    """Which reviews count for which moves, and what is missing (rule ``approval``)."""
    latest, others = latest_reviews(pull.reviews)
    verdicts: dict[int, ReviewVerdict] = {r.id: ReviewVerdict(r) for r in [*latest.values(), *others]}
    for review in others:
        verdict = verdicts[review.id]
        verdict.reasons.append("a comment" if review.state == "COMMENTED" else "superseded by the reviewer's later review")
    eligible: dict[str, Review] = {}
    for key, review in latest.items():
        verdict = verdicts[review.id]
        if review.state != "APPROVED":
            verdict.reasons.append(f"latest review is {review.state.lower().replace('_', ' ')}")
        elif (review.commit_id or "") != pull.head_sha:
            verdict.reasons.append(f"approved commit {(review.commit_id or '?')[:12]}, not the head {pull.head_sha[:12]}")
        elif key == pull.author.lower():
            verdict.reasons.append("the pull request's author")
        elif key in {c.lower() for c in pull.committers}:
            verdict.reasons.append("authored or pushed commits in the pull request")
        else:
            eligible[key] = review

    findings: list[Finding] = []
    needed: dict[str, str] = {}
    sources: set[str] = set()
    needs = requirements(pull, moves, policy)
    approved: dict[int, list[str]] = {}
    for index, need in enumerate(needs):
        approvers = []
        for review in eligible.values():
            via = _owner_match(review.login, need.owners, teams, sources)
            if via is not None:
                approvers.append(review.login)
                verdicts[review.id].counted_for.append(f"{need.key} ({via})")
        approved[index] = approvers
        text = f"{need.count} from {', '.join(need.owners)}"
        needed[need.key] = f"{needed[need.key]}; and {text}" if need.key in needed else text
        found = f"approved by {', '.join(approvers)}" if approvers else "no effective approval yet"
        if need.besides is not None and len(approvers) >= need.count:
            # "In addition to": someone other than the one approval the earlier requirement rests on.
            earlier = approved.get(need.besides, [])
            if len(earlier) == 1 and set(approvers) == set(earlier):
                approvers = []
                found = f"only {earlier[0]}, who already counts for the flag's owners: a second person must approve"
        if len(approvers) < need.count:
            findings.append(
                Finding(
                    need.file,
                    need.line,
                    need.column,
                    approval.RULE,
                    f"{need.what} needs {need.count} effective approval{'s' if need.count != 1 else ''} from {', '.join(need.owners)}; {found}",
                    need.flag,
                    ERROR,
                )
            )
    if pull.unlisted_commits and needs:
        findings.append(
            Finding(
                "flags/",
                1,
                1,
                approval.RULE,
                f"GitHub lists only the first commits of this pull request ({pull.unlisted_commits} more are not listed), so "
                "whether a reviewer wrote one of the others cannot be told and no approval can count; split the pull request",
                None,
                ERROR,
            )
        )
    if pull.unlinked and needs:
        shown = ", ".join(sorted(set(pull.unlinked))[:3])
        findings.append(
            Finding(
                "flags/",
                1,
                1,
                approval.RULE,
                f"commits in this pull request are by identities linked to no GitHub account ({shown}), so whether a reviewer "
                "wrote them cannot be told and no approval can count; link the email to its account or re-author the commits",
                None,
                ERROR,
            )
        )
    for review in eligible.values():
        verdict = verdicts[review.id]
        if not verdict.counted_for:
            verdict.reasons.append("not an owner of any flag this pull request moves" if moves else "nothing here needs an approval")
    ordered = sorted(verdicts.values(), key=lambda v: (v.review.submitted_at or "", v.review.id))
    return Approvals(findings, ordered, needed, sources)


# Files that decide how every flag is judged: changing them needs the platform owners,
# and CI judges such a pull request with the base's validator, never its own.
TOOLING = (
    "validator/",
    "schema/",
    ".github/",
    ".ci/",
    "public/",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "MANIFEST.in",
    ".pre-commit-config.yaml",
    ".pre-commit-hooks.yaml",
    ".gitattributes",
)
_TOOLING_FOLDED = tuple(folded_name(path) for path in TOOLING)


@dataclass(frozen=True)
class Requirement:
    """Approvals one change needs: ``count`` from ``owners``."""

    key: str  # the flag, or the file, the comment lists it under
    owners: list[str]
    count: int
    what: str
    file: str
    line: int = 1
    column: int = 1
    flag: str | None = None
    besides: int | None = None  # index of a requirement whose approver must not be the only one counted here


def requirements(pull: Pull, moves: list[Move], policy: Policy) -> list[Requirement]:
    """Every approval the pull request needs: per move, and for changes to the tooling."""
    found = []
    for move in moves:
        file = move.head or move.base
        line, column = file.doc.where(("state",)) if file and file.doc else (1, 1)
        where = file.path if file else (move.path or "flags/")
        key = move.flag or move.path or "?"
        if move.kind == amend.KIND:
            platform = list(policy.platform_owners)
            if move.flag is not None:
                flag = move.base.flag if move.base and move.base.flag else None
                owners = list(flag.owners) if flag else []
                what = f"amend of {move.flag}'s rules"
                found.append(Requirement(key, owners, 1, f"{what} (the flag's owners)", where, line, column, move.flag))
                found.append(
                    Requirement(key, platform, 1, f"{what} (the platform owners)", where, line, column, move.flag, besides=len(found) - 1)
                )
            else:
                found.append(Requirement(key, platform, 1, f"amend of {move.path}", move.path or ".", 1, 1, None))
            continue
        owners, count, what = _requirement(move, policy)
        found.append(Requirement(key, owners, count, what, where, line, column, move.flag))
    # In either case: on a case-insensitive checkout (macOS, Windows) .GITATTRIBUTES is .gitattributes.
    tooling = sorted(f for f in pull.changed_files if folded_name(f).startswith(_TOOLING_FOLDED) or folded_name(f) in _TOOLING_FOLDED)
    if tooling:
        shown = ", ".join(tooling[:3]) + (f" and {len(tooling) - 3} more" if len(tooling) > 3 else "")
        found.append(
            Requirement(
                "tooling",
                list(policy.platform_owners),
                1,
                f"a change to the validator, schemas or workflows ({shown})",
                tooling[0],
            )
        )
    return found


def _requirement(move: Move, policy: Policy) -> tuple[list[str], int, str]:
    if move.kind == plan.PROMOTE:
        flag = move.base.flag if move.base and move.base.flag else None
        owners = list(flag.owners) if flag else []
        final = flag is not None and plan.is_final(plan.steps(flag), plan.locate(plan.steps(flag), move.after) or 0)  # type: ignore[arg-type]
        count = policy.final_step_approvals if final else policy.approvals
        return owners, count, f"promotion of {move.flag} to {move.after}"
    if move.kind in (plan.DEMOTE, plan.DISABLE):
        flag = move.base.flag if move.base and move.base.flag else None
        owners = [*(flag.owners if flag else []), *policy.on_call]
        return owners, 1, f"{move.kind} of {move.flag} to {move.after}"
    return list(policy.platform_owners), 1, f"{move.kind} of flag {move.flag}"


def _owner_match(login: str, owners: list[str], teams: TeamLookup, sources: set[str]) -> str | None:
    for owner in owners:
        if "/" not in owner:
            if owner.lower() == login.lower():
                return f"owner {owner}"
            continue
        members, source = teams(owner)
        sources.add(source)
        if members is not None and login.lower() in {m.lower() for m in members}:
            return f"member of {owner}, from {source}"
    return None


# --- rendering -------------------------------------------------------------------------------
def _mermaid(move: Move) -> str:
    file = move.base or move.head
    flag = file.flag if file is not None else None
    if flag is None:
        return ""
    steps = plan.steps(flag)
    lines = ["```mermaid", "stateDiagram-v2"]
    for i, step in enumerate(steps):
        lines.append(f"    s{i} : {step}")
    lines.append("    [*] --> s0")
    for i in range(len(steps) - 1):
        lines.append(f"    s{i} --> s{i + 1}")
    before = plan.locate(steps, move.before) if move.before else None
    after = plan.locate(steps, move.after, move.before.state if move.before else None) if move.after else None
    if before is not None and after is not None and after < before:
        lines.append(f"    s{before} --> s{after} : {move.kind}")
    if after is not None:
        lines.append("    classDef moved fill:#ffd54f,stroke:#e65100,stroke-width:3px")
        lines.append(f"    class s{after} moved")
    if before is not None:
        lines.append("    classDef was stroke-dasharray: 5 5")
        lines.append(f"    class s{before} was")
    lines.append("```")
    return "\n".join(lines)


def comment(pull: Pull, result: Result, approvals: Approvals) -> str:
    """The one summary comment, updated in place on every run (found by MARKER)."""
    ok = result.ok and not approvals.findings
    status = "✅ passed" if ok else "❌ failed"
    lines = [
        MARKER,
        f"### flaggate {status}",
        "",
        f"Pull request #{pull.number}: {inert(pull.title, 120)} (`{pull.head_sha[:12]}`, "
        f"branch {inert(pull.head_ref, 80)} into {inert(pull.base_ref, 80)})",
        "",
        summary(result),
        "",
    ]
    if pull.changed_files:
        flag_files = [f for f in pull.changed_files if f.startswith(("flags/", "evidence/", "policy.yaml", "resources.yaml"))]
        lines += [f"Files changed: {len(pull.changed_files)}, of which {len(flag_files)} flag, evidence or policy files.", ""]
    judgement = result.judgement
    moves: list[Move] = judgement.moves if judgement is not None else []
    if moves:
        lines += ["| flag | from | to | kind | justification |", "|---|---|---|---|---|"]
        for move in moves:
            if move.kind == amend.KIND:
                name = inert(move.flag or move.path or "?", 120)
                changed = ", ".join(inert(c["field"], 80) for c in move.changes[:5]) + (" …" if len(move.changes) > 5 else "")
                state = str(move.before) if move.before else "-"
                lines.append(f"| {name} | {state} | {state} | amend | rules changed: {changed} |")
                continue
            block = move.head.flag.transition if move.head and move.head.flag else None
            why = inert(block.justification) if block else ""
            lines.append(
                f"| {inert(move.flag or '?', 80)} | {move.before or '(new)'} | {move.after or '(deleted)'} | {move.kind} | {why} |"
            )
        lines.append("")
    else:
        lines += ["No flag changes state in this pull request.", ""]

    amends = [m for m in moves if m.kind == amend.KIND]
    if amends:
        lines += [
            "#### Amendments (rules changed, before → after)",
            "",
            "An amend changes how flags are judged: it needs the platform owners' approval besides the flag's owners, "
            "and it takes effect for later pull requests.",
            "",
        ]
        for move in amends:
            for change in move.changes:
                before, after = (inert(amend.show(change[side]), 200) for side in ("before", "after"))
                lines.append(f"- {inert(move.flag or move.path or '?', 120)}: {inert(change['field'], 120)}: {before} → {after}")
        lines.append("")

    pending = {f.flag: f.message for f in result.findings if f.rule == "soak"}
    soaks = [_soak_line(move, pending.get(move.flag)) for move in moves if move.kind == plan.PROMOTE]
    if any(soaks):
        lines += ["#### Soak", "", *[line for line in soaks if line], ""]

    runs = [(move.flag, run) for move in moves if move.verdict for run in move.verdict.runs]
    if runs:
        lines += ["#### Evidence (recomputed from inputs)", "", "| flag | run | verdict |", "|---|---|---|"]
        for flag, run in runs:
            if run.green:
                figures = ", ".join(f"{k} {_figure(v)}" for k, v in sorted(run.metrics.items()))
                verdict = f"green ({figures})" if figures else "green"
            else:
                verdict = "not green: " + "; ".join(inert(p.message.split(": ", 1)[-1], 160) for p in run.problems)
            lines.append(f"| {inert(flag or '?', 80)} | {inert(run.run_id, 60)} | {verdict} |")
        lines.append("")

    by_rule: dict[str, list[Finding]] = {}
    for finding in [*result.findings, *approvals.findings]:
        by_rule.setdefault(finding.rule, []).append(finding)
    # Every rule with findings gets a section, in the registry's order: one added later is never
    # counted but left unshown (approvals have their own section below).
    first = ("transition", "amend", "soak", "evidence", "dependency", "reason_code", "layout", "consistency", "schema", "yaml")
    order = [*first, *(r for r in rules.ids() if r not in first), *sorted(r for r in by_rule if r not in rules.REGISTRY)]
    for rule in [r for r in order if r != "approval"]:
        items = [
            f
            for f in by_rule.get(rule, [])
            if not (rule == "evidence" and f.file.startswith("evidence/") and any(f in run.problems for _, run in runs))
        ]
        if not items:
            continue
        lines += [f"#### {rule}", ""]
        for f in items:
            level = "⚠️ " if f.severity != ERROR else ""
            lines.append(f"- {level}{inert(f.file, 120)}:{f.line}: {inert(f.message, 400)}")
        lines.append("")

    lines += ["#### Approvals", ""]
    if approvals.needed:
        for flag, need in approvals.needed.items():
            lines.append(f"- {inert(flag, 80)}: needs {inert(need, 300)}")
        for finding in approvals.findings:
            lines.append(f"- ❌ missing: {inert(finding.message, 400)}")
        if approvals.sources:
            lines.append(f"- team membership read from: {', '.join(sorted(approvals.sources))}")
        lines.append("")
    if approvals.verdicts:
        lines += ["| reviewer | review | counted | why |", "|---|---|---|---|"]
        for v in approvals.verdicts:
            counted = "yes: " + ", ".join(v.counted_for) if v.counted_for else "no"
            sha = (v.review.commit_id or "")[:12]
            lines.append(
                f"| {inert(v.review.login, 60)} | {v.review.state.lower()} on `{sha}` | {inert(counted, 300)} | {inert('; '.join(v.reasons), 300)} |"
            )
        lines.append("")
    else:
        lines += ["No reviews yet.", ""]

    for move in moves:
        diagram = _mermaid(move)
        if diagram:
            lines += [f"#### {move.flag}: {move.before or '(new)'} → {move.after or '(deleted)'}", "", diagram, ""]
    body = "\n".join(lines)
    if len(body) > MAX_COMMENT:  # GitHub refuses comments over 65,536 characters
        body = body[: MAX_COMMENT - 200].rsplit("\n", 1)[0] + "\n\n… (truncated: the full report is in the job log)\n"
    return body


def _soak_line(move: Move, pending: str | None) -> str | None:
    from validator import clock

    base = move.base.flag if move.base and move.base.flag else None
    at = move.from_step
    if base is None or at is None or not base.rollout[at].soak_days:
        return None
    days = base.rollout[at].soak_days
    entered = f"entered {move.before} at {clock.iso(move.entered_at)}" if move.entered_at else f"entry into {move.before} not found"
    verdict = f"❌ not yet: {inert(pending, 300)}" if pending else "✅ done"
    return f"- {move.flag}: {entered}; the plan soaks {days} day{'s' if days != 1 else ''} there: {verdict}"


def _figure(value: object) -> str:
    from decimal import Decimal

    from validator.metrics import display

    return display(value) if isinstance(value, Decimal) else str(value)
