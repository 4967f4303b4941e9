"""The inbox's starts, resolved through the API's catalog (``runtime/inbox.py`` has the rest).

A start names a machine as StartExecution does (a plain, version or alias
ARN, or ``stateMachineName`` with an optional ``:version``/``:alias``) and
runs the revision the catalog resolves it to. What the API would answer with
an error is, here, the reason the message is dead-lettered.
"""

from __future__ import annotations

import contextlib
from typing import Any

from stepq.api import catalog
from stepq.api.arns import check_name
from stepq.api.context import ApiContext
from stepq.api.protocol import ApiError
from stepq.errors import (
    AlreadyExistsError,
    ExecutionAlreadyExistsError,
    MalformedMessageError,
    NotFoundError,
)
from stepq.runtime.inbox import Inbox, Starter, StartExecution


def inbox(ctx: ApiContext) -> Inbox:
    """The inbox's batch handler over ``ctx``'s store, client and catalog."""
    return Inbox(ctx.store, ctx.client, starter(ctx))


def starter(ctx: ApiContext) -> Starter:
    def start(request: StartExecution, name: str, execution_input: Any) -> str:
        try:
            check_name(name, "an execution name")
            target = catalog.resolve(ctx, _machine_arn(ctx, request))
        except ApiError as exc:
            raise MalformedMessageError(f"{exc.code}: {exc.message}") from None
        execution = ctx.arns.execution(target.name, name)
        try:
            ctx.client.start_execution(target.name, name, execution_input, target.revision)
        except ExecutionAlreadyExistsError as exc:
            # The same input: this message was applied before and the execution has
            # closed since (a redelivery); another input: the name is taken.
            try:
                same = ctx.store.get_execution(execution).input == execution_input
            except NotFoundError:  # refused by the store: an expired execution holds the name
                same = False
            if not same:
                raise MalformedMessageError(f"ExecutionAlreadyExists: {exc}") from None
        except NotFoundError as exc:  # in the catalog, but its revision is gone
            raise MalformedMessageError(f"StateMachineDoesNotExist: {exc}") from None
        if target.version_arn or target.alias_arn:
            started = catalog.StartedDoc(
                stateMachineVersionArn=target.version_arn, stateMachineAliasArn=target.alias_arn
            )
            with contextlib.suppress(AlreadyExistsError):  # written by a first delivery
                ctx.store.put_doc("started", execution, started.model_dump(), None)
        ctx.wake()
        return execution

    return start


def _machine_arn(ctx: ApiContext, request: StartExecution) -> str:
    if request.stateMachineArn is not None:
        return request.stateMachineArn
    name, _, qualifier = str(request.stateMachineName).partition(":")
    check_name(name, "a state machine name")
    return ctx.arns.machine(name, qualifier or None)
