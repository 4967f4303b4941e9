"""Map runs of Distributed Map states: ListMapRuns, DescribeMapRun, UpdateMapRun."""

from __future__ import annotations
