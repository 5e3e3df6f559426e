"""Store API errors, raised inside routes and rendered as WordPress renders them."""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    """A WordPress REST error: ``{"code", "message", "data": {"status", ...}}``.

    ``phase`` tells where WordPress would have produced it: ``"args"`` errors come
    from argument validation before the route callback runs (the answer then carries
    no Nonce or Cart-Token headers), ``"permission"`` ones from the route's permission
    callback (no Allow header either), ``"route"`` errors from inside the callback.
    ``leading`` is data WooCommerce's ``InvalidCartException`` puts before ``status``
    (``{"0": 409, "status": 409, ...}``); ``null_data`` renders ``"data": null`` (a
    ``WP_Error`` created without data).
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        *,
        data: dict[str, Any] | None = None,
        with_cart: bool = False,
        phase: str = "route",
        allow: str = "",
        leading: dict[str, Any] | None = None,
        null_data: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.data = data or {}
        self.with_cart = with_cart
        self.phase = phase
        self.allow = allow  # the route's Allow header, for batch sub-responses
        self.leading = leading or {}
        self.null_data = null_data

    def body(self, cart: dict[str, Any] | None = None) -> dict[str, Any]:
        if self.null_data:
            return {"code": self.code, "message": self.message, "data": None}
        data: dict[str, Any] = {**self.leading, "status": self.status, **self.data}
        if self.with_cart and cart is not None:
            data["cart"] = cart
        return {"code": self.code, "message": self.message, "data": data}


def missing_params(*names: str) -> StoreError:
    return StoreError(
        "rest_missing_callback_param",
        f"Missing parameter(s): {', '.join(names)}",
        400,
        data={"params": list(names)},
        phase="args",
    )


def invalid_param(name: str, message: str, detail_code: str, detail_data: Any = None) -> StoreError:
    return StoreError(
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        400,
        data={
            "params": {name: message},
            "details": {name: {"code": detail_code, "message": message, "data": detail_data}},
        },
        phase="args",
    )


def no_route() -> StoreError:
    return StoreError(
        "rest_no_route",
        "No route was found matching the URL and request method.",
        404,
        phase="args",
    )
