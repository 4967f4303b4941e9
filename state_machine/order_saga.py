"""Step functions for the order saga example (``order_saga.asl.json``).

Each is a plain function ``(event, context)``. Set ``"fail_at"`` in the input
to ``"charge"``, ``"reserve"`` or ``"ship"`` to see the compensation path.
"""

from __future__ import annotations

import hashlib
from typing import Any


class PaymentDeclinedError(Exception):
    pass


class OutOfStockError(Exception):
    pass


class CarrierUnavailableError(Exception):
    pass


def _ref(prefix: str, *parts: Any) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:10]
    return f"{prefix}-{digest}"


def charge(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("fail_at") == "charge":
        raise PaymentDeclinedError(f"card declined for order {event['order_id']}")
    return {"charge_id": _ref("ch", event["order_id"], event["amount"]), "amount": event["amount"]}


def reserve(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("fail_at") == "reserve":
        raise OutOfStockError(f"not enough stock for {event['items']}")
    return {"reservation_id": _ref("rs", event["order_id"], *event["items"])}


def ship(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("fail_at") == "ship":
        raise CarrierUnavailableError("no carrier accepted the parcel")
    return {"tracking_number": _ref("1Z", event["order_id"])}


def release(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"released": event["reservation"]["reservation_id"]}


def refund(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"refunded": event["payment"]["charge_id"]}
