"""TestState: one state on one input, with its data-flow inspection."""

from __future__ import annotations
