"""Step functions for the insurance claim example (``insurance_claim.asl.json``).

``request_verification`` hands the task token to an external verifier. Here
the "verifier" is simulated: the step asks ``context.client`` (stepq's
callback client, the local stand-in for SendTaskSuccess) to answer after the
step returns. Set ``"verdict": "reject"`` or ``"silent"`` in the input to see
the other paths.
"""

from __future__ import annotations

import hashlib
from typing import Any


def register_claim(event: dict[str, Any], context: Any) -> dict[str, Any]:
    digest = hashlib.sha256(f"{event['policy']}|{event['amount']}".encode()).hexdigest()[:8]
    return {"claim_id": f"cl-{digest}", "policy": event["policy"]}


def request_verification(event: dict[str, Any], context: Any) -> dict[str, Any]:
    claim, token = event["claim"], event["token"]
    client = getattr(context, "client", None)
    verdict = claim.get("verdict", "approve")
    if client is not None and verdict != "silent":
        if verdict == "reject":
            client.send_task_failure(
                token, error="VerificationRejected", cause="documents do not match"
            )
        else:
            score = 0.95 if claim["amount"] < 10_000 else 0.5
            client.send_task_success(token, {"score": score, "verifier": "acme-verify"})
    return {"submitted": claim["claim"]["claim_id"]}


def pay_out(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"paid": event["amount"], "claim_id": event["claim"]["claim_id"]}
