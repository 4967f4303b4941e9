"""Settings every test folder shares.

Hypothesis' per-example deadline is off: it measures wall time, and on a
loaded 2-core CI machine a fast example can take longer than 200 ms without
anything being wrong (speed is measured by the benchmarks, not by tests).
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("stepq", deadline=None)
settings.load_profile("stepq")
