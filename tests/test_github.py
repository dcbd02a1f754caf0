"""``flaggate pr-check``: real PyGithub against a fake GitHub on 127.0.0.1, real git repositories."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run
from tests.fakegithub import FakeGitHub, Fault, Pull
from tests.gitrepo import commit_all, git, new_repo, set_state, three_runs

NOW = "2026-11-20T12:00:00Z"
AT = "2026-11-20T11:00:00Z"


@pytest.fixture
def repo(tmp_path: Path) -> dict[str, Any]:
    """A base commit and a head commit promoting allocation_dual_write shadow -> enforce."""
    path = new_repo(tmp_path)
    base = git(path, "rev-parse", "HEAD").strip()
    git(path, "checkout", "-q", "-b", "promote")
    set_state(path, "allocation_dual_write", "enforce", frm="shadow", justification="3 green cycles", evidence=three_runs(path))
    head = commit_all(path, "promote dual write", "2026-11-20T09:00:00Z")
    return {"path": path, "base": base, "head": head}


@pytest.fixture
def fake(repo: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    with FakeGitHub() as server:
        server.add_pull(Pull(7, "Promote dual write", "dev-dana", repo["head"], repo["base"], head_ref="promote"))
        server.pulls[7].commits = [
            {
                "sha": repo["head"],
                "author": server.user("dev-dana"),
                "committer": server.user("pusher-pat"),
                "url": f"{server.url}/repos/{server.repo}/commits/{repo['head']}",
            }
        ]
        server.pulls[7].files = ["flags/allocation_dual_write.yaml"]
        monkeypatch.setenv("GITHUB_TOKEN", "good-token")
        monkeypatch.setenv("GITHUB_API_URL", server.url)
        monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
        yield server


def pr_check(repo: dict[str, Any], capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    return run(
        [
            "pr-check",
            "--root",
            str(repo["path"]),
            "--repo",
            "acme-payments/flags",
            "--pr",
            "7",
            "--retries",
            "0",
            "--throttle",
            "0",
            "--timeout",
            "2",
            "--now",
            NOW,
            *extra,
        ],
        capsys,
    )


def status_states(fake: FakeGitHub, sha: str) -> list[str]:
    return [s["state"] for s in fake.statuses.get(sha, []) if s["context"] == "flaggate"]


def test_owner_approval_passes_and_posts(repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    fake.review(fake.pulls[7], "lena-ledger", "APPROVED", repo["head"], AT)
    code, out, err = pr_check(repo, capsys)
    assert code == 0, out + err
    assert status_states(fake, repo["head"]) == ["success"]
    [comment] = fake.pulls[7].comments
    body = comment["body"]
    assert body.startswith("<!-- flaggate:summary -->")
    assert "| allocation_dual_write | shadow | enforce | promote | 3 green cycles |" in body
    assert "```mermaid" in body and "class s2 moved" in body
    assert "rr-0101 | green (drift_ppm 0, write_error_rate 0)" in body
    assert "member of acme-payments/ledger-platform, from policy.yaml teams" in body


def test_rerun_updates_the_one_comment(repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    pr_check(repo, capsys)
    assert status_states(fake, repo["head"]) == ["failure"]
    fake.review(fake.pulls[7], "omar-ledger", "APPROVED", repo["head"], AT)
    code, _, _ = pr_check(repo, capsys)
    assert code == 0
    assert len(fake.pulls[7].comments) == 1
    assert "✅ passed" in fake.pulls[7].comments[0]["body"]
    assert [w[0] for w in fake.writes if "comments" in w[1]] == ["POST", "PATCH"]
    assert status_states(fake, repo["head"]) == ["failure", "success"]


@pytest.mark.parametrize(
    ("reviews", "counted", "why"),
    [
        ([("dev-dana", "APPROVED", "head")], False, "the pull request's author"),
        ([("lena-ledger", "APPROVED", "old")], False, "not the head"),
        ([("lena-ledger", "APPROVED", "head"), ("lena-ledger", "CHANGES_REQUESTED", "head")], False, "latest review is changes requested"),
        ([("lena-ledger", "APPROVED", "head"), ("lena-ledger", "DISMISSED", "head")], False, "latest review is dismissed"),
        ([("lena-ledger", "APPROVED", "head"), ("lena-ledger", "COMMENTED", "head")], True, ""),
        ([("pusher-pat", "APPROVED", "head")], False, "authored or pushed commits"),
        ([("rita-recon", "APPROVED", "head")], False, "not an owner"),
        ([("LENA-Ledger", "APPROVED", "head")], True, ""),
    ],
)
def test_which_approvals_count(
    reviews: list[tuple[str, str, str]], counted: bool, why: str, repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    if any(login == "dev-dana" for login, _, _ in reviews):
        fake.tokens["good-token"] = {"login": "flaggate-bot", "type": "Bot"}
    for i, (login, state, sha) in enumerate(reviews):
        fake.review(fake.pulls[7], login, state, repo["head"] if sha == "head" else repo["base"], f"2026-11-20T1{i}:00:00Z")
    code, out, _ = pr_check(repo, capsys)
    assert (code == 0) is counted, out
    assert status_states(fake, repo["head"]) == (["success"] if counted else ["failure"])
    if why:
        assert why in out
        assert any(e.startswith("flags/allocation_dual_write.yaml:") and ": approval: " in e for e in out.splitlines())


def test_team_owner_through_the_api(repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    fake.teams["acme-payments/ledger-platform"] = ["api-only-member"]
    fake.review(fake.pulls[7], "api-only-member", "APPROVED", repo["head"], AT)
    code, out, _ = pr_check(repo, capsys)
    assert code == 0, out
    assert "from the GitHub team API" in fake.pulls[7].comments[0]["body"]


def test_demote_approved_by_on_call(tmp_path: Path, fake: FakeGitHub, repo: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    path = repo["path"]
    git(path, "checkout", "-q", "main")
    git(path, "checkout", "-q", "-b", "demote")
    set_state(path, "allocation_dual_write", "off", frm="shadow", reason="DRIFT_BREACH", justification="drift 900 ppm")
    head = commit_all(path, "demote", "2026-11-20T09:30:00Z")
    pull = fake.pulls[7]
    pull.head_sha = head
    pull.commits[0]["sha"] = head
    fake.review(pull, "oncall-ana", "APPROVED", head, AT)
    code, out, _ = pr_check(repo, capsys)
    assert code == 0, out


def test_pagination_over_several_pages(repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    pull = fake.pulls[7]
    for i in range(230):
        fake.review(pull, f"reviewer-{i}", "COMMENTED", repo["head"], f"2026-11-20T10:{i % 60:02d}:00Z")
    fake.review(pull, "lena-ledger", "APPROVED", repo["head"], "2026-11-20T11:30:00Z")
    pull.files = [f"docs/file-{i}.md" for i in range(250)] + ["flags/allocation_dual_write.yaml"]
    for i in range(240):
        pull.comments.append(
            {
                "id": fake.next_id(),
                "body": f"chatter {i}",
                "user": fake.user(f"human-{i}"),
                "url": f"{fake.url}/repos/{fake.repo}/issues/comments/{i}",
            }
        )
    code, out, _ = pr_check(repo, capsys)
    assert code == 0, out
    pages = [p for m, p in fake.requests if p.endswith("/reviews")]
    assert len(pages) == 3
    code, _, _ = pr_check(repo, capsys)
    ours = [c for c in pull.comments if c["body"].startswith("<!-- flaggate:summary -->")]
    assert len(ours) == 1 and len(pull.comments) == 241
    # GitHub's 251 files and, from git, the three runs the head adds beside the flag file.
    assert "Files changed: 254, of which 4 flag, evidence or policy files." in ours[0]["body"]


def test_a_marker_in_someone_elses_comment_is_ignored(repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    pull = fake.pulls[7]
    pull.comments.append(
        {
            "id": 1,
            "body": "<!-- flaggate:summary --> fake verdict: passed",
            "user": fake.user("mallory"),
            "url": f"{fake.url}/repos/{fake.repo}/issues/comments/1",
        }
    )
    pr_check(repo, capsys)
    assert [w[0] for w in fake.writes if "comments" in w[1]] == ["POST"]


def test_hostile_pull_request_text_is_inert(repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    path = repo["path"]
    hostile = "$(touch /tmp/pwned) `rm -rf /` <script>alert(1)</script> @everyone @acme-payments/ledger-platform \x1b[31mred"
    set_state(path, "allocation_dual_write", "enforce", frm="shadow", justification=hostile, evidence=["rr-0101", "rr-0102", "rr-0103"])
    head = commit_all(path, "hostile", "2026-11-20T09:40:00Z")
    pull = fake.pulls[7]
    pull.head_sha, pull.title, pull.head_ref = head, hostile, "x`$(id)`<b>"
    pr_check(repo, capsys)
    body = pull.comments[0]["body"]
    assert "<script>" not in body and "<b>" not in body and "\x1b" not in body
    assert "@everyone" not in body and "@acme-payments" not in body and "@\u200beveryone" in body
    assert "`rm -rf /`" not in body and "`$(id)`" not in body
    assert not Path("/tmp/pwned").exists()


def test_event_file_names_the_pull_request(
    repo: dict[str, Any], fake: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}, "repository": {"full_name": "acme-payments/flags"}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    fake.review(fake.pulls[7], "lena-ledger", "APPROVED", repo["head"], AT)
    code, _, _ = run(["pr-check", "--root", str(repo["path"]), "--retries", "0", "--throttle", "0", "--now", NOW], capsys)
    assert code == 0


# --- faults: exit 2, one line, nothing written -------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("fault", "expect"),
    [
        ("no-token", "GITHUB_TOKEN is not set"),
        ("bad-token", "401"),
        ("read-only", "403"),
        ("rate-limit", "rate limit"),
        ("server-error", "server error 502"),
        ("server-error-retried", "after retries"),
        ("timeout", "did not answer within"),
        ("malformed", "malformed"),
        ("refused", "cannot connect"),
        ("head-moved", "head moved"),
        ("head-not-fetched", "is not in this clone; fetch it"),
    ],
)
def test_faults(
    fault: str, expect: str, repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.review(fake.pulls[7], "lena-ledger", "APPROVED", repo["head"], AT)
    extra: list[str] = []
    if fault == "no-token":
        monkeypatch.delenv("GITHUB_TOKEN")
    elif fault == "bad-token":
        monkeypatch.setenv("GITHUB_TOKEN", "stolen")
    elif fault == "read-only":
        fake.faults.append(Fault(r"/issues/\d+/comments$", 403, '{"message": "Resource not accessible by integration"}', method="POST"))
    elif fault == "rate-limit":
        fake.faults.append(
            Fault(
                r"/pulls/7$",
                403,
                '{"message": "API rate limit exceeded"}',
                headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1795000000"},
            )
        )
    elif fault == "server-error":
        fake.faults.append(Fault(r"/reviews$", 502, '{"message": "Bad Gateway"}'))
    elif fault == "server-error-retried":
        fake.faults.append(Fault(r"/reviews$", 503, '{"message": "Unavailable"}'))
        extra = ["--retries", "2"]
    elif fault == "timeout":
        fake.faults.append(Fault(r"/commits$", 200, "[]", delay=2.5))
        extra = ["--timeout", "1"]
    elif fault == "malformed":
        fake.faults.append(Fault(r"/files$", 200, "{not json"))
    elif fault == "refused":
        monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{_closed_port()}")
    elif fault == "head-moved":
        fake.pulls[7].head_after_first_read = "f" * 40
    elif fault == "head-not-fetched":
        fake.pulls[7].head_sha = "e" * 40
    code, out, err = pr_check(repo, capsys, *extra)
    assert code == 2, (out, err)
    assert expect in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("flaggate: error")]) == 1
    assert fake.writes == []
    assert fake.statuses == {}


def test_pr_check_is_the_only_importer_of_pygithub() -> None:
    root = Path(__file__).resolve().parents[1] / "validator"
    importers = sorted(p.name for p in root.rglob("*.py") if "from github import" in p.read_text() or "\nimport github" in p.read_text())
    assert importers == ["github.py"]  # and the check path never imports it: test_check.py


def _amend_head(repo: dict[str, Any], fake: FakeGitHub, files: list[str]) -> str:
    """Re-point PR 7 at a head that amends dual write's soak (7 -> 5 days) and nothing else."""
    path = repo["path"]
    git(path, "checkout", "-q", "main")
    git(path, "checkout", "-q", "-b", "amend-soak")
    flag = path / "flags/allocation_dual_write.yaml"
    flag.write_text(flag.read_text().replace("soak_days: 7", "soak_days: 5"))
    head = commit_all(path, "soak 5 days", "2026-11-20T09:30:00Z")
    pull = fake.pulls[7]
    pull.head_sha = head
    pull.commits[0]["sha"] = head
    pull.files = files
    return head


def test_an_amend_needs_the_platform_owners_besides_the_flags_owners(
    repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    head = _amend_head(repo, fake, ["flags/allocation_dual_write.yaml"])
    fake.review(fake.pulls[7], "lena-ledger", "APPROVED", head, AT)  # the flag's owner only
    code, out, _ = pr_check(repo, capsys)
    assert code == 1 and "amend of allocation_dual_write's rules (the platform owners) needs 1 effective approval" in out, out
    body = fake.pulls[7].comments[0]["body"]
    assert "| allocation_dual_write | shadow | shadow | amend | rules changed: rollout\\[1\\].soak_days |" in body
    assert "#### Amendments (rules changed, before → after)" in body
    assert "- allocation_dual_write: rollout\\[1\\].soak_days: 7 → 5" in body
    assert "acme-payments/platform-admins" in body
    assert status_states(fake, head) == ["failure"]

    fake.review(fake.pulls[7], "dana-platform", "APPROVED", head, "2026-11-20T11:30:00Z")
    code, out, _ = pr_check(repo, capsys)
    assert code == 0, out
    assert status_states(fake, head) == ["failure", "success"]


def test_a_change_to_the_validator_needs_the_platform_owners(
    repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.pulls[7].files = ["flags/allocation_dual_write.yaml", "validator/gate.py"]
    fake.review(fake.pulls[7], "lena-ledger", "APPROVED", repo["head"], AT)
    code, out, _ = pr_check(repo, capsys)
    assert code == 1 and "a change to the validator, schemas or workflows (validator/gate.py)" in out, out
    fake.review(fake.pulls[7], "eli-platform", "APPROVED", repo["head"], "2026-11-20T11:30:00Z")
    assert pr_check(repo, capsys)[0] == 0


def test_the_head_is_judged_from_git_objects_not_the_checkout(
    repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repo["path"]
    git(path, "checkout", "-q", repo["base"])  # whatever is checked out, the head commit is what is judged
    flag = path / "flags/outbox_enabled.yaml"
    flag.write_text(flag.read_text().replace("state: off", "state: on"))  # uncommitted and illegal: not judged
    fake.review(fake.pulls[7], "lena-ledger", "APPROVED", repo["head"], AT)
    code, out, _ = pr_check(repo, capsys)
    assert code == 0, out
    assert "outbox_enabled" not in fake.pulls[7].comments[0]["body"]


def test_a_commit_by_an_unlinked_identity_makes_approvals_uncountable(
    repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    commit = fake.pulls[7].commits[0]
    commit["author"] = None  # GitHub links the commit's email to no account: it could be anyone, the reviewer too
    commit["commit"] = {"author": {"name": "Lena", "email": "lena@laptop.local"}, "committer": {"name": "Pat", "email": "pat@example.com"}}
    fake.review(fake.pulls[7], "lena-ledger", "APPROVED", repo["head"], AT)
    code, out, _ = pr_check(repo, capsys)
    assert code == 1 and "linked to no GitHub account" in out and "lena@laptop.local" in out, out


@pytest.mark.parametrize(
    "path",
    [
        "setup.py",
        "setup.cfg",
        "MANIFEST.in",
        "public/config.json",
        "validator/gate.py",
        ".GITATTRIBUTES",
        "Validator/gate.py",
        ".gitattributeſ",
    ],
)  # in any case: on a case-insensitive checkout (macOS, Windows) .GITATTRIBUTES is .gitattributes
def test_packaging_and_published_files_need_the_platform_owners(path: str) -> None:
    from validator import pull_request
    from validator.repo import WorkTree, load_snapshot

    policy = load_snapshot(WorkTree(Path(__file__).resolve().parents[1])).policy
    assert policy is not None
    pull = pull_request.Pull(7, "t", "mallory", "a" * 40, "b" * 40, "x", "main", changed_files=[path])
    verdict = pull_request.evaluate(pull, [], policy, lambda team: (set(), "policy.yaml teams"))
    assert [f.rule for f in verdict.findings] == ["approval"] and "platform-admins" in verdict.findings[0].message
    pull.unlinked = ["0123456789ab author <someone@laptop>"]
    assert any("linked to no GitHub account" in f.message for f in pull_request.evaluate(pull, [], policy, lambda t: (set(), "x")).findings)


def test_one_person_in_both_groups_is_not_two_approvals(repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    fake.teams["acme-payments/platform-admins"] = ["lena-ledger", "dana-platform"]
    head = _amend_head(repo, fake, ["flags/allocation_dual_write.yaml"])
    fake.review(fake.pulls[7], "lena-ledger", "APPROVED", head, AT)  # a flag owner who is also a platform owner
    code, out, _ = pr_check(repo, capsys)
    assert code == 1 and "a second person must approve" in out, out
    fake.review(fake.pulls[7], "dana-platform", "APPROVED", head, "2026-11-20T11:30:00Z")
    assert pr_check(repo, capsys)[0] == 0


def test_a_tooling_file_moved_away_needs_the_platform_owners(
    repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repo["path"]
    (path / "docs").mkdir()
    git(path, "mv", "schema/flag.schema.json", "docs/flag.schema.json")
    head = commit_all(path, "move the schema away", "2026-11-20T09:30:00Z")
    pull = fake.pulls[7]
    pull.head_sha = pull.commits[0]["sha"] = head
    pull.files = ["flags/allocation_dual_write.yaml", "docs/flag.schema.json"]  # GitHub lists a rename under its new name
    fake.review(pull, "lena-ledger", "APPROVED", head, AT)
    code, out, _ = pr_check(repo, capsys)
    assert code == 1 and "a change to the validator, schemas or workflows" in out and "schema/flag.schema.json" in out, out
    assert status_states(fake, head) == ["failure"]


def test_files_past_githubs_listing_still_count(repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    path = repo["path"]
    (path / "validator").mkdir()
    (path / "validator/gate.py").write_text("# the soak rule, made a no-op\n")
    head = commit_all(path, "and the validator", "2026-11-20T09:30:00Z")
    pull = fake.pulls[7]
    pull.head_sha = pull.commits[0]["sha"] = head
    # GitHub lists the first 3000 files of a pull request; validator/gate.py is not among them.
    pull.files = [f"docs/file-{i:04d}.md" for i in range(3000)] + ["flags/allocation_dual_write.yaml", "validator/gate.py"]
    fake.review(pull, "lena-ledger", "APPROVED", head, AT)
    code, out, _ = pr_check(repo, capsys)
    assert code == 1 and "a change to the validator, schemas or workflows (validator/gate.py)" in out, out


def test_commits_past_githubs_listing_make_approvals_uncountable(
    repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    pull = fake.pulls[7]
    filler = {"author": fake.user("dev-dana"), "committer": fake.user("dev-dana")}
    # 250 commits GitHub lists, then the promotion written by the approver herself as commit 251.
    pull.commits = [{**filler, "sha": f"{i:040x}", "url": f"{fake.url}/c/{i}"} for i in range(250)] + [
        {"sha": repo["head"], "author": fake.user("lena-ledger"), "committer": fake.user("lena-ledger"), "url": f"{fake.url}/c/x"}
    ]
    fake.review(pull, "lena-ledger", "APPROVED", repo["head"], AT)
    code, out, _ = pr_check(repo, capsys)
    assert code == 1 and "GitHub lists only the first commits of this pull request (1 more are not listed)" in out, out
    assert status_states(fake, repo["head"]) == ["failure"]
    pull.commits = pull.commits[:1]  # the same approval on a pull request GitHub lists whole counts
    assert pr_check(repo, capsys)[0] == 0


def test_a_second_pull_request_of_the_same_head_into_another_branch_posts_its_own_status(
    repo: dict[str, Any], fake: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    """A status belongs to the commit: the same head opened into a branch where the flag already stands
    at enforce passes there, and must not turn the default branch's required ``flaggate`` green (attack
    round 11: it did, the last status posted being the one GitHub shows)."""
    path = repo["path"]
    git(path, "checkout", "-q", "-b", "evil-base", repo["base"])
    git(path, "checkout", "-q", repo["head"], "--", "flags/allocation_dual_write.yaml", "evidence")
    evil = commit_all(path, "the same file pushed straight to an unprotected branch", "2026-11-20T08:00:00Z")
    git(path, "checkout", "-q", "promote")
    fake.add_pull(Pull(8, "Promote dual write", "dev-dana", repo["head"], evil, head_ref="promote", base_ref="evil-base"))
    fake.pulls[8].commits = fake.pulls[7].commits
    fake.pulls[8].files = fake.pulls[7].files
    code, out, err = pr_check(repo, capsys)  # into main: no owner approved
    assert code == 1, out + err
    code, out, err = pr_check(repo, capsys, "--pr", "8")
    assert code == 0 and "'flaggate (into evil-base)' success" in err, out + err
    assert status_states(fake, repo["head"]) == ["failure"]
    assert [s["state"] for s in fake.statuses[repo["head"]] if s["context"] == "flaggate (into evil-base)"] == ["success"]


def test_long_branch_names_keep_their_own_status() -> None:
    """Cut at 100 characters, a protected branch and a look-alike sharing its beginning shared one status (attack round 12)."""
    from validator.pull_request import Pull, status_context

    stem = "release/2026-q4/payments-ledger-cutover/phase-b/dual-write-enforce-window/cab-approved-freeze-"
    names = [stem + "main", stem + "mine", stem * 3 + "main", stem * 3 + "mine", "main"]
    contexts = [status_context(Pull(1, "t", "a", "0" * 40, "0" * 40, "h", name, default_branch="main")) for name in names]
    assert len(set(contexts)) == len(names) and contexts[-1] == "flaggate", contexts
    assert all(len(c) <= 200 for c in contexts)
