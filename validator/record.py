"""What the generated readers of ``validator/records.py`` are built on: a record and its errors."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, ClassVar, Self


class Invalid(ValueError):
    """A document that is not a record: where (keys and indexes from the top) and why."""

    def __init__(self, path: tuple[Any, ...], message: str, *, key: bool = False) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.key = key  # the error is about the last key itself, not its value


def is_number(value: object) -> bool:
    """A number as the loaders give one: a whole number or a finite Decimal (never a bool or a float)."""
    return type(value) is int or (type(value) is Decimal and value.is_finite())


class Record:
    """A frozen record: fields by their Python names; ``_aliases`` maps file keys that are not."""

    __slots__ = ()
    _aliases: ClassVar[dict[str, str]] = {}

    def dump(self, *, json: bool = False, include: set[str] | None = None) -> dict[str, Any]:
        """Every field by its key in the file, records as mappings; ``json``: numbers other than whole ones as text."""
        keys = _KEYS.get(type(self)) or _keys(type(self))
        return {key: _plain(getattr(self, name), json) for name, key in keys if include is None or name in include}

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


# (field name, key in the file) of each record class, in the order of its fields: the audit log
# dumps every version of every flag, and dataclasses.fields() each time was a tenth of it.
_KEYS: dict[type[Record], tuple[tuple[str, str], ...]] = {}
_SCALARS = frozenset({str, int, bool, type(None)})


def _keys(kind: type[Record]) -> tuple[tuple[str, str], ...]:
    names = {name: key for key, name in kind._aliases.items()}
    found = _KEYS[kind] = tuple((f.name, names.get(f.name, f.name)) for f in dataclasses.fields(kind))  # type: ignore[arg-type]
    return found


def _plain(value: Any, json: bool) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list:
        return [_plain(item, json) for item in value]
    if kind is dict:
        return {key: _plain(item, json) for key, item in value.items()}
    if kind is Decimal:
        return str(value) if json else value
    if isinstance(value, Record):
        return value.dump(json=json)
    return value
