"""yaml: the file is one strict YAML mapping (see ``validator/loading.py``).

Plain ``off``, ``on``, ``yes``, ``no``, ``017``, ``1:20`` and dates stay strings;
only ``true``/``false``, integers, decimals (exact) and ``null`` are typed.
Refused, with line and column: duplicate keys (both lines named), anchors,
aliases and merge keys, explicit tags (``!!python/...``, ``!!binary``,
``!custom``; nothing is ever constructed from a tag), non-string keys, a byte
order mark, UTF-16, invalid UTF-8, NUL and control characters, tabs used for
indentation, unterminated quotes (where they opened), an empty or
comment-only file, a top level that is not a mapping, several documents, and
files over 256 KiB, 32 levels of nesting or 20,000 nodes.

Passing: ``state: off``.  Failing: ``state: &s off`` (anchor).
"""

from __future__ import annotations

RULE = "yaml"
