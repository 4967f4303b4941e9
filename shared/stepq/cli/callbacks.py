"""``stepq run`` and tasks that wait for a token: serve the API, show the token.

While an execution whose definition has callback tasks (``.waitForTaskToken``
resources, activities) runs, the API is served on loopback (port 8083 unless
taken, then any free one), and each token a task is given is printed with the
exact command that answers it from a second terminal.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

from rich.console import Console

CALLBACK_SUFFIX = ".waitForTaskToken"


def has_callbacks(definition: Any) -> bool:
    """Whether any Task (nested ones too) waits for a token or is an activity."""
    if isinstance(definition, dict):
        resource = definition.get("Resource")
        if isinstance(resource, str) and (
            resource.endswith(CALLBACK_SUFFIX) or ":activity:" in resource
        ):
            return True
        return any(has_callbacks(v) for v in definition.values())
    if isinstance(definition, list):
        return any(has_callbacks(v) for v in definition)
    return False


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def tokens_in(event: dict[str, Any], execution_arn: str) -> list[str]:
    """The tokens of ``execution_arn`` a scheduled callback task was handed."""
    from stepq.core.tokens import parse_token

    if not str(event.get("type", "")).endswith("Scheduled"):
        return []
    details = event.get("details") or {}
    resource = str(details.get("resource", ""))
    if not (resource.endswith(CALLBACK_SUFFIX) or ":activity:" in resource):
        return []
    found = []
    for text in _strings(details.get("input")):
        parsed = parse_token(text)
        if parsed is not None and parsed[0] == execution_arn and text not in found:
            found.append(text)
    return found


class CallbackDesk:
    """The API on loopback for the length of a run, and the tokens announced once each."""

    def __init__(self, runtime: Any, port: int, dev_identities: bool = False) -> None:
        """``dev_identities`` (``stepq run --people``): the ``X-Stepq-Dev-User`` header
        names the caller, so ``stepq tasks act --as USER`` works from a second
        terminal; on loopback, for the length of the run."""
        from stepq.api.handler import ApiHandler
        from stepq.hosting.api_server import ApiServer
        from stepq.hosting.dev import api_context

        ctx = api_context(runtime)
        ctx.dev_identities = dev_identities
        handler = ApiHandler(ctx)
        try:
            server = ApiServer(handler, "127.0.0.1", port)
        except OSError:  # taken (another stepq dev or run): any free port will do
            server = ApiServer(handler, "127.0.0.1", 0)
        self.server = server.start()
        self.announced: set[str] = set()

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.server.close()

    def announce(self, console: Console, execution_arn: str, events: list[dict[str, Any]]) -> None:
        current = ""
        for event in events:
            details = event.get("details") or {}
            if str(event.get("type", "")).endswith("StateEntered"):
                current = str(details.get("name", ""))
            for token in tokens_in(event, execution_arn):
                if token in self.announced:
                    continue
                self.announced.add(token)
                self._print(console, current, token)

    def _print(self, console: Console, state: str, token: str) -> None:
        quoted = shlex.quote(token)
        answer = f"stepq send-task-success --api-url {self.url} {quoted} --output '{{}}'"
        console.print(
            f"[bold yellow]{state or 'a task'} waits for a callback.[/bold yellow] Its token:",
            highlight=False,
        )
        console.print(token, markup=False, highlight=False)
        console.print("Answer it from another terminal:", highlight=False)
        console.print(f"  {answer}", markup=False, highlight=False)
        console.print(
            f"  stepq send-task-failure --api-url {self.url} {quoted} --error Rejected",
            markup=False,
            highlight=False,
        )
