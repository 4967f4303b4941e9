"""Test helpers for the executions and history suites: machines, versions and aliases.

Through the API when its operation exists (``sfn.create_state_machine`` ...);
until then (another part of the API, built in parallel) straight into the
catalog documents those operations write, so these suites run either way.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from stepq.api import catalog
from stepq.api.registry import OPERATIONS
from stepq.hosting.dev import DevServer

from api.server_support import module_server

ROLE = "arn:aws:iam::111111111111:role/stepq-test"

PASS_ONLY = {
    "StartAt": "One",
    "States": {
        "One": {"Type": "Pass", "Result": {"one": 1}, "ResultPath": "$.first", "Next": "Two"},
        "Two": {"Type": "Pass", "End": True},
    },
}

WAIT_LONG = {
    "StartAt": "Wait",
    "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}},
}

FAILS = {
    "StartAt": "Boom",
    "States": {"Boom": {"Type": "Fail", "Error": "Custom.Boom", "Cause": "it had to"}},
}


_serial = itertools.count(1)


def shared_dev(**options: Any) -> Iterator[DevServer]:
    """One ``stepq dev`` server for a whole test module (starting one takes a second):
    the body of a module-scoped ``dev`` fixture. Tests give their machines unique names."""
    with module_server(**options) as server:
        yield server


def _now(dev: DevServer) -> str:
    return dev.context.clock.now().isoformat()


def create_machine(
    sfn: Any, dev: DevServer, name: str, definition: dict[str, Any], kind: str = "STANDARD"
) -> str:
    """A state machine named ``name-<n>`` (unique in the process); its ARN."""
    name = f"{name}-{next(_serial)}"
    if "CreateStateMachine" in OPERATIONS:
        reply = sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=ROLE, type=kind
        )
        return str(reply["stateMachineArn"])
    store = dev.context.store
    revision = store.put_machine(name, definition)
    doc = catalog.MachineDoc(type=kind, roleArn=ROLE, creationDate=_now(dev), revision=revision)
    store.put_doc("machine", name, doc.model_dump(), None)
    return dev.context.arns.machine(name)


def publish_version(sfn: Any, dev: DevServer, machine_arn: str) -> str:
    """Publish the machine's current definition as a version; the version's ARN."""
    if "PublishStateMachineVersion" in OPERATIONS:
        return str(
            sfn.publish_state_machine_version(stateMachineArn=machine_arn)["stateMachineVersionArn"]
        )
    store = dev.context.store
    name = machine_arn.rsplit(":", 1)[1]
    doc, _ = catalog.machine(dev.context, name)
    number = len(store.list_docs("version", f"{name}:")) + 1
    body = catalog.VersionDoc(revision=doc.revision, creationDate=_now(dev))
    store.put_doc("version", f"{name}:{number}", body.model_dump(), None)
    return dev.context.arns.machine(name, number)


def create_alias(sfn: Any, dev: DevServer, machine_arn: str, alias: str, version_arn: str) -> str:
    """An alias routing every start to ``version_arn``; the alias's ARN."""
    routing = [{"stateMachineVersionArn": version_arn, "weight": 100}]
    if "CreateStateMachineAlias" in OPERATIONS:
        reply = sfn.create_state_machine_alias(name=alias, routingConfiguration=routing)
        return str(reply["stateMachineAliasArn"])
    name = machine_arn.rsplit(":", 1)[1]
    body = catalog.AliasDoc(routingConfiguration=routing, creationDate=_now(dev))
    dev.context.store.put_doc("alias", f"{name}:{alias}", body.model_dump(), None)
    return dev.context.arns.machine(name, alias)
