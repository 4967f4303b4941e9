"""GetExecutionHistory: stepq's history events in Step Functions' shapes."""

from __future__ import annotations
