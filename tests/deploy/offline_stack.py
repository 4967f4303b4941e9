"""The deployed stack, offline: template.yaml translated, created on moto, run by its handlers.

``OfflineStack.deploy()`` translates the SAM template (``sam_template``),
creates each resource on moto in dependency order with its intrinsics
resolved against the parameters' defaults and overrides
(``cfn_intrinsics``, ``moto_resources``), and wires each
``AWS::Lambda::Function`` to its real handler (``lambda_emulator``): its
environment is the translated template's (Globals merged), its event
sources the template's mappings, schedules and API. Call it inside
``moto.mock_aws()`` with ``Recorder.installed()`` and ``TimeTravel.installed()``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.core import DEFAULT_ACCOUNT_ID

from deploy.aws_calls import HARNESS, Recorder
from deploy.cfn_intrinsics import Resolver, TemplateError, references
from deploy.lambda_emulator import (
    LambdaFunction,
    SqsEventSource,
    TimeTravel,
    http_api_event,
    rest_api_event,
    schedule_event,
)
from deploy.moto_resources import Account, Physical, create
from deploy.sam_template import Translated, load_yaml, translate

STACK_NAME = "stepq-offline"
REGION = "us-east-1"
API_CALLER = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/operator"
STEPFUNCTIONS_TARGET = "AWSStepFunctions."


@dataclass
class ScheduledFunction:
    function: LambdaFunction
    rule_arn: str


@dataclass
class OfflineStack:
    template_path: Path
    parameters: dict[str, str]
    recorder: Recorder
    clock: TimeTravel
    translated: Translated | None = None
    resources: dict[str, Physical] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    functions: dict[str, LambdaFunction] = field(default_factory=dict)
    sources: list[SqsEventSource] = field(default_factory=list)
    schedules: list[ScheduledFunction] = field(default_factory=list)
    api: tuple[LambdaFunction, str, str] | None = None  # function, payload version, api id
    outputs: dict[str, Any] = field(default_factory=dict)
    _deployer: dict[str, Any] = field(default_factory=dict)

    # --- deploy -------------------------------------------------------------------

    def deploy(self) -> OfflineStack:
        with self.recorder.acting_as(HARNESS):
            self.translated = translate(self.template_path, REGION, self.parameters)
            self.outputs = self._create(
                self.translated.template, self.parameters, self.template_path.parent, nested=""
            )
        return self

    def _create(
        self, template: dict[str, Any], parameters: dict[str, Any], base: Path, nested: str
    ) -> dict[str, Any]:
        """Create ``template``'s resources (a nested stack's too); its resolved Outputs."""
        created: dict[str, Physical] = {}
        resolver = self._resolver(template, parameters, created)
        for logical_id in self._creation_order(template, resolver):
            resource = template["Resources"][logical_id]
            type_ = resource["Type"]
            props = resolver.resolve(resource.get("Properties") or {})
            if type_ == "AWS::CloudFormation::Stack":
                created[logical_id] = self._nested(logical_id, props, base, nested)
            else:
                created[logical_id] = create(self._account, logical_id, type_, props)
            self.types[nested + logical_id] = type_
            self.resources[nested + logical_id] = created[logical_id]
            if not nested:
                self._wire(logical_id, type_, props)
            elif type_ in ("AWS::Lambda::Function", "AWS::Lambda::EventSourceMapping"):
                raise TemplateError(
                    f"{nested}{logical_id}: functions in nested stacks do not run offline"
                )
        return {
            name: resolver.resolve(output["Value"])
            for name, output in template.get("Outputs", {}).items()
            if "Condition" not in output or resolver.condition(output["Condition"])
        }

    def _nested(self, logical_id: str, props: dict[str, Any], base: Path, nested: str) -> Physical:
        """A nested stack whose TemplateURL is a local file (as before ``sam package``)."""
        url = str(props["TemplateURL"])
        if "://" in url:
            raise TemplateError(f"{logical_id}: nested template {url} is not a local file")
        path = (base / url).resolve()
        child = load_yaml(path)
        if "Transform" in child:
            child = translate(path, REGION, props.get("Parameters")).template
        outputs = self._create(
            child, props.get("Parameters") or {}, path.parent, f"{nested}{logical_id}/"
        )
        arn = f"arn:aws:cloudformation:{REGION}:{DEFAULT_ACCOUNT_ID}:stack/{STACK_NAME}-{logical_id}/offline"
        return Physical(arn, {f"Outputs.{k}": v for k, v in outputs.items()})

    @property
    def _account(self) -> Account:
        return Account(REGION, DEFAULT_ACCOUNT_ID, STACK_NAME, self.deployer_client)

    def deployer_client(self, service: str) -> Any:
        """A client of whoever deploys and operates the stack (not any function)."""
        if service not in self._deployer:
            with self.recorder.acting_as(HARNESS):
                self._deployer[service] = _new_client(service)
        return self._deployer[service]

    def _resolver(
        self, template: dict[str, Any], given: dict[str, Any], created: dict[str, Physical]
    ) -> Resolver:
        parameters: dict[str, Any] = {
            name: given.get(name, spec.get("Default"))
            for name, spec in template.get("Parameters", {}).items()
        }
        missing = [n for n, v in parameters.items() if v is None]
        if missing:
            raise TemplateError(f"parameters without a default need a value: {missing}")
        for name, spec in template.get("Parameters", {}).items():
            if (
                str(spec.get("Type", "")).startswith("List<")
                or spec.get("Type") == "CommaDelimitedList"
            ):
                value = parameters[name]
                parameters[name] = value.split(",") if isinstance(value, str) else value
        parameters.update(
            {
                "AWS::Region": REGION,
                "AWS::AccountId": DEFAULT_ACCOUNT_ID,
                "AWS::Partition": "aws",
                "AWS::StackName": STACK_NAME,
                "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{DEFAULT_ACCOUNT_ID}:stack/{STACK_NAME}/offline",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::NotificationARNs": [],
            }
        )

        def get_att(logical_id: str, attribute: str) -> Any:
            try:
                return created[logical_id].attributes[attribute]
            except KeyError:
                raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not known") from None

        def ref(logical_id: str) -> Any:
            if logical_id not in created:
                raise TemplateError(f"Ref {logical_id}: no such resource or parameter")
            return created[logical_id].ref

        return Resolver(parameters, template.get("Conditions", {}), ref, get_att)

    def _creation_order(self, template: dict[str, Any], resolver: Resolver) -> list[str]:
        resources = {
            k: v
            for k, v in template["Resources"].items()
            if "Condition" not in v or resolver.condition(v["Condition"])
        }
        needs: dict[str, set[str]] = {}
        for logical_id, resource in resources.items():
            depends = resource.get("DependsOn", [])
            refs = set(references(resource.get("Properties") or {}, resolver.condition))
            refs |= {depends} if isinstance(depends, str) else set(depends)
            needs[logical_id] = {r for r in refs if r in resources}
        order: list[str] = []
        while needs:
            ready = sorted(k for k, deps in needs.items() if not deps - set(order))
            if not ready:
                raise TemplateError(f"circular dependencies among {sorted(needs)}")
            order += ready
            for k in ready:
                del needs[k]
        return order

    def _wire(self, logical_id: str, type_: str, props: dict[str, Any]) -> None:
        """Functions, their event sources, schedules and API, as Lambda would run them."""
        assert self.translated is not None
        if type_ == "AWS::Lambda::Function":
            physical = self.resources[logical_id]
            self.functions[logical_id] = LambdaFunction(
                logical_id=logical_id,
                name=physical.ref,
                arn=physical.attributes["Arn"],
                handler=props["Handler"],
                code_dir=self.translated.code_dirs[logical_id],
                environment={
                    k: str(v)
                    for k, v in (props.get("Environment") or {}).get("Variables", {}).items()
                },
                timeout_s=int(props.get("Timeout", 3)),
                memory_mb=int(props.get("MemorySize", 128)),
                region=REGION,
                recorder=self.recorder,
                role_arn=props["Role"],
            )
        elif type_ == "AWS::Lambda::EventSourceMapping":
            function = self._function_named(props["FunctionName"])
            arn = props["EventSourceArn"]
            if ":sqs:" not in arn:
                raise TemplateError(f"{logical_id}: only SQS event sources run offline")
            # Lambda polls with the function's role: its calls count as the function's.
            with self.recorder.acting_as(f"{function.logical_id}{EVENT_SOURCE}"):
                sqs = _new_client("sqs")
            url = self.deployer_client("sqs").get_queue_url(QueueName=arn.rsplit(":", 1)[-1])[
                "QueueUrl"
            ]
            self.sources.append(
                SqsEventSource(
                    function=function,
                    queue_url=url,
                    queue_arn=arn,
                    batch_size=int(props.get("BatchSize", 10)),
                    report_failures="ReportBatchItemFailures"
                    in props.get("FunctionResponseTypes", []),
                    sqs=sqs,
                )
            )
        elif type_ == "AWS::Events::Rule" and "ScheduleExpression" in props:
            for target in props.get("Targets", []):
                function = self._function_by_arn(target["Arn"])
                if function is not None:
                    self.schedules.append(
                        ScheduledFunction(function, self.resources[logical_id].attributes["Arn"])
                    )
        elif (
            type_ == "AWS::Lambda::Permission"
            and props.get("Principal") == "apigateway.amazonaws.com"
        ):
            function = self._function_named(props["FunctionName"])
            v2 = any(t.startswith("AWS::ApiGatewayV2::") for t in self.types.values())
            api_ids = [
                p.ref
                for k, p in self.resources.items()
                if self.types[k] in ("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api")
            ]
            self.api = (function, "2.0" if v2 else "1.0", api_ids[0] if api_ids else "offline")

    def _function_named(self, name_or_arn: str) -> LambdaFunction:
        for function in self.functions.values():
            if name_or_arn in (function.name, function.arn):
                return function
        raise TemplateError(f"no function {name_or_arn!r} in the stack")

    def _function_by_arn(self, arn: str) -> LambdaFunction | None:
        return next((f for f in self.functions.values() if f.arn == arn), None)

    # --- run ----------------------------------------------------------------------

    def tick(self) -> list[Any]:
        """EventBridge's schedule fires once: each scheduled function gets its event."""
        return [
            s.function.invoke(
                schedule_event(s.rule_arn, DEFAULT_ACCOUNT_ID, REGION, self.clock.now())
            )
            for s in self.schedules
        ]

    def drain(self, *, max_invocations: int = 500, retry_failed: int = 3) -> int:
        """Every event source polls until no queue has a visible message; invocations made.

        Records a function reported failed come back (their visibility timeout
        runs out) up to ``retry_failed`` times; after that they stay invisible.
        """
        invoked = 0
        retries = 0
        while invoked < max_invocations:
            progressed = False
            for source in self.sources:
                if source.poll():
                    invoked += 1
                    progressed = True
            if progressed:
                continue
            if retries < retry_failed and any(s.failed for s in self.sources):
                retries += 1
                for source in self.sources:
                    source.expire_failed()
                continue
            return invoked
        raise AssertionError(f"the queues did not drain in {max_invocations} invocations")

    def call_api(
        self, operation: str, payload: dict[str, Any], target: str = STEPFUNCTIONS_TARGET
    ) -> tuple[int, Any]:
        """A Step Functions (or ``target="Stepq."``: stepq) API request through API
        Gateway to the API function, as the deployer's IAM identity."""
        if self.api is None:
            raise TemplateError("the template has no API function")
        function, version, api_id = self.api
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": target + operation,
        }
        build = http_api_event if version == "2.0" else rest_api_event
        stage = "$default" if version == "2.0" else "Prod"
        event = build(
            json.dumps(payload),
            headers,
            api_id=api_id,
            stage=stage,
            account=DEFAULT_ACCOUNT_ID,
            caller=API_CALLER,
        )
        response = function.invoke(event)
        return int(response["statusCode"]), json.loads(response.get("body") or "null")

    @property
    def account_id(self) -> str:
        return DEFAULT_ACCOUNT_ID

    def parameter(self, name: str) -> str:
        assert self.translated is not None
        spec = self.translated.template.get("Parameters", {}).get(name, {})
        return str(self.parameters.get(name, spec.get("Default")))

    def queue_url(self, logical_id: str) -> str:
        return self.resources[logical_id].ref

    def function_with_service(self, service: str) -> LambdaFunction | None:
        return next(
            (
                f
                for f in self.functions.values()
                if f.environment.get("POWERTOOLS_SERVICE_NAME") == service
            ),
            None,
        )


EVENT_SOURCE = " (event source mapping)"  # suffix of the poller's recorded identity


_SESSION: list[Any] = []


def _new_client(service: str) -> Any:
    # One session for the harness's clients: it loads each API model once.
    if not _SESSION:
        _SESSION.append(boto3.session.Session())
    return _SESSION[0].client(service, region_name=REGION)
