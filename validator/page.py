"""``index.html``: the status page published beside config.json.

One self-contained file: inline CSS and inline SVG, no script, no font, no
image, no link to anything (the icon is an empty ``data:`` URL so browsers do
not ask the server for ``favicon.ico``).  It reads the same way from a file,
from GitHub Pages and without JavaScript.

Everything on it comes from the published commit: the config, the audit log,
the flag files (plans, soak days, guards) and the evidence files, read from
git.  "Now" is the commit's time, so two publishes of one commit give the same
bytes.  Every value from a file is HTML-escaped, its control, bidi and
zero-width characters written as escapes (``inert.escape``).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from validator import clock, history, metrics
from validator.inert import escape
from validator.records import Flag, Guard
from validator.repo import load_snapshot
from validator.rules.evidence import evidence_path, plain_run_id

FILE = "index.html"
TIMELINE_LENGTH = 6
EVIDENCE_PROMOTIONS = 5  # a long history stays a page: older promotions are in audit-log.json


def esc(value: Any, limit: int = 400) -> str:
    # Tabs and newlines are HTML whitespace; every other unsafe character is written as its escape (inert.escape).
    text = escape(str(value).replace("\t", " ").replace("\n", " "))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=True)


def step_label(state: str, percentage: int | None) -> str:
    return f"{state} {percentage}%" if percentage is not None else state


@dataclass(frozen=True)
class Point:
    run_id: str
    value: Decimal | None  # None: the run's inputs do not give the metric (shown as such)


# --- pictures ---------------------------------------------------------------------------------


def plan_svg(name: str, steps: Sequence[tuple[str, int | None]], current: int | None) -> str:
    """The rollout plan as a row of steps; the current one filled, the ones behind it tinted."""
    box_w, box_h, gap, pad = 104, 34, 22, 4
    width = pad * 2 + len(steps) * box_w + (len(steps) - 1) * gap
    labels = [step_label(s, p) for s, p in steps]
    where = (
        f"current step: {labels[current]} (step {current + 1} of {len(steps)})" if current is not None else "current step not on the plan"
    )
    title = f"Plan of {name}: {' → '.join(labels)}; {where}"
    parts = [
        f'<svg class="plan" role="img" aria-labelledby="plan-{esc(name)}" width="{width}" height="{box_h + pad * 2}" '
        f'viewBox="0 0 {width} {box_h + pad * 2}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="plan-{esc(name)}">{esc(title)}</title>',
    ]
    for i, label in enumerate(labels):
        x = pad + i * (box_w + gap)
        if i > 0:
            ax = x - gap
            parts.append(f'<path d="M{ax + 3} {pad + box_h // 2}h{gap - 9}" class="arrow"/>')
            parts.append(f'<path d="M{x - 6} {pad + box_h // 2 - 4}l5 4-5 4z" class="head"/>')
        kind = "now" if i == current else ("done" if current is not None and i < current else "todo")
        parts.append(f'<rect class="step {kind}" x="{x}" y="{pad}" width="{box_w}" height="{box_h}" rx="6"/>')
        parts.append(f'<text class="{kind}" x="{x + box_w // 2}" y="{pad + box_h // 2 + 5}" text-anchor="middle">{esc(label, 14)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _scaled(value: Decimal, top: Decimal, height: int) -> int:
    if top <= 0:
        return 0
    return int((value / top * height).to_integral_value())


def chart_svg(chart_id: str, metric: str, points: Sequence[Point], guard: Guard) -> str:
    """Bars per run, and the guard's bound as a dashed line; a bar that breaches it is marked."""
    bar_w, gap, plot_h, left, top_pad, bottom = 26, 10, 60, 44, 8, 18
    width = left + len(points) * (bar_w + gap) + gap
    height = top_pad + plot_h + bottom
    bound = guard.max if guard.max is not None else guard.min
    known = [p.value for p in points if p.value is not None]
    top = max([*known, Decimal(bound) if bound is not None else Decimal(0), Decimal(0)])
    top = top * Decimal("1.25") if top > 0 else Decimal(1)
    described = ", ".join(f"{p.run_id} {metrics.display(p.value) if p.value is not None else 'not computable'}" for p in points)
    limit = f"at most {bound}" if guard.max is not None else f"at least {bound}"
    title = f"{metric} per run against the guard ({limit}): {described}"
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{chart_id}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}">{esc(title, 2000)}</title>',
        f'<path class="axis" d="M{left} {top_pad}v{plot_h}h{width - left}"/>',
    ]
    for i, point in enumerate(points):
        x = left + gap + i * (bar_w + gap)
        if point.value is None:
            parts.append(f'<text class="na" x="{x + bar_w // 2}" y="{top_pad + plot_h - 4}" text-anchor="middle">n/a</text>')
        else:
            h = max(_scaled(point.value, top, plot_h), 1)
            breach = (guard.max is not None and point.value > guard.max) or (guard.min is not None and point.value < guard.min)
            parts.append(
                f'<rect class="bar{" breach" if breach else ""}" x="{x}" y="{top_pad + plot_h - h}" width="{bar_w}" height="{h}"/>'
            )
        parts.append(f'<text class="tick" x="{x + bar_w // 2}" y="{height - 4}" text-anchor="middle">{i + 1}</text>')
    if bound is not None:
        y = top_pad + plot_h - _scaled(Decimal(bound), top, plot_h)
        parts.append(f'<path class="guard" d="M{left} {y}h{width - left}"/>')
        parts.append(f'<text class="guardlabel" x="{left - 4}" y="{y + 4}" text-anchor="end">{esc(bound)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# --- reading the published commit --------------------------------------------------------------


def _plan(flag: Flag | None, state: str, percentage: int) -> tuple[list[tuple[str, int | None]], int | None]:
    if flag is None:
        return [(state, None)], 0
    steps = [(step.state, step.percentage) for step in flag.rollout]
    for i, (s, p) in enumerate(steps):
        if s == state and (p is None or p == percentage):
            return steps, i
    return steps, None


def _run_points(tree: history.GitTree, flag: str, run_ids: Sequence[str], metric: str) -> list[Point]:
    points = []
    for run_id in run_ids:
        value: Decimal | None = None
        raw = tree.read(evidence_path(flag, run_id)) if plain_run_id(run_id) else None
        if raw is not None:
            try:
                data = json.loads(raw.decode("utf-8"), parse_float=Decimal)
                inputs = data.get("inputs") if isinstance(data, dict) else None
                if isinstance(inputs, dict):
                    value = metrics.compute(metric, inputs)
            except (UnicodeDecodeError, ValueError):  # MetricError is a ValueError; shown as n/a
                value = None
        points.append(Point(run_id, value))
    return points


def _guards_for(flag: Flag | None, entry: Mapping[str, Any]) -> list[Guard]:
    """The flag's guards plus those of the step the promotion left, each metric once, drift first."""
    if flag is None:
        return []
    guards = list(flag.guards)
    for step in flag.rollout:
        if step.state == entry.get("from") and step.percentage == entry.get("from_percentage"):
            guards.extend(step.guards)
    seen: dict[str, Guard] = {}
    for guard in guards:
        seen.setdefault(guard.metric, guard)
    return sorted(seen.values(), key=lambda g: (g.metric != "drift_ppm", g.metric))


# --- HTML ---------------------------------------------------------------------------------------


def _move(entry: Mapping[str, Any]) -> str:
    frm = entry.get("from")
    before = "(new)" if frm is None else step_label(str(frm), entry.get("from_percentage"))
    after = "(deleted)" if entry.get("to") is None else step_label(str(entry.get("to")), entry.get("to_percentage"))
    return f"{before} → {after}"


def _timeline(entries: Sequence[Mapping[str, Any]]) -> str:
    if not entries:
        return "<p>No transitions in the audit log.</p>"
    items = []
    for entry in reversed(entries[-TIMELINE_LENGTH:]):
        kind = str(entry.get("kind", "change"))
        bits = [
            f'<time datetime="{esc(entry.get("timestamp", ""))}">{esc(entry.get("timestamp", ""))}</time>',
            f'<span class="kind {esc(kind)}">{esc(kind)}</span>',
            f'<span class="move">{esc(_move(entry))}</span>',
        ]
        if entry.get("reason_code"):
            bits.append(f'<span class="reason">reason {esc(entry["reason_code"])}</span>')
        detail = [f"by {esc(entry.get('actor', 'unknown'), 80)}", f"commit <code>{esc(str(entry.get('commit', ''))[:12])}</code>"]
        if entry.get("evidence"):
            detail.append("evidence " + ", ".join(esc(r, 60) for r in entry["evidence"]))
        shown = entry.get("metrics") or {}
        if shown:
            detail.append("metrics " + ", ".join(f"{esc(k)} {esc(v)}" for k, v in sorted(shown.items())))
        text = f'<p class="why">{esc(entry.get("justification", ""))}</p>' if entry.get("justification") else ""
        warning = f'<p class="warning">warning: {esc(entry["warning"])}</p>' if entry.get("warning") else ""
        items.append(f"<li>{' '.join(bits)}<br><small>{'; '.join(detail)}</small>{text}{warning}</li>")
    return f'<ol class="timeline">{"".join(items)}</ol>'


def _soak(flag: Flag | None, current: int | None, entries: Sequence[Mapping[str, Any]], now: int | None) -> str:
    if flag is None or current is None:
        return "<p>Soak unknown: the current step is not on the plan.</p>"
    if current == len(flag.rollout) - 1:
        return "<p>Final step of the plan: nothing left to soak.</p>"
    days = flag.rollout[current].soak_days or 0
    entered = clock.parse(str(entries[-1]["timestamp"])) if entries and entries[-1].get("timestamp") else None
    if days == 0:
        return "<p>The plan sets no soak time for this step.</p>"
    if entered is None or now is None:
        return f"<p>The plan soaks {days} days here; the time the flag entered this step is not in the audit log.</p>"
    elapsed = max(now - int(entered.timestamp()), 0)
    total = days * 86400
    done = min(elapsed, total)
    tenths = elapsed * 10 // 86400
    left = -(-(total - elapsed) * 10 // 86400)  # rounded up: never claim done early
    status = "done" if elapsed >= total else f"{left // 10}.{left % 10} days to go"
    return (
        f'<p>Entered at <time datetime="{esc(clock.iso(entered))}">{esc(clock.iso(entered))}</time>; '
        f"the plan soaks {days} days here: {tenths // 10}.{tenths % 10} of {days} days, {status}.</p>"
        f'<progress max="{total}" value="{done}" aria-label="soak progress: {tenths // 10}.{tenths % 10} of {days} days">'
        f"{done * 100 // total}%</progress>"
    )


def _promotions(entries: Sequence[Mapping[str, Any]]) -> list[tuple[int, Mapping[str, Any]]]:
    """Promotions that cite runs, with their index among the flag's entries (a stable chart id)."""
    return [(i, e) for i, e in enumerate(entries) if e.get("kind") == "promote" and isinstance(e.get("evidence"), list) and e["evidence"]]


def _evidence(name: str, flag: Flag | None, entries: Sequence[Mapping[str, Any]], tree: history.GitTree) -> str:
    promotions = _promotions(entries)
    if not promotions:
        return "<p>No promotion with evidence yet.</p>"
    blocks = []
    if len(promotions) > EVIDENCE_PROMOTIONS:
        earlier = len(promotions) - EVIDENCE_PROMOTIONS
        blocks.append(
            f'<p>The latest {EVIDENCE_PROMOTIONS}; {earlier} earlier promotions are in <a href="audit-log.json">audit-log.json</a>.</p>'
        )
    for index, entry in reversed(promotions[-EVIDENCE_PROMOTIONS:]):
        run_ids = [str(r) for r in entry["evidence"]]
        figures = []
        for guard in _guards_for(flag, entry):
            points = _run_points(tree, name, run_ids, guard.metric)
            chart_id = f"chart-{esc(name)}-{index}-{esc(guard.metric)}"
            bound = f"at most {guard.max}" if guard.max is not None else f"at least {guard.min}"
            rows = "".join(
                f"<tr><td>{esc(p.run_id, 80)}</td><td>{esc(metrics.display(p.value)) if p.value is not None else 'n/a'}</td></tr>"
                for p in points
            )
            figures.append(
                f"<figure>{chart_svg(chart_id, guard.metric, points, guard)}"
                f"<figcaption>{esc(guard.metric)} per run (guard: {esc(bound)})</figcaption>"
                f'<table class="runs"><thead><tr><th scope="col">run</th><th scope="col">{esc(guard.metric)}</th></tr></thead>'
                f"<tbody>{rows}</tbody></table></figure>"
            )
        heading = f"{esc(_move(entry))} at {esc(entry.get('timestamp', ''))}"
        blocks.append(f'<div class="promotion"><h4>{heading}</h4>{"".join(figures) or "<p>No guards to chart.</p>"}</div>')
    return "".join(blocks)


STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#fff;margin:0 auto;max-width:90rem;padding:1rem 1.5rem}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(30rem,1fr));gap:0 1rem;align-items:start}
#summary{grid-column:1/-1}.description{font-size:.9rem;color:#333;margin:.2rem 0}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin:0 0 .4rem}h3{font-size:1rem;margin:.9rem 0 .3rem}h4{font-size:.95rem;margin:.6rem 0 .2rem}
.meta{color:#444}code{font-size:.9em}
table{border-collapse:collapse}th,td{border:1px solid #b0b0b0;padding:.2rem .5rem;text-align:left}
.flag{border:1px solid #b0b0b0;border-radius:8px;padding:.6rem 1rem;margin:.5rem 0}
.badge{display:inline-block;border-radius:4px;padding:0 .4rem;background:#0b5394;color:#fff;font-weight:600}
.badge.off{background:#4a4a4a}
svg text{font:12px system-ui,sans-serif}
.step.now{fill:#0b5394;stroke:#0b5394}.step.done{fill:#d9e7f5;stroke:#0b5394}.step.todo{fill:#fff;stroke:#6b6b6b}
text.now{fill:#fff;font-weight:700}text.done,text.todo{fill:#1a1a1a}
.arrow{stroke:#4a4a4a;stroke-width:2;fill:none}.head{fill:#4a4a4a}
.axis{stroke:#4a4a4a;fill:none}.bar{fill:#0b5394}.bar.breach{fill:#b00020}
.guard{stroke:#b00020;stroke-width:2;stroke-dasharray:5 3;fill:none}.guardlabel{fill:#b00020}.tick,.na{fill:#333}
figure{display:inline-block;margin:.3rem 1.2rem .3rem 0;vertical-align:top}figcaption{font-size:.85rem;color:#333}
.runs{font-size:.8rem;margin-top:.2rem}
progress{width:16rem}
.timeline{list-style:none;padding-left:1rem;border-left:3px solid #0b5394;margin:.3rem 0}
.timeline li{margin:.35rem 0}.timeline small{color:#444}
.kind{font-weight:700}.reason{background:#fde7e9;color:#8a0016;border-radius:4px;padding:0 .3rem}
.why{margin:.1rem 0}.warning{color:#8a0016}
"""


def render(root: Path, config: Mapping[str, Any], log: Sequence[Mapping[str, Any]]) -> str:
    """The page for a published config and audit log (both as parsed from their JSON)."""
    source = config.get("source") or {}
    sha = str(source.get("commit", ""))
    committed_at = str(source.get("committed_at", ""))
    moment = clock.parse(committed_at)
    now = int(moment.timestamp()) if moment is not None else None
    tree = history.GitTree(root, sha)
    definitions = {name: file.flag for name, file in load_snapshot(tree).flags.items()}
    flags: Mapping[str, Any] = config.get("flags", {})
    by_flag: dict[str, list[Mapping[str, Any]]] = {}
    for entry in log:
        if isinstance(entry.get("flag"), str):
            by_flag.setdefault(entry["flag"], []).append(entry)
    # Every cited run file through one git process, not one process per run.
    tree.prefetch(
        [
            evidence_path(name, str(run_id))
            for name, entries in by_flag.items()
            for _, entry in _promotions(entries)[-EVIDENCE_PROMOTIONS:]
            for run_id in entry["evidence"]
            if plain_run_id(str(run_id))
        ]
    )

    summary_rows = []
    sections = []
    for name, published in sorted(flags.items()):
        flag = definitions.get(name)
        state, percentage = str(published["state"]), int(published["percentage"])
        entries = by_flag.get(name, [])
        steps, current = _plan(flag, state, percentage)
        owners = ", ".join(esc(o, 100) for o in published.get("owners", []))
        label = step_label(state, steps[current][1] if current is not None else None)
        badge = f'<span class="badge state{" off" if percentage == 0 else ""}">{esc(label)}</span>'
        summary_rows.append(
            f'<tr><th scope="row"><a href="#flag-{esc(name)}">{esc(name)}</a></th><td>{badge}</td><td>{percentage}%</td><td>{owners}</td></tr>'
        )
        description = f'<p class="description">{esc(flag.description, 600)}</p>' if flag is not None else ""
        sections.append(
            f'<section class="flag" id="flag-{esc(name)}" data-flag="{esc(name)}" aria-labelledby="h-{esc(name)}">'
            f'<h2 id="h-{esc(name)}">{esc(name)} {badge}</h2>{description}'
            f'<p><span class="percentage">{percentage}%</span> of representatives active; owners: {owners}</p>'
            f"<h3>Plan</h3>{plan_svg(name, steps, current)}"
            f"<h3>Soak</h3>{_soak(flag, current, entries, now)}"
            f"<h3>Recent transitions</h3>{_timeline(entries)}"
            f"<h3>Evidence of promotions</h3>{_evidence(name, flag, entries, tree)}"
            "</section>"
        )
    head = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        "<title>flaggate: flag status</title>\n"
        f"<style>{STYLE}</style>\n</head>\n"
    )
    body = (
        "<body>\n<header><h1>flaggate: where is the migration?</h1>"
        f'<p class="meta">Published from commit <code>{esc(sha)}</code>, committed at '
        f'<time datetime="{esc(committed_at)}">{esc(committed_at)}</time>. '
        'Machine-readable: <a href="config.json">config.json</a>, <a href="audit-log.json">audit-log.json</a>, '
        '<a href="flagd.json">flagd.json</a>.</p></header>\n<main>\n'
        '<table id="summary"><caption class="meta">Every flag now</caption><thead><tr><th scope="col">flag</th><th scope="col">state</th>'
        f'<th scope="col">active</th><th scope="col">owners</th></tr></thead><tbody>{"".join(summary_rows)}</tbody></table>\n'
        + "\n".join(sections)
        + "\n</main>\n</body>\n</html>\n"
    )
    return head + body
