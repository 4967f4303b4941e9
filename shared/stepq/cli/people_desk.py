"""``stepq run --people FILE``: the run's human tasks on screen, and the file's answers.

Each task that opens is shown once, with what each transition needs and the
command that acts on it from a second terminal; each answer the file gives is
shown as it is given (``hosting/people_script.py`` gives them).
"""

from __future__ import annotations

import shlex
from typing import Any

from rich.console import Console

from stepq.hosting.people_script import PeopleScript


class PeopleDesk:
    def __init__(self, script: PeopleScript, api_url: str | None) -> None:
        self.script = script
        self.api_url = api_url

    def show(self, console: Console, arn: str) -> None:
        for task in self.script.announce(arn):
            self._announce(console, arn, task)
        for line in self.script.answer(arn):
            console.print(f"  [people] {line}", markup=False, highlight=False)

    def _announce(self, console: Console, arn: str, task: dict[str, Any]) -> None:
        title = f' "{task["title"]}"' if task.get("title") else ""
        console.print(
            f"[bold yellow]{task['state']}{title} waits for people[/bold yellow] "
            f"(task {task['taskId']}):",
            highlight=False,
        )
        for transition in task["transitions"]:
            needs = " and ".join(
                f"{r['action']} by {r['target']}"
                + (f" ({r['needed']} people)" if r["needed"] > 1 else "")
                for r in transition["requirements"]
            )
            console.print(f"  {transition['name']}: {needs}", markup=False, highlight=False)
        if self.api_url and not self.script.fits(arn, task["taskId"]):
            command = (
                f"stepq tasks act {shlex.quote(task['taskId'])} ACTION --as PERSON "
                f"--api-url {self.api_url}"
            )
            console.print(f"  act from another terminal: {command}", markup=False)

    def finish(self, console: Console) -> None:
        for answer in self.script.unused():
            console.print(
                f"  [people] answer not given (no task fitted it): {answer}", markup=False
            )
