"""Comparing an outcome with what AWS recorded, by the README's matching rules.

- Outputs compare as JSON values (1 == 1.0, key order ignored).
- An expected string that is exactly ``date``/``datetime``/``timestamp`` or a
  lone token like ``<uuid:1>`` matches any string; one containing tokens
  matches any string with the same text around them.
- Recorder redactions (an extension, off with ``strict=True``): the recorder
  replaced some per-run values by fixed words that the README's rules do not
  list: request ids by their own key (``"x-amzn-RequestId": "x-amzn-RequestId"``),
  header lists by ``"date"``, random numbers by ``"RandomNumberGenerated"``,
  UUIDs by ``"generated-uuid"``, the role by ``"snf_role_arn"`` and function
  names by ``"lambda_function_name"``. With the extension on, each matches a
  value of the kind it replaced. The runner reports how many cases pass only
  thanks to it.
- Lambda errors (a cause given as an object) compare ``errorType`` and
  ``errorMessage``; any other cause must be equal as text.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

_TOKEN = re.compile(r"<[A-Za-z0-9_.\-]+(?::\d+)?>")
_ANY = frozenset({"date", "datetime", "timestamp"})
# Per-run values the recorder replaced, whatever their type, by their own key name.
_REDACTED_KEYS = frozenset({"x-amzn-RequestId", "X-Amzn-Trace-Id", "RequestId"})
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _redaction_matches(expected: str, actual: Any, key: str | None) -> bool:
    if key in _REDACTED_KEYS and expected == key:
        return True
    if expected == "date":  # a header list of one date, flattened by the recorder
        return isinstance(actual, list) and len(actual) == 1 and isinstance(actual[0], str)
    if expected == "RandomNumberGenerated":
        return isinstance(actual, int | float) and not isinstance(actual, bool)
    if expected == "generated-uuid":
        return isinstance(actual, str) and bool(_UUID.match(actual))
    if expected == "snf_role_arn":
        return isinstance(actual, str) and actual.startswith("arn:aws:iam::")
    if expected == "lambda_function_name":
        return isinstance(actual, str) and bool(actual)
    return False


@lru_cache(maxsize=4096)
def _pattern(expected: str) -> re.Pattern[str] | None:
    if not _TOKEN.search(expected):
        return None
    parts = _TOKEN.split(expected)
    return re.compile("(?s)" + ".*".join(re.escape(p) for p in parts) + r"\Z")


def strings_match(expected: str, actual: Any, key: str | None = None, strict: bool = True) -> bool:
    if not strict and _redaction_matches(expected, actual, key):
        return True
    if not isinstance(actual, str):
        return False
    if expected == actual or expected in _ANY:
        return True
    pattern = _pattern(expected)
    return bool(pattern and pattern.match(actual))


def first_difference(
    expected: Any, actual: Any, where: str = "$", key: str | None = None, strict: bool = True
) -> str | None:
    """None when equal under the rules, else a short description of the first difference."""
    if isinstance(expected, str):
        if strings_match(expected, actual, key, strict):
            return None
        return f"{where}: expected {json.dumps(expected)[:200]}, got {json.dumps(actual)[:200]}"
    if isinstance(expected, bool) or expected is None:
        if actual is expected or (type(actual) is bool and actual == expected):
            return None
        return f"{where}: expected {json.dumps(expected)}, got {json.dumps(actual)[:200]}"
    if isinstance(expected, int | float):
        if isinstance(actual, int | float) and not isinstance(actual, bool) and expected == actual:
            return None
        return f"{where}: expected {expected}, got {json.dumps(actual)[:200]}"
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected an array, got {json.dumps(actual)[:200]}"
        if len(expected) != len(actual):
            return f"{where}: expected {len(expected)} items, got {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            diff = first_difference(e, a, f"{where}[{i}]", strict=strict)
            if diff:
                return diff
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {json.dumps(actual)[:200]}"
        missing = sorted(set(expected) - set(actual))
        extra = sorted(set(actual) - set(expected))
        if missing or extra:
            return f"{where}: keys differ (missing {missing}, unexpected {extra})"
        for k in expected:
            diff = first_difference(expected[k], actual[k], f"{where}.{k}", key=k, strict=strict)
            if diff:
                return diff
        return None
    return f"{where}: cannot compare {expected!r}"


def compare_outcome(
    expected: dict[str, Any],
    status: str,
    output: Any,
    error: Any,
    cause: Any,
    *,
    strict: bool = False,
) -> str | None:
    want = expected.get("status")
    if want == "REJECTED_AT_CREATE":
        want = "REJECTED"
    if status != want:
        detail = f" ({error}: {str(cause)[:300]})" if status == "FAILED" else ""
        return f"status: expected {want}, got {status}{detail}"
    if status == "SUCCEEDED":
        return first_difference(expected.get("output"), output, "output", strict=strict)
    if status != "FAILED":
        return None
    if expected.get("error") != error:
        return (
            f"error: expected {expected.get('error')!r}, got {error!r} (cause: {str(cause)[:300]})"
        )
    want_cause = expected.get("cause")
    if isinstance(want_cause, dict):
        try:
            got = json.loads(cause) if isinstance(cause, str) else None
        except ValueError:
            got = None
        if not isinstance(got, dict):
            return f"cause: expected a Lambda error object, got {str(cause)[:200]!r}"
        for k in ("errorType", "errorMessage"):
            if got.get(k) != want_cause.get(k):
                return f"cause.{k}: expected {want_cause.get(k)!r}, got {got.get(k)!r}"
        return None
    if want_cause is None:
        return None if cause is None else f"cause: expected null, got {str(cause)[:300]!r}"
    if not strings_match(want_cause, cause, strict=strict):
        return f"cause: expected {want_cause!r}, got {str(cause)!r}"
    return None
