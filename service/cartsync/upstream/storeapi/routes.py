"""Each cart operation as the Store API route and JSON body that performs it."""

from __future__ import annotations

from typing import Any

from ...carts import operations as ops


def route_for(operation: ops.Operation) -> tuple[str, dict[str, Any]]:
    """The Store API route (below ``wc/store/v1/``) and JSON body of one operation."""
    match operation:
        case ops.AddItem(product_id, quantity, variation):
            body: dict[str, Any] = {"id": product_id, "quantity": quantity}
            if variation:
                body["variation"] = [
                    {"attribute": v.attribute, "value": v.value} for v in variation
                ]
            return "cart/add-item", body
        case ops.SetQuantity(key, quantity):
            return "cart/update-item", {"key": key, "quantity": quantity}
        case ops.RemoveItem(key):
            return "cart/remove-item", {"key": key}
        case ops.ApplyCoupon(code):
            return "cart/apply-coupon", {"code": code}
        case ops.RemoveCoupon(code):
            return "cart/remove-coupon", {"code": code}
        case ops.UpdateCustomer(billing, shipping):
            body = {}
            if billing is not None:
                body["billing_address"] = billing
            if shipping is not None:
                body["shipping_address"] = shipping
            return "cart/update-customer", body
        case ops.SelectShippingRate(rate_id, package_id):
            body = {"rate_id": rate_id}
            if package_id is not None:
                body["package_id"] = package_id
            return "cart/select-shipping-rate", body
    raise TypeError(f"unknown operation {operation!r}")
