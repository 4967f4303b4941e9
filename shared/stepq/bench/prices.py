"""AWS list prices the cost benchmark uses (us-east-1).

Taken from the public AWS pricing pages as worded there on the date below;
they change rarely, but check them before quoting a figure. Only what
stepq's runtime uses is listed. Free tiers are ignored (a large deployment
exhausts them).
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_DATE = "2026-11-22"
REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class Price:
    key: str
    usd: float  # per one unit
    unit: str
    source: str  # the pricing page's wording


PRICES: dict[str, Price] = {
    p.key: p
    for p in (
        Price(
            "dynamodb_wru",
            0.625 / 1e6,
            "write request unit",
            "DynamoDB on-demand: $0.625 per million write request units",
        ),
        Price(
            "dynamodb_rru",
            0.125 / 1e6,
            "read request unit",
            "DynamoDB on-demand: $0.125 per million read request units",
        ),
        Price(
            "sqs_request",
            0.40 / 1e6,
            "request (64 KB chunk)",
            "SQS standard queue: $0.40 per million requests; each 64 KB chunk of a payload is billed as 1 request",
        ),
        Price(
            "lambda_request",
            0.20 / 1e6,
            "invocation",
            "Lambda: $0.20 per 1M requests",
        ),
        Price(
            "lambda_gb_second",
            0.0000133334,
            "GB-second (arm64)",
            "Lambda Arm price: $0.0000133334 for every GB-second",
        ),
        Price(
            "s3_put",
            0.005 / 1000,
            "PUT request",
            "S3 Standard: PUT, COPY, POST, LIST $0.005 per 1,000 requests",
        ),
        Price(
            "s3_get",
            0.0004 / 1000,
            "GET request",
            "S3 Standard: GET, SELECT and all other requests $0.0004 per 1,000 requests",
        ),
        Price(
            "logs_ingested_gb",
            0.50,
            "GB ingested",
            "CloudWatch Logs: Collect (data ingestion) $0.50 per GB (Lambda's logs: first 10 TB)",
        ),
    )
}
GB = 1e9  # bytes billed as one GB (10^9, the larger of the two readings of a GB's price)

LAMBDA_MEMORY_GB = 128 / 1024  # the assumed function size
LAMBDA_STATED_SECONDS = 0.050  # stated duration per invocation (see cost.py)
STEP_FUNCTIONS_STANDARD_PER_MILLION = 25.0  # $0.025 per 1,000 state transitions


def price(key: str) -> float:
    return PRICES[key].usd


def price_table() -> list[tuple[str, str, str]]:
    """Rows (item, price, source wording) for printing."""
    return [(p.key, f"${p.usd:.10g} per {p.unit}", p.source) for p in PRICES.values()]
