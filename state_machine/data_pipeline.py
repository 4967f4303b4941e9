"""Step functions for the data pipeline example (``data_pipeline.asl.json``)."""

from __future__ import annotations

from typing import Any


class TransientError(Exception):
    pass


def extract_users(event: Any, context: Any) -> dict[str, str]:
    return {"u1": "Ada", "u2": "Grace", "u3": "Edsger"}


def extract_orders(event: Any, context: Any) -> list[dict[str, Any]]:
    size = event.get("orders", 12) if isinstance(event, dict) else 12
    return [{"id": f"o{i}", "user": f"u{i % 3 + 1}", "total": 10 * i} for i in range(size)]


def enrich(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order = event["order"]
    # Every third order fails once, to show Retry at work.
    if order["total"] % 30 == 0 and getattr(context, "attempt", 1) == 0:
        raise TransientError(f"warehouse API busy for {order['id']}")
    return {**order, "user_name": event["users"][order["user"]]}


def load(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"loaded": event["count"], "total": sum(r["total"] for r in event["records"])}
