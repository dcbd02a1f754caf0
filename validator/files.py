"""Atomic writes: the one way flaggate writes a file.

Every file is written to a temporary sibling, flushed and fsynced, and only
when all of them are written are they renamed into place, so an interrupted
or failing write leaves the previous files as they were and no temporary file
behind.  A replaced file keeps its mode; a new one is 0644.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_all(files: dict[Path, bytes]) -> None:
    """Write every file; all temporary files are written before any is moved into place.

    A target that exists and is not a regular file (``/dev/null``, a pipe, a
    terminal) is written to, never renamed over: replacing a device with a
    regular file would break every other program that uses it.
    """
    streams = {target: data for target, data in files.items() if target.exists() and not target.is_file()}
    for target, data in streams.items():
        with open(target, "wb") as handle:
            handle.write(data)
    staged: list[tuple[str, Path]] = []
    try:
        for target, data in files.items():
            if target in streams:
                continue
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            staged.append((tmp, target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.chmod(tmp, os.stat(target).st_mode & 0o777)
            except FileNotFoundError:
                os.chmod(tmp, 0o644)
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


def write_atomically(path: Path, data: bytes) -> None:
    write_all({path: data})
