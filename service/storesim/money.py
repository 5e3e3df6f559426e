"""Money as the Store API formats it: strings of minor units, currency repeated."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

CURRENCY: dict[str, Any] = {
    "currency_code": "USD",
    "currency_symbol": "$",
    "currency_minor_unit": 2,
    "currency_decimal_separator": ".",
    "currency_thousand_separator": ",",
    "currency_prefix": "$",
    "currency_suffix": "",
}
RAW_PRECISION = 6


def round_half_up(value: Fraction) -> int:
    """PHP ``round(x, 0, PHP_ROUND_HALF_UP)``: halves go away from zero."""
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def round_half_down(value: Fraction) -> int:
    """PHP ``PHP_ROUND_HALF_DOWN``: halves go towards zero."""
    magnitude = math.ceil(abs(value) - Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def with_currency(values: dict[str, Any]) -> dict[str, Any]:
    return {**values, **CURRENCY}


def raw(value_cents: int) -> str:
    """``raw_prices`` scale: 10^6 per currency unit, i.e. 10^4 per cent."""
    return str(value_cents * 10 ** (RAW_PRECISION - 2))
