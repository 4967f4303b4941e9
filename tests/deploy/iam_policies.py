"""The IAM actions a deployed role allows: its inline policies and its managed ones, as IAM has them.

Read back from (moto's) IAM after the stack is created, so what is compared
is what was deployed: the translated template's inline statements and the
AWS managed policies SAM attaches (moto carries AWS's documents for them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import unquote


@dataclass
class Grant:
    pattern: str  # an action as written, maybe with wildcards
    source: str  # the policy it is in
    resources: list[str] = field(default_factory=lambda: ["*"])

    def covers(self, action: str, resource: str | None = None) -> bool:
        if not fnmatchcase(action.lower(), self.pattern.lower()):
            return False
        return resource is None or any(fnmatchcase(resource, r) for r in self.resources)


@dataclass
class RoleActions:
    grants: list[Grant] = field(default_factory=list)  # Allow statements
    denials: list[Grant] = field(default_factory=list)  # Deny statements

    def allows(self, action: str, resource: str | None = None) -> bool:
        """Whether ``action`` (on ``resource``) is allowed; conditions are not evaluated."""
        if resource is not None and any(d.covers(action, resource) for d in self.denials):
            return False
        return any(g.covers(action, resource) for g in self.grants)

    @property
    def patterns(self) -> set[str]:
        return {g.pattern for g in self.grants}


def role_actions(iam: Any, role_arn: str) -> RoleActions:
    name = role_arn.rsplit("/", 1)[-1]
    out = RoleActions()
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        _add(out, _document(document), policy_name)
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        arn = attached["PolicyArn"]
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"][
            "Document"
        ]
        _add(out, _document(document), f"{attached['PolicyName']} (managed)")
    return out


def _document(document: Any) -> dict[str, Any]:
    if isinstance(document, str):  # IAM returns it URL-encoded
        return dict(json.loads(unquote(document)))
    return dict(document)


def _add(out: RoleActions, document: dict[str, Any], source: str) -> None:
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        if "NotAction" in statement or "NotResource" in statement:
            raise AssertionError(f"{source}: NotAction/NotResource; name what is allowed")
        actions = statement.get("Action", [])
        resources = statement.get("Resource", "*")
        resources = [resources] if isinstance(resources, str) else list(resources)
        into = out.grants if statement.get("Effect") == "Allow" else out.denials
        for action in [actions] if isinstance(actions, str) else actions:
            into.append(Grant(action, source, resources))
