"""dependency: what a flag requires exists, is acyclic, and holds right now.

* ``requires.flags[].flag`` names an existing flag and ``in`` names states of
  it; ``requires.resources`` names resources of ``resources.yaml``;
* no dependency cycles, a flag requiring itself included;
* the snapshot holds every requirement: while a flag is in one of ``when``,
  the required flag is in one of ``in``; a flag other than ``off`` has every
  resource it requires provisioned.  Checked in both directions on a change:
  moving ``ledger_backfill_mode`` out of off while ``allocation_dual_write``
  is not in shadow is refused, and so is promoting ``allocation_dual_write``
  to enforce while the backfill is running.
* a demote that breaks a requirement moves the dependent too, in the same
  change: ``flaggate demote`` (and ``rollback-check --apply``) cascades each
  dependent to the nearest step back where its requirements hold, with the
  same reason code.  A change that leaves a dependent stranded is an error,
  with and without ``--base`` alike, because such a tree could never be
  published.

Passing::

    requires:
      flags:
        - {flag: allocation_dual_write, in: [shadow], when: [read_only, active]}

Failing::

    requires:
      flags:
        - {flag: allocation_dual_writes, in: [shadow], when: [read_only]}
        # dependency: requires unknown flag 'allocation_dual_writes'
"""

from __future__ import annotations

from typing import Any

from validator.finding import Finding
from validator.records import Flag
from validator.repo import FlagFile, Snapshot

RULE = "dependency"
OFF = "off"


def check(snapshot: Snapshot, *, moved: dict[str, str] | None = None, yardstick: Snapshot | None = None) -> list[Finding]:
    """All dependency findings of a snapshot.

    ``moved`` maps the flags a change moves to the kind of move; it decides
    where a broken requirement is reported (at the flag that moved).  ``yardstick`` is the base of a
    change: its requirements and resources hold for the new states too, so a
    change cannot drop the requirement it breaks.
    """
    findings = _check(snapshot, moved or {})
    if yardstick is not None:
        seen = set(findings)
        findings.extend(f for f in _invariants(_judged_by(snapshot, yardstick), moved or {}) if f not in seen)
    return findings


def _judged_by(head: Snapshot, base: Snapshot) -> Snapshot:
    """The head's states with the base's requirements and resources (a flag new in the head keeps its own)."""
    base_flags = base.flags
    files = []
    for name, file in head.flags.items():
        was = base_flags.get(name)
        if was is None or was.flag is None or file.flag is None:
            files.append(file)
            continue
        flag = was.flag.replace(state=file.flag.state, percentage=file.flag.percentage)
        files.append(FlagFile(file.path, file.doc, flag))
    return Snapshot(head.label, head.policy, base.resources or head.resources, files)


def _check(snapshot: Snapshot, moved: dict[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    flags = snapshot.flags
    unreadable = snapshot.unreadable_names()
    resources = snapshot.resources.resources if snapshot.resources else None

    for file in flags.values():
        flag = file.flag
        if not (flag is not None and file.doc is not None):
            raise ValueError("expected a read flag file here: dependency.py was called out of order")
        for i, requirement in enumerate(flag.requires.flags):
            target = flags.get(requirement.flag)
            if target is None:
                if requirement.flag not in unreadable:
                    findings.append(
                        _at(file, file.doc.where(("requires", "flags", i, "flag")), f"requires unknown flag {requirement.flag!r}")
                    )
                continue
            if not (target.flag is not None):
                raise ValueError("expected a read flag file here: dependency.py was called out of order")
            for state in requirement.in_:
                if state not in target.flag.states:
                    findings.append(
                        _at(
                            file,
                            file.doc.where(("requires", "flags", i, "in")),
                            f"{requirement.flag} has no state {state!r}; its states are {', '.join(target.flag.states)}",
                        )
                    )
        for i, resource in enumerate(flag.requires.resources):
            if resources is not None and resource not in resources:
                findings.append(
                    _at(
                        file,
                        file.doc.where(("requires", "resources", i)),
                        f"requires unknown resource {resource!r}; declare it in resources.yaml",
                    )
                )

    findings.extend(_cycles(flags))
    findings.extend(_invariants(snapshot, moved))
    return findings


def _at(file: FlagFile, where: tuple[int, int], message: str, severity: str = "error") -> Finding:
    if not (file.flag is not None):
        raise ValueError("expected a read flag file here: dependency.py was called out of order")
    return Finding(file.path, where[0], where[1], RULE, message, file.flag.name, severity)


def _cycles(flags: dict[str, FlagFile]) -> list[Finding]:
    """One finding per requirement that closes a cycle, with the cycle spelled out."""
    graph = {
        name: [(i, r.flag) for i, r in enumerate(file.flag.requires.flags) if r.flag in flags]  # type: ignore[union-attr]
        for name, file in flags.items()
    }
    component = _components(graph)
    findings = []
    for name, edges in graph.items():
        for i, target in edges:
            if component[target] != component[name]:
                continue
            loop = [name] + _path(graph, component, target, name)
            file = flags[name]
            findings.append(_at(file, file.doc.where(("requires", "flags", i, "flag")), f"dependency cycle: {' -> '.join(loop)}"))  # type: ignore[union-attr]
    return findings


def _path(graph: dict[str, list[tuple[int, str]]], component: dict[str, int], start: str, goal: str) -> list[str]:
    """Shortest path start..goal inside one strongly connected component."""
    parents: dict[str, str | None] = {start: None}
    queue = [start]
    for visiting in queue:
        if visiting == goal:
            break
        for _, nxt in graph[visiting]:
            if nxt not in parents and component[nxt] == component[start]:
                parents[nxt] = visiting
                queue.append(nxt)
    path: list[str] = []
    node: str | None = goal
    while node is not None:
        path.append(node)
        node = parents.get(node)
    return path[::-1]


def _components(graph: dict[str, list[tuple[int, str]]]) -> dict[str, int]:
    """Tarjan's strongly connected components, iteratively (no recursion limit).

    A node on a cycle shares its component with the next node of the cycle; a
    self-requirement is its own one-node cycle, caught because the edge's both
    ends are in the same component.
    """
    counter = 0
    low: dict[str, int] = {}
    order: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    component: dict[str, int] = {}
    for root in graph:
        if root in order:
            continue
        work = [(root, 0)]
        while work:
            node, edge = work.pop()
            if edge == 0:
                order[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            edges = graph[node]
            if edge < len(edges):
                work.append((node, edge + 1))
                nxt = edges[edge][1]
                if nxt not in order:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], order[nxt])
                continue
            if low[node] == order[node]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = order[node]
                    if member == node:
                        break
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return component


def requirement_breaks(flags: dict[str, FlagFile], resources: dict[str, Any] | None) -> list[tuple[FlagFile, str, str | None, str]]:
    """Every unmet requirement: (dependent file, message, required flag or None, kind)."""
    breaks: list[tuple[FlagFile, str, str | None, str]] = []
    for file in flags.values():
        flag: Flag = file.flag  # type: ignore[assignment]
        for requirement in flag.requires.flags:
            target = flags.get(requirement.flag)
            if target is None or flag.state not in requirement.when:
                continue
            if target.flag.state not in requirement.in_:  # type: ignore[union-attr]
                breaks.append(
                    (
                        file,
                        f"{flag.name} is {flag.state}, which requires {requirement.flag} in {' or '.join(requirement.in_)}, but {requirement.flag} is {target.flag.state}",  # type: ignore[union-attr]
                        requirement.flag,
                        "flag",
                    )
                )
        if flag.state != OFF and resources is not None:
            for resource in flag.requires.resources:
                if resource in resources and not resources[resource].provisioned:
                    breaks.append(
                        (file, f"{flag.name} is {flag.state} but resource {resource} is not provisioned (resources.yaml)", None, "resource")
                    )
    return breaks


def _invariants(snapshot: Snapshot, moved: dict[str, str]) -> list[Finding]:
    flags = snapshot.flags
    resources = snapshot.resources.resources if snapshot.resources else None
    findings = []
    for file, message, required, _ in requirement_breaks(flags, resources):
        name = file.flag.name  # type: ignore[union-attr]
        at = file
        if required is not None and name not in moved and required in moved:
            at = flags[required]  # the move of the required flag broke it: point there
            message = f"{moved[required]} of {required} breaks a requirement: {message}"
            if moved[required] in ("demote", "disable"):
                message += (
                    f"; move {name} back in the same change (`flaggate demote {required}` cascades it, "
                    "with the same reason code), or the tree can never be published"
                )
        where = at.doc.where(("state",))  # type: ignore[union-attr]
        findings.append(_at(at, where, message))
    return findings
