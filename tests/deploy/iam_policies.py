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


@dataclass
class RoleActions:
    grants: list[Grant] = field(default_factory=list)

    def allows(self, action: str) -> bool:
        return any(fnmatchcase(action.lower(), g.pattern.lower()) for g in self.grants)

    @property
    def patterns(self) -> set[str]:
        return {g.pattern for g in self.grants}


def role_actions(iam: Any, role_arn: str) -> RoleActions:
    name = role_arn.rsplit("/", 1)[-1]
    out = RoleActions()
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        out.grants += _allowed(_document(document), policy_name)
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        arn = attached["PolicyArn"]
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"][
            "Document"
        ]
        out.grants += _allowed(_document(document), attached["PolicyName"])
    return out


def _document(document: Any) -> dict[str, Any]:
    if isinstance(document, str):  # IAM returns it URL-encoded
        return dict(json.loads(unquote(document)))
    return dict(document)


def _allowed(document: dict[str, Any], source: str) -> list[Grant]:
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    grants: list[Grant] = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue  # a Deny only narrows what is allowed
        if "NotAction" in statement:
            raise AssertionError(f"{source}: NotAction grants everything else; name the actions")
        actions = statement.get("Action", [])
        for action in [actions] if isinstance(actions, str) else actions:
            grants.append(Grant(action, source))
    return grants
