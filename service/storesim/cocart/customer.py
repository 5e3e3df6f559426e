"""``cart/update`` namespace ``update-customer``, bugs included (CoCart 4.4).

Pass 1 keeps the eleven unprefixed names as ``billing_*`` details (email, phone,
country and postcode checked). Nothing else happens when none is left: ``s_*`` fields
alone change nothing (recording cocart-extra/017). Pass 2 walks *every* parameter,
renames ``s_`` to ``shipping_`` (each occurrence) and calls the customer's setter with
``details[name]``, which never holds a shipping key: each shipping field sent is set
to blank (cocart/024, cocart-extra/018). The next read refills an empty shipping
country and state from billing (``store.apply_customer_defaults``).
"""

from __future__ import annotations

import re
from typing import Any

from .. import catalog
from ..cart import BILLING_FIELDS, SHIPPING_FIELDS, valid_postcode
from .cart import Work, completely_empty, error
from .params import php_empty, text

FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "address_1",
    "address_2",
    "city",
    "state",
    "country",
    "postcode",
)
# The parameters of the cart/update route itself: not customer data.
IGNORED = frozenset({"cart_key", "fields", "thumb", "default", "namespace", "data"})
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_CODES = (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO "
    "BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ "
    "DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP "
    "GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG "
    "KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML "
    "MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE "
    "PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL "
    "SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM "
    "US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
)
COUNTRIES = frozenset(_CODES.split())  # WC_Countries: ISO 3166-1 alpha-2


def format_postcode(postcode: str, country: str) -> str:
    """``wc_format_postcode``: upper case, no spaces or dashes, then the country's form."""
    code = re.sub(r"[\s\-]", "", postcode.strip().upper())
    if country in ("CA", "GB") and len(code) > 3:
        code = f"{code[:-3]} {code[-3:]}"
    elif country == "US" and len(code) > 5:
        code = f"{code[:5]}-{code[5:]}"
    return code.strip()


def _setter(name: str) -> tuple[str, str] | None:
    """The customer setter ``set_<name>`` as (address, field), if WooCommerce has one."""
    kind, _, prop = name.partition("_")
    if kind not in ("billing", "shipping"):
        return None
    prop = "address_1" if prop == "address" else prop
    fields = BILLING_FIELDS if kind == "billing" else SHIPPING_FIELDS
    return (kind, prop) if prop in fields else None


def _details(work: Work, params: dict[str, Any]) -> dict[str, str]:
    state = work.cart()
    billing = state.billing
    details: dict[str, str] = {}
    for key in FIELDS:
        name = f"billing_{key}"
        if key in params and not php_empty(params[key]):
            details[name] = str(text(params[key]))
        if php_empty(details.get(name)):
            details.pop(name, None)
            continue
        value = details[name]
        if key == "email":
            details[name] = value if _EMAIL.match(value) else billing.get("email", "")
        elif key == "phone":
            details[name] = re.sub(r"[^\d+]", "", value)
        elif key == "country":
            country = str(params.get("country") or "") or billing.get("country", "")
            if country not in COUNTRIES:
                work.notice(f"'{country}' is not a valid country code.", "error")
                details[name] = billing.get("country", "")
        elif key == "postcode":
            country = str(params.get("country") or "") or billing.get("country", "")
            postcode = format_postcode(str(params.get("postcode") or ""), country)
            if postcode and not valid_postcode(country, postcode):
                work.notice("Billing postcode is not a valid postcode / ZIP.", "error")
                details[name] = billing.get("postcode", "")
            else:
                base = details.get("billing_country") or catalog.STORE_COUNTRY
                details[name] = format_postcode(value, base)
    return details


def update_customer(work: Work, params: dict[str, Any]) -> None:
    """Apply the customer fields of a ``cart/update`` request."""
    state = work.cart()
    if completely_empty(state):
        raise error("cocart_cart_empty", "Cart is empty. Please add items to cart first.", 404)
    details = _details(work, params)
    if not details:
        return
    for raw_name in params:
        if raw_name in IGNORED:
            continue
        name = raw_name
        if name.lower().startswith("s_"):
            name = name.replace("s_", "shipping_")
        if not name.lower().startswith("shipping_") and not name.lower().startswith("billing_"):
            name = f"billing_{name}"
        target = _setter(name)
        if target is None:
            continue  # stored as customer meta: nothing the cart shows
        kind, prop = target
        address = state.billing if kind == "billing" else state.shipping
        address[prop] = details.get(name, "")
    if not work.notices.get("error"):
        work.notice("Cart updated.")
