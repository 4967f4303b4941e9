"""Create/Describe/Update/Delete/List/Validate state machines; DescribeStateMachineForExecution."""

from __future__ import annotations
