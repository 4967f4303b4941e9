"""Each translated resource type, created on moto by the API calls CloudFormation makes.

The resources the handlers use (table, queues, bucket, roles, rules, alarms)
are created for real on moto; the ones Lambda and API Gateway stand for
(functions, layers, event source mappings, permissions, APIs) are played by
the harness (``lambda_emulator``) and only get their identifiers here. A
type in neither list raises: a new kind of resource in the template must be
thought about, not silently skipped.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deploy.cfn_intrinsics import TemplateError


@dataclass
class Physical:
    ref: str  # what Ref returns
    attributes: dict[str, Any] = field(default_factory=dict)  # what Fn::GetAtt returns


@dataclass
class Account:
    region: str
    account_id: str
    stack_name: str
    clients: Callable[[str], Any]  # service -> a boto3 client (the deployer's)

    def name(self, logical_id: str, *, lower: bool = False, limit: int = 64) -> str:
        """A physical name as CloudFormation generates one: stack, logical id, a suffix."""
        suffix = uuid.uuid4().hex[:12].upper()
        text = f"{self.stack_name}-{logical_id}"[: limit - 13] + f"-{suffix}"
        return text.lower() if lower else text

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:aws:{service}:{self.region if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )


Creator = Callable[[Account, str, dict[str, Any]], Physical]


def _table(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    ddb = acct.clients("dynamodb")
    name = props.get("TableName") or acct.name(logical_id, limit=255)
    kwargs: dict[str, Any] = {
        k: props[k]
        for k in (
            "AttributeDefinitions",
            "KeySchema",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "BillingMode",
            "ProvisionedThroughput",
            "StreamSpecification",
            "DeletionProtectionEnabled",
        )
        if k in props
    }
    if "DeletionProtectionEnabled" in kwargs:
        kwargs["DeletionProtectionEnabled"] = _bool(kwargs["DeletionProtectionEnabled"])
    if "SSESpecification" in props:
        sse = dict(props["SSESpecification"])
        kwargs["SSESpecification"] = {
            "Enabled": _bool(sse.get("SSEEnabled", False)),
            **({"SSEType": sse["SSEType"]} if "SSEType" in sse else {}),
            **({"KMSMasterKeyId": sse["KMSMasterKeyId"]} if "KMSMasterKeyId" in sse else {}),
        }
    description = ddb.create_table(TableName=name, **kwargs)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        ttl = {**ttl, "Enabled": _bool(ttl.get("Enabled", False))}
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr:
        enabled = _bool(pitr.get("PointInTimeRecoveryEnabled", False))
        ddb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled},
        )
    return Physical(
        name,
        {"Arn": description["TableArn"], "StreamArn": description.get("LatestStreamArn", "")},
    )


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def _queue(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    sqs = acct.clients("sqs")
    name = props.get("QueueName") or acct.name(logical_id, limit=80)
    attributes = {k: _text(props[k]) for k in _QUEUE_ATTRIBUTES if k in props}
    for key in ("RedrivePolicy", "RedriveAllowPolicy"):
        if key in props:
            attributes[key] = json.dumps(props[key])
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return Physical(url, {"Arn": acct.arn("sqs", name), "QueueName": name, "QueueUrl": url})


def _queue_policy(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    sqs = acct.clients("sqs")
    for url in props["Queues"]:
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )
    return Physical(acct.name(logical_id))


def _bucket(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    s3 = acct.clients("s3")
    name = props.get("BucketName") or acct.name(logical_id, lower=True, limit=63)
    s3.create_bucket(Bucket=name)  # us-east-1: no location constraint
    if "BucketEncryption" in props:
        rules = [
            {
                (
                    "ApplyServerSideEncryptionByDefault"
                    if k == "ServerSideEncryptionByDefault"
                    else k
                ): (_bool(v) if k == "BucketKeyEnabled" else v)
                for k, v in rule.items()
            }
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        block = {k: _bool(v) for k, v in props["PublicAccessBlockConfiguration"].items()}
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=block)
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration=props["VersioningConfiguration"]
        )
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    cors = (props.get("CorsConfiguration") or {}).get("CorsRules")
    if cors:  # CloudFormation's CorsRule is S3's under two other names
        renamed = {"MaxAge": "MaxAgeSeconds", "Id": "ID"}
        s3.put_bucket_cors(
            Bucket=name,
            CORSConfiguration={
                "CORSRules": [{renamed.get(k, k): v for k, v in rule.items()} for rule in cors]
            },
        )
    rules = (props.get("LifecycleConfiguration") or {}).get("Rules")
    if rules:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in rules]}
        )
    logging = props.get("LoggingConfiguration")
    if logging:
        status = {
            "LoggingEnabled": {
                "TargetBucket": logging["DestinationBucketName"],
                "TargetPrefix": logging.get("LogFilePrefix", ""),
            }
        }
        try:
            s3.put_bucket_logging(Bucket=name, BucketLoggingStatus=status)
        except s3.exceptions.ClientError as exc:
            # moto only accepts a target whose ACL grants the log-delivery group; a
            # bucket policy for logging.s3.amazonaws.com (what S3 now advises) it ignores.
            if "InvalidTargetBucketForLogging" not in str(exc):
                raise
    return Physical(
        name,
        {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{acct.region}.amazonaws.com",
        },
    )


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape -> the S3 API's."""
    out: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule["Status"]}
    out["Filter"] = {"Prefix": rule["Prefix"]} if "Prefix" in rule else {"Prefix": ""}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": rule["ExpirationInDays"]}
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        }
    elif "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]
        }
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return out


def _bucket_policy(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    document = dict(props["PolicyDocument"])
    statements = document.get("Statement", [])
    document["Statement"] = [
        s for s in ([statements] if isinstance(statements, dict) else statements) if _applies(s)
    ]
    acct.clients("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(document))
    return Physical(acct.name(logical_id))


# What a handler's request looks like to a policy condition: boto3 speaks HTTPS.
_REQUEST_CONTEXT = {"aws:securetransport": "true"}


def _applies(statement: dict[str, Any]) -> bool:
    """Whether a bucket policy statement's Condition holds for the handlers' requests.

    moto applies a bucket policy's statements without looking at their
    conditions (its put_bucket_policy docs), so a TLS-only Deny would deny
    everything; the harness evaluates the conditions it knows and keeps the
    statements that hold. An unknown condition raises rather than guess.
    moto ignores statements for other principals, so they stay as written.
    """
    if statement.get("Principal") not in ("*", {"AWS": "*"}):
        return True
    for operator, tests in (statement.get("Condition") or {}).items():
        for key, expected in tests.items():
            actual = _REQUEST_CONTEXT.get(key.lower())
            if operator != "Bool" or actual is None:
                raise TemplateError(
                    f"bucket policy condition {operator} {key} is not evaluated offline"
                )
            values = expected if isinstance(expected, list) else [expected]
            if actual not in [str(v).lower() for v in values]:
                return False
    return True


def _role(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    iam = acct.clients("iam")
    name = props.get("RoleName") or acct.name(logical_id)
    role = iam.create_role(
        RoleName=name,
        Path=props.get("Path", "/"),
        AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
    )["Role"]
    for policy in props.get("Policies", []):
        iam.put_role_policy(
            RoleName=name,
            PolicyName=policy["PolicyName"],
            # SAM's policy templates leave Version out (IAM then assumes 2008-10-17,
            # which moto refuses); the statements are what matter here.
            PolicyDocument=json.dumps({"Version": "2012-10-17", **policy["PolicyDocument"]}),
        )
    for arn in props.get("ManagedPolicyArns", []):
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    return Physical(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})


def _rule(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    events = acct.clients("events")
    name = props.get("Name") or acct.name(logical_id)
    kwargs: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
    if "EventPattern" in props:
        kwargs["EventPattern"] = json.dumps(props["EventPattern"])
    if "ScheduleExpression" in props:
        kwargs["ScheduleExpression"] = props["ScheduleExpression"]
    if "Description" in props:
        kwargs["Description"] = props["Description"]
    arn = events.put_rule(**kwargs)["RuleArn"]
    targets = [
        {k: t[k] for k in ("Id", "Arn", "Input", "InputPath", "RoleArn") if k in t}
        for t in props.get("Targets", [])
        # Lambda targets are the harness's (moto would need Docker to invoke them, and
        # it matches a schedule rule, which has no pattern, to every event).
        if ":lambda:" not in t["Arn"]
    ]
    if targets:
        events.put_targets(Rule=name, Targets=targets)
    return Physical(name, {"Arn": arn})


def _alarm(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    name = props.get("AlarmName") or acct.name(logical_id, limit=255)
    keys = (
        "AlarmDescription",
        "ActionsEnabled",
        "OKActions",
        "AlarmActions",
        "InsufficientDataActions",
        "MetricName",
        "Namespace",
        "Statistic",
        "ExtendedStatistic",
        "Dimensions",
        "Period",
        "Unit",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "Metrics",
    )
    kwargs = {k: props[k] for k in keys if k in props}
    if "Threshold" in kwargs:
        kwargs["Threshold"] = float(kwargs["Threshold"])
    acct.clients("cloudwatch").put_metric_alarm(AlarmName=name, **kwargs)
    return Physical(name, {"Arn": acct.arn("cloudwatch", f"alarm:{name}")})


def _dashboard(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    name = props.get("DashboardName") or acct.name(logical_id, limit=255)
    acct.clients("cloudwatch").put_dashboard(
        DashboardName=name, DashboardBody=props["DashboardBody"]
    )
    return Physical(name)


def _topic(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    name = props.get("TopicName") or acct.name(logical_id, limit=256)
    arn = acct.clients("sns").create_topic(Name=name)["TopicArn"]
    return Physical(arn, {"TopicArn": arn, "TopicName": name})


def _key(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    kwargs: dict[str, Any] = {}
    if "KeyPolicy" in props:
        kwargs["Policy"] = json.dumps(props["KeyPolicy"])
    if "Description" in props:
        kwargs["Description"] = props["Description"]
    meta = acct.clients("kms").create_key(**kwargs)["KeyMetadata"]
    return Physical(meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]})


def _alias(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    acct.clients("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
    return Physical(props["AliasName"])


def _log_group(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    name = props.get("LogGroupName") or acct.name(logical_id, limit=512)
    acct.clients("logs").create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        acct.clients("logs").put_retention_policy(
            logGroupName=name, retentionInDays=int(props["RetentionInDays"])
        )
    return Physical(name, {"Arn": acct.arn("logs", f"log-group:{name}:*")})


def _user_pool(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    name = props.get("UserPoolName") or acct.name(logical_id, limit=128)
    keys = (
        "AdminCreateUserConfig",
        "UsernameConfiguration",
        "AutoVerifiedAttributes",
        "Schema",
        "Policies",
        "MfaConfiguration",
        "AccountRecoverySetting",
    )
    kwargs = {k: props[k] for k in keys if k in props}
    if "Schema" in kwargs:  # CloudFormation's Schema is the API's
        kwargs["Schema"] = [
            {k: _bool(v) if k in ("Required", "Mutable") else v for k, v in a.items()}
            for a in kwargs["Schema"]
        ]
    if "AdminCreateUserConfig" in kwargs:
        config = dict(kwargs["AdminCreateUserConfig"])
        if "AllowAdminCreateUserOnly" in config:
            config["AllowAdminCreateUserOnly"] = _bool(config["AllowAdminCreateUserOnly"])
        kwargs["AdminCreateUserConfig"] = config
    pool = acct.clients("cognito-idp").create_user_pool(PoolName=name, **kwargs)["UserPool"]
    return Physical(
        pool["Id"],
        {
            "Arn": pool["Arn"],
            "ProviderName": f"cognito-idp.{acct.region}.amazonaws.com/{pool['Id']}",
        },
    )


def _user_pool_client(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    keys = ("ExplicitAuthFlows", "PreventUserExistenceErrors", "EnableTokenRevocation")
    kwargs = {k: props[k] for k in keys if k in props}
    client = acct.clients("cognito-idp").create_user_pool_client(
        UserPoolId=props["UserPoolId"],
        ClientName=props.get("ClientName") or logical_id,
        GenerateSecret=_bool(props.get("GenerateSecret", False)),
        **{k: _bool(v) if k == "EnableTokenRevocation" else v for k, v in kwargs.items()},
    )["UserPoolClient"]
    return Physical(client["ClientId"], {"ClientSecret": client.get("ClientSecret", "")})


# --- played by the harness: identifiers only -------------------------------------


def _function(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    name = props.get("FunctionName") or acct.name(logical_id)
    return Physical(name, {"Arn": acct.arn("lambda", f"function:{name}")})


def _layer(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    name = props.get("LayerName") or logical_id
    return Physical(acct.arn("lambda", f"layer:{name}:1"))


def _rest_api(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    api_id = uuid.uuid4().hex[:10]
    return Physical(api_id, {"RootResourceId": uuid.uuid4().hex[:10], "ApiEndpoint": ""})


def _opaque(acct: Account, logical_id: str, props: dict[str, Any]) -> Physical:
    return Physical(props.get("StageName") or uuid.uuid4().hex[:10])


CREATED_ON_MOTO: dict[str, Creator] = {
    "AWS::DynamoDB::Table": _table,
    "AWS::SQS::Queue": _queue,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::S3::Bucket": _bucket,
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::IAM::Role": _role,
    "AWS::Events::Rule": _rule,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::Dashboard": _dashboard,
    "AWS::SNS::Topic": _topic,
    "AWS::KMS::Key": _key,
    "AWS::KMS::Alias": _alias,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::Cognito::UserPool": _user_pool,
    "AWS::Cognito::UserPoolClient": _user_pool_client,
}

PLAYED_BY_HARNESS: dict[str, Creator] = {
    "AWS::Lambda::Function": _function,
    "AWS::Lambda::LayerVersion": _layer,
    "AWS::Lambda::EventSourceMapping": _opaque,
    "AWS::Lambda::Permission": _opaque,
    "AWS::ApiGateway::RestApi": _rest_api,
    "AWS::ApiGateway::Deployment": _opaque,
    "AWS::ApiGateway::Stage": _opaque,
    "AWS::ApiGateway::Account": _opaque,
    "AWS::ApiGatewayV2::Api": _rest_api,
    "AWS::ApiGatewayV2::Stage": _opaque,
}


def create(acct: Account, logical_id: str, type_: str, props: dict[str, Any]) -> Physical:
    creator = CREATED_ON_MOTO.get(type_) or PLAYED_BY_HARNESS.get(type_)
    if creator is None:
        raise TemplateError(
            f"{logical_id}: {type_} has no offline counterpart; add one to deploy/moto_resources.py"
        )
    return creator(acct, logical_id, props)


def _bool(value: Any) -> bool:
    """CloudFormation takes "true"/"false" where the API wants a boolean."""
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
