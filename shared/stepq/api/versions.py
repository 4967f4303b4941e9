"""Versions and aliases: Publish/List/DeleteStateMachineVersion, Create/Describe/Update/Delete/ListStateMachineAliases."""

from __future__ import annotations
