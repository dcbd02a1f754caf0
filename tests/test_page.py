"""The status page: content, escaping and determinism on a scripted history; then a real headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.gitrepo import commit_all, new_repo, set_state, write_run

HOSTILE = '<script>alert("x")</script> @here'
DRIFT_400 = {"ledger_total": "1000400.00", "legacy_total": "1000000.00", "failed_ledger_writes": 0, "total_ledger_writes": 1000}


def scripted(tmp_path: Path) -> Path:
    """Promotions with evidence, a demote with a reason code, a canary mid-soak."""
    repo = new_repo(tmp_path, date="2026-11-01T00:00:00Z")
    runs = []
    for i, inputs in enumerate([None, DRIFT_400, None]):
        run_id = f"rr-{101 + i:04d}"
        write_run(repo, "allocation_dual_write", run_id, 101 + i, finished=f"2026-11-{18 + i}T01:12:00Z", inputs=inputs)
        runs.append(run_id)
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", justification="3 green runs; " + HOSTILE, evidence=runs)
    commit_all(repo, "promote dual write", "2026-11-21T10:00:00Z")
    set_state(repo, "allocation_dual_write", "shadow", frm="enforce", justification="drift 812 ppm at 02:10", reason="DRIFT_BREACH")
    commit_all(repo, "demote dual write", "2026-11-22T02:30:00Z")
    set_state(repo, "allocation_read_switch", "canary", percentage=5, frm="off", justification="canary starts")
    commit_all(repo, "canary 5", "2026-11-15T09:00:00Z")
    canary_runs = []
    for i in range(3):
        run_id = f"rs-{201 + i}"
        inputs = {**DRIFT_400, "ledger_total": ("1000000.50", "1000000.80", "1000000.20")[i]}
        write_run(
            repo,
            "allocation_read_switch",
            run_id,
            201 + i,
            state="canary",
            finished=f"2026-11-{19 + i}T01:12:00Z",
            inputs=inputs,
            flag_percentage=5,
        )
        canary_runs.append(run_id)
    set_state(
        repo, "allocation_read_switch", "canary", percentage=25, frm="canary", from_pct=5, justification="5% soaked", evidence=canary_runs
    )
    commit_all(repo, "canary 25", "2026-11-24T12:00:00Z")
    commit_all(repo, "publish day", "2026-11-25T12:00:00Z")
    return repo


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("page")
    repo = scripted(tmp)
    out = tmp / "public"
    from validator.cli import main

    # The scripted history is hand-made for the page (what it draws), published as trusted.
    assert main(["publish", "--root", str(repo), "--out", str(out), "--since", "HEAD"]) == 0
    assert main(["publish", "--root", str(repo), "--out", str(tmp / "again"), "--since", "HEAD"]) == 0
    return out


def page(out: Path) -> str:
    return (out / "index.html").read_text(encoding="utf-8")


def test_page_is_deterministic(published: Path) -> None:
    assert (published / "index.html").read_bytes() == (published.parent / "again" / "index.html").read_bytes()


def test_page_is_self_contained(published: Path) -> None:
    text = page(published)
    assert "<script" not in text.replace("&lt;script", "")
    assert not re.search(
        r"(?i)\b(src|srcset|action)=|url\(|@import|https?://(?!www\\.w3\\.org/2000/svg)",
        text.replace('xmlns="http://www.w3.org/2000/svg"', ""),
    )
    links = re.findall(r'href="([^"]*)"', text)
    assert links and all(link.startswith("#") or link in ("config.json", "audit-log.json", "flagd.json", "data:,") for link in links)


def test_hostile_text_is_inert(published: Path) -> None:
    text = page(published)
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text


def test_page_shows_plan_soak_timeline_and_evidence(published: Path) -> None:
    text = page(published)
    config = json.loads((published / "config.json").read_text())
    assert text.count('<section class="flag"') == len(config["flags"]) == 6
    # Current step marked, with a text alternative naming it.
    assert "Plan of allocation_read_switch: off → canary 5% → canary 25% → full; current step: canary 25% (step 3 of 4)" in text
    # Soak: entered canary 25% on 11-24 12:00, published 11-25 12:00: one of three days.
    assert "the plan soaks 3 days here: 1.0 of 3 days, 2.0 days to go." in text
    assert '<progress max="259200" value="86400"' in text
    # Timeline with the reason code of the demote, newest first.
    dual = text[text.index('id="flag-allocation_dual_write"') : text.index('id="flag-allocation_read_switch"')]
    timeline = dual[dual.index('<ol class="timeline">') : dual.index("</ol>")]
    assert timeline.index("enforce → shadow") < timeline.index("shadow → enforce") < timeline.index("(new) → shadow")
    assert "reason DRIFT_BREACH" in timeline
    # Evidence: drift per run against the guard (max 500), recomputed from the inputs: 0, 400, 0.
    assert "drift_ppm per run against the guard (at most 500): rr-0101 0, rr-0102 400, rr-0103 0" in dual
    assert "write_error_rate per run against the guard (at most 0.01)" in dual
    switch = text[text.index('id="flag-allocation_read_switch"') :]
    assert "drift_ppm per run against the guard (at most 1): rs-201 0.5, rs-202 0.8, rs-203 0.2" in switch
    assert 'class="bar breach"' not in text


def test_a_breaching_run_is_drawn_as_such() -> None:
    from decimal import Decimal

    from validator.page import Point, chart_svg
    from validator.records import Guard

    svg = chart_svg(
        "c", "drift_ppm", [Point("a", Decimal(0)), Point("b", Decimal(600)), Point("c", None)], Guard(metric="drift_ppm", max=500)
    )
    assert svg.count('class="bar breach"') == 1 and svg.count('class="bar"') == 1 and ">n/a<" in svg
    assert "a 0, b 600, c not computable" in svg


def test_every_picture_has_a_text_alternative(published: Path) -> None:
    text = page(published)
    svgs = re.findall(r"<svg[^>]*>.*?</svg>", text, re.S)
    assert len(svgs) >= 6
    for svg in svgs:
        ident = re.search(r'aria-labelledby="([^"]+)"', svg)
        assert ident and 'role="img"' in svg and f'<title id="{ident.group(1)}">' in svg
    assert len(set(re.findall(r'\bid="([^"]+)"', text))) == len(re.findall(r'\bid="([^"]+)"', text))  # ids unique


def test_readme_shows_the_screenshot() -> None:
    import struct

    from tests.conftest import REPO

    assert "](docs/status-page.png)" in (REPO / "README.md").read_text(encoding="utf-8")
    png = (REPO / "docs" / "status-page.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < 300_000
    assert struct.unpack(">II", png[16:24])[0] == 1280  # the browser test's window width


def test_a_long_history_keeps_the_latest_promotions() -> None:
    from tests.conftest import REPO
    from validator import history
    from validator.page import EVIDENCE_PROMOTIONS, _evidence

    entries = [
        {"kind": "promote", "from": "off", "to": "on", "evidence": [f"rr-{i}"], "timestamp": f"2026-11-{i + 1:02d}T00:00:00Z"}
        for i in range(8)
    ]
    html = _evidence("outbox_enabled", None, entries, history.GitTree(REPO, "HEAD"))
    assert html.count('<div class="promotion">') == EVIDENCE_PROMOTIONS == 5
    assert "3 earlier promotions are in" in html and "2026-11-08" in html and "2026-11-03" not in html
