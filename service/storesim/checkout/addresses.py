"""The checkout's address checks.

Two stages, as WooCommerce has them: the schema's sanitize and validate callbacks run in
WordPress' argument phase (``400 rest_invalid_param`` on ``billing_address``, before the
nonce, with no session headers); the required fields of the address locale are checked
on the order just before payment (``400 woocommerce_rest_invalid_address``).
"""

from __future__ import annotations

from typing import Any

from ..cart import BILLING_FIELDS, SHIPPING_FIELDS, valid_email, valid_postcode
from ..errors import StoreError, invalid_param

# WooCommerce's default address locale, in its order, and the US locale's own fields,
# which come first (so a US address reports its ZIP Code before its name).
_DEFAULT_LOCALE: tuple[tuple[str, str, bool], ...] = (
    ("first_name", "First name", True),
    ("last_name", "Last name", True),
    ("company", "Company name", False),
    ("country", "Country / Region", True),
    ("address_1", "Street address", True),
    ("address_2", "Apartment, suite, unit, etc.", False),
    ("city", "Town / City", True),
    ("state", "State / County", True),
    ("postcode", "Postcode / ZIP", True),
)
_LOCALES: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "US": (("postcode", "ZIP Code", True), ("state", "State", True)),
    "DE": (("postcode", "Postcode / ZIP", True), ("state", "State / County", False)),
    "GB": (("postcode", "Postcode", True), ("state", "County", False)),
}


def _sanitize(name: str, value: Any, fields: tuple[str, ...]) -> dict[str, str]:
    """``AbstractAddressSchema::sanitize_callback``: every field present (missing ones
    blank), trimmed, the country and postcode upper-cased."""
    if not isinstance(value, dict):
        raise invalid_param(name, f"{name} is not of type object.", "rest_invalid_type")
    address = {key: str(value.get(key) or "").strip() for key in fields}
    address["country"] = address["country"].upper()
    address["postcode"] = address["postcode"].upper()
    return address


def _validate(name: str, address: dict[str, str]) -> None:
    if address["postcode"] and not valid_postcode(address["country"], address["postcode"]):
        raise invalid_param(name, "The provided postcode / ZIP is not valid", "invalid_postcode")
    email = address.get("email")
    if email and not valid_email(email):
        raise invalid_param(name, "The provided email address is not valid", "invalid_email")


def check_billing(name: str, value: Any) -> dict[str, str]:
    """The ``billing_address`` argument: sanitised, postcode and email valid."""
    address = _sanitize(name, value, BILLING_FIELDS)
    _validate(name, address)
    return address


def check_shipping(name: str, value: Any) -> dict[str, str]:
    address = _sanitize(name, value, SHIPPING_FIELDS)
    _validate(name, address)
    return address


def _missing(address: dict[str, str]) -> list[str]:
    """``validate_address_fields``: "<label> is required" for each empty required field."""
    locale = {
        key: (label, required) for key, label, required in _LOCALES.get(address["country"], ())
    }
    for key, label, required in _DEFAULT_LOCALE:
        locale.setdefault(key, (label, required))
    return [
        f"{label} is required"
        for key, (label, required) in locale.items()
        if required and not address.get(key, "").strip()
    ]


def validate_addresses(
    billing: dict[str, str], shipping: dict[str, str], needs_shipping: bool
) -> None:
    """``OrderController::validate_addresses``: shipping first (when the order ships),
    then billing; the first address with problems is the error, all of them its data."""
    errors: dict[str, list[str]] = {}
    if needs_shipping and (problems := _missing(shipping)):
        errors["shipping"] = problems
    if problems := _missing(billing):
        errors["billing"] = problems
    if not errors:
        return
    kind, problems = next(iter(errors.items()))
    raise StoreError(
        "woocommerce_rest_invalid_address",
        f"There was a problem with the provided {kind} address: {', '.join(problems)}",
        400,
        leading={"errors": errors},
    )


def validate_email(billing: dict[str, str]) -> None:
    """``OrderController::validate_email``: a billing email is required."""
    if not billing.get("email"):
        raise StoreError(
            "woocommerce_rest_missing_email_address", "A valid email address is required", 400
        )
