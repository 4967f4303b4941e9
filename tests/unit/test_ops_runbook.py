"""docs/OPERATIONS.md has a runbook section for every alarm: the contract's logical IDs,
and any alarm a template in the repo declares (template.yaml, infra/)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES = ("Orchestrator", "Worker", "Scheduler", "Api", "Inbox")
CONTRACT = [
    "AlarmEventsDlq",
    "AlarmTaskDlq",
    "AlarmInboxDlq",
    "AlarmEventsQueueAge",
    "AlarmTaskQueueAge",
    "AlarmSchedulerLag",
    "AlarmTimerLateness",
    *(f"AlarmFunctionErrors{role}" for role in ROLES),
    *(f"AlarmFunctionThrottles{role}" for role in ROLES),
]
# What each section must say: what it means, where to look, what to do.
PARTS = ("Means", "Look", "Fix", "Escalate")


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Sub, !GetAtt ...) read as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _any_tag)


def _sections() -> dict[str, str]:
    text = (REPO / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")
    heads = list(re.finditer(r"^### (\S+)\s*$", text, re.MULTILINE))
    ends = [h.start() for h in heads[1:]] + [len(text)]
    return {h.group(1): text[h.end() : end] for h, end in zip(heads, ends, strict=True)}


def _declared_alarms() -> set[str]:
    found: set[str] = set()
    for path in [REPO / "template.yaml", *sorted((REPO / "infra").glob("*.y*ml"))]:
        if not path.exists():
            continue
        template = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader) or {}
        for name, resource in (template.get("Resources") or {}).items():
            if isinstance(resource, dict) and resource.get("Type") == "AWS::CloudWatch::Alarm":
                found.add(name)
    return found


def test_every_alarm_has_a_runbook_section() -> None:
    sections = _sections()
    missing = sorted((set(CONTRACT) | _declared_alarms()) - set(sections))
    assert missing == [], f"docs/OPERATIONS.md has no '### <id>' section for {missing}"


def test_the_queue_and_scheduler_runbooks_say_what_it_means_how_to_look_fix_and_escalate() -> None:
    sections = _sections()
    for alarm in CONTRACT:
        if alarm.startswith("AlarmFunction"):
            continue  # these share one section of common steps, then a note per role
        body = sections[alarm]
        absent = [part for part in PARTS if f"**{part}**" not in body]
        assert absent == [], f"{alarm}: no {absent}"


def test_the_runbooks_name_only_commands_that_exist() -> None:
    from stepq.cli import app
    from typer.main import get_command

    root = get_command(app)
    text = (REPO / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`stepq ((?:ops (?:dlq )?)?[a-z-]+)", text))
    assert {"ops stuck", "ops reconcile", "ops dlq list", "ops dlq redrive"} <= named
    for command in named:
        group: Any = root
        for word in command.split():
            assert word in group.commands, f"docs/OPERATIONS.md names `stepq {command}`"  # type: ignore[attr-defined]
            group = group.commands[word]
