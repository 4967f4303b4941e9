"""StartExecution, StartSyncExecution, DescribeExecution, ListExecutions, StopExecution, and stepq's SearchExecutions."""

from __future__ import annotations
