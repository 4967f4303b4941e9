"""CloudWatch embedded metric format (EMF) records in a function's output.

Powertools Metrics prints one JSON object per flush; CloudWatch Logs turns
each into metric data points. Here the harness reads them back from what
each invocation printed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Emitted:
    namespace: str
    name: str
    dimensions: frozenset[tuple[str, str]]  # one dimension set CloudWatch files it under


def emitted(outputs: Iterable[str]) -> Iterator[Emitted]:
    for output in outputs:
        for line in output.splitlines():
            if '"_aws"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            directive = record.get("_aws") if isinstance(record, dict) else None
            if not isinstance(directive, dict):
                continue
            for entry in directive.get("CloudWatchMetrics", []):
                for dimension_set in entry.get("Dimensions", [[]]):
                    dimensions = frozenset((d, str(record.get(d))) for d in dimension_set)
                    for metric in entry.get("Metrics", []):
                        yield Emitted(entry.get("Namespace", ""), metric["Name"], dimensions)
