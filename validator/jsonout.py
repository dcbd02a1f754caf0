"""Stable JSON for published files: sorted keys, two-space indent, exact decimals.

``json.dumps`` cannot write a ``Decimal`` without turning it into a float;
published files never carry floats.  A ``Decimal`` is written as a JSON
number with its exact digits (at most ``PLACES`` decimal places, rounded half
to even), NaN and infinities are refused, and the output ends with a newline,
so two runs on the same input give the same bytes.  Characters that would
change what a reader sees (bidi controls, zero-width characters, C1
controls, lone surrogates) are written as ``\\uXXXX`` (``inert.json_text``);
other non-ASCII text is written as it is.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from json.encoder import encode_basestring as _string
from typing import Any

from validator.inert import json_text

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
    parts: list[str] = []
    _encode(value, "\n", parts.append)
    parts.append("\n")
    # encode_basestring escapes C0 controls only: bidi, zero-width and the
    # other unsafe characters are written as \uXXXX over the whole text.
    return json_text("".join(parts))


def _encode(value: Any, newline: str, out: Any) -> None:
    kind = type(value)
    if kind is str:
        out(_string(value))
    elif kind is dict:
        if not value:
            out("{}")
            return
        inner = newline + "  "
        out("{")
        first = True
        for key in sorted(value):
            out(inner if first else "," + inner)
            first = False
            out(_string(str(key)))
            out(": ")
            _encode(value[key], inner, out)
        out(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            out("[]")
            return
        inner = newline + "  "
        out("[")
        for i, item in enumerate(value):
            out(inner if i == 0 else "," + inner)
            _encode(item, inner, out)
        out(newline + "]")
    elif value is None:
        out("null")
    elif kind is bool:
        out("true" if value else "false")
    elif kind is int:
        out(str(value))
    elif isinstance(value, Decimal):
        out(number(value))
    elif isinstance(value, float):
        raise TypeError(f"refusing to publish the float {value!r}: use Decimal")
    else:
        raise TypeError(f"cannot publish a {kind.__name__}")
