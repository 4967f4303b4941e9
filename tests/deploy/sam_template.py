"""template.yaml -> the CloudFormation template SAM deploys, translated offline.

``sam deploy`` uploads each local ``CodeUri``/``ContentUri`` and hands
CloudFormation the template with S3 locations; the AWS::Serverless-2016-10-31
transform then expands it. Here the same translator (aws-sam-translator)
runs in-process: local paths are swapped for ``s3://`` placeholders (their
folders are kept: the harness imports the handlers from them), and the
managed-policy map comes from a loader that needs no AWS.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARTIFACTS_BUCKET = "stepq-offline-artifacts"  # stands in for sam deploy's upload bucket
_LOCAL_URI_KEYS = ("CodeUri", "ContentUri")


@dataclass(frozen=True)
class Translated:
    template: dict[str, Any]  # plain CloudFormation: no AWS::Serverless::* left
    code_dirs: dict[str, Path]  # SAM logical id -> its local CodeUri/ContentUri folder
    source: dict[str, Any]  # the SAM template as written


def load_yaml(path: Path) -> dict[str, Any]:
    """A CloudFormation YAML file with its short-form tags (!Ref, !Sub, ...) as long form."""
    from samtranslator.yaml_helper import yaml_parse

    parsed = yaml_parse(path.read_text())
    if not isinstance(parsed, dict):
        raise ValueError(f"{path} is not a template")
    return parsed


def translate(path: Path, region: str, parameters: dict[str, Any] | None = None) -> Translated:
    """Translate the SAM template at ``path`` as CloudFormation's transform would."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    source = load_yaml(path)
    sam = copy.deepcopy(source)
    code_dirs: dict[str, Path] = {}
    for logical_id, resource in sam.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        for key in _LOCAL_URI_KEYS:
            uri = properties.get(key)
            if isinstance(uri, str) and not uri.startswith("s3://"):
                code_dirs[logical_id] = (path.parent / uri).resolve()
                properties[key] = f"s3://{ARTIFACTS_BUCKET}/{logical_id}.zip"
    # The session only supplies the region (AWS::Region, AWS::Partition); it makes no call.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    template = translator.translate(
        sam, parameter_values=dict(parameters or {}), get_managed_policy_map=_no_managed_policies
    )
    return Translated(template=template, code_dirs=code_dirs, source=source)


def _no_managed_policies() -> dict[str, str]:
    # Policies: entries naming an AWS managed policy by name would need IAM's list;
    # stepq's template names none (ARNs and SAM policy templates pass through).
    return {}
