"""Terminal conventions: colour only on a terminal, progress only on a terminal.

Colour is on when the stream is a terminal, ``NO_COLOR`` is unset or empty
(https://no-color.org), ``--no-color`` was not given and ``TERM`` is not
``dumb``.  Progress goes to standard error, only when standard error is a
terminal and ``CI`` is not set, so json output and CI logs never carry it.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

RESET = "\x1b[0m"
RED, GREEN, YELLOW, BOLD, DIM = "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[1m", "\x1b[2m"

_disabled = False


def disable() -> None:
    """``--no-color``: no colour anywhere in this process."""
    global _disabled
    _disabled = True


def colour_on(stream: TextIO | None = None) -> bool:
    if _disabled or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    stream = stream if stream is not None else sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def paint(text: str, code: str, on: bool) -> str:
    return f"{code}{text}{RESET}" if on and text else text


_FINDING = re.compile(r"^(?P<where>[^\n]*?:\d+:\d+: )(?P<rule>[a-z_]+): (?P<warn>warning: )?", re.M)


def colour_report(text: str, on: bool) -> str:
    """The text reporter's output with rules in red (errors) or yellow (warnings), the verdict coloured."""
    if not on:
        return text

    def finding(match: re.Match[str]) -> str:
        colour = YELLOW if match.group("warn") else RED
        return f"{match.group('where')}{colour}{match.group('rule')}{RESET}: {match.group('warn') or ''}"

    lines = []
    for line in text.split("\n"):
        if line.startswith("flaggate: ok"):
            line = paint(line, GREEN, True)
        elif line.startswith("flaggate: ") and " error" in line:
            line = paint(line, RED, True)
        else:
            line = _FINDING.sub(finding, line, count=1)
        lines.append(line)
    return "\n".join(lines)


def progress_on() -> bool:
    if os.environ.get("CI"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress(label: str, *, delay: float = 0.5) -> Iterator[None]:
    """``label … 3.2 s`` on standard error while long work runs; nothing off a terminal or in CI.

    Short work shows nothing (the first line waits ``delay`` seconds), and the
    line is erased when the work ends, so the real output stays clean.
    """
    if not progress_on():
        yield
        return
    done = threading.Event()
    shown = threading.Event()
    started = time.monotonic()

    def tick() -> None:
        if done.wait(delay):
            return
        while True:
            shown.set()
            sys.stderr.write(f"\r\x1b[2K{label} … {time.monotonic() - started:.1f} s")
            sys.stderr.flush()
            if done.wait(0.2):
                return

    worker = threading.Thread(target=tick, daemon=True)
    worker.start()
    try:
        yield
    finally:
        done.set()
        worker.join()
        if shown.is_set():
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


def safe(text: object, limit: int = 200) -> str:
    """Text from a file as inert terminal text (``inert.escape``: one line, every unsafe character escaped), shortened."""
    from validator.inert import escape

    value = escape(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"
