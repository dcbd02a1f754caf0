"""Stable JSON for published files: sorted keys, two-space indent, exact decimals.

``json.dumps`` cannot write a ``Decimal`` without turning it into a float;
published files never carry floats.  A ``Decimal`` is written as a JSON
number with its exact digits (at most ``PLACES`` decimal places, rounded half
to even), NaN and infinities are refused, and the output ends with a newline,
so two runs on the same input give the same bytes.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

PLACES = 9


def number(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot publish {value}: not a finite number")
    with localcontext() as ctx:
        ctx.prec = 80
        value = value.quantize(Decimal(1).scaleb(-PLACES), rounding=ROUND_HALF_EVEN)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def dumps(value: Any) -> str:
    return _encode(value, 0) + "\n"


def _encode(value: Any, level: int) -> str:
    pad = "  " * (level + 1)
    end = "  " * level
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {_encode(value[k], level + 1)}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + f"\n{end}}}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(f"{pad}{_encode(v, level + 1)}" for v in value) + f"\n{end}]"
    if isinstance(value, float):
        raise TypeError(f"refusing to publish the float {value!r}: use Decimal")
    if isinstance(value, Decimal):
        return number(value)
    return json.dumps(value, ensure_ascii=False)
