"""Activities: Create/Describe/Delete/ListActivities and GetActivityTask."""

from __future__ import annotations
