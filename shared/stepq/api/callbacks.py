"""SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat."""

from __future__ import annotations
