"""Worker Lambda: a batch of task-queue messages -> run the steps -> record the results.

The step functions come from the module named by ``STEPQ_FUNCTIONS``
(bundled with this function or in a layer). The worker commits the results
itself and runs the steps they lead to inline when it hosts them (see
``stepq.runtime.applier``), so a chain of steps costs one commit, not one
queue round trip per step. With ``STEPQ_DIRECT_LAMBDA=1`` a function that
module lacks is invoked as the deployed Lambda function of that name
(``stepq.backends.aws.lambda_invoke``); ``STEPQ_FUNCTIONS`` may then be unset.
Partial batch responses as in the orchestrator. The people's e-mail goes
through SES from ``STEPQ_MAIL_FROM`` when it is set; unset, it is refused
("no sender configured (MailFrom)").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SQSEvent
from stepq.backends.aws.integrations import AwsIntegrations, CatalogRoles
from stepq.backends.aws.lambda_invoke import DirectLambdaFunctions, direct_lambda_enabled
from stepq.backends.aws.settings import Settings, build, runtime_config
from stepq.clock import SystemClock
from stepq.errors import MailError
from stepq.hosting.lambda_metrics import Observability
from stepq.hosting.lambda_sqs import consume_batch, warm
from stepq.runtime.client import Client
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.people.runner import PeopleRunner
from stepq.runtime.ports import Mailer
from stepq.runtime.steps import StepFunction, load_functions
from stepq.runtime.worker import Worker

obs = Observability("stepq-worker")  # Logger, Tracer, Metrics (EMF)
logger = obs.logger


@warm  # built on first use, kept warm
def _get() -> tuple[Settings, Worker]:
    settings = Settings.from_env()
    direct = direct_lambda_enabled()
    if not settings.functions and not direct:
        raise RuntimeError("set STEPQ_FUNCTIONS to the module of step functions")
    functions: Mapping[str, StepFunction] = (
        load_functions(settings.functions) if settings.functions else {}
    )
    if direct:  # other names: the deployed Lambda functions, invoked directly
        functions = DirectLambdaFunctions.from_env(functions, region=settings.region)
    store, queues, _ = build(settings)
    clock = SystemClock()
    config = runtime_config(settings)
    config.metrics = obs.emf  # commits, retries and (through the applier) TaskLatency
    orchestrator = Orchestrator(store, queues, clock, config)
    # The same callback client `stepq worker` gives steps (context.client).
    client = Client(orchestrator, queues)
    worker = Worker(
        functions,
        queues,
        clock,
        client=client,
        applier=orchestrator.applier,
        route=orchestrator.config.route,
        # The task queues' VisibilityTimeout in template.yaml (720 s), unless set.
        visibility_timeout=_or(settings.task_visibility_timeout, 720),
        # sqs:sendMessage, sns:publish, aws-sdk:* (the worker role's IAM decides what).
        integrations=AwsIntegrations(region=settings.region, roles=CatalogRoles(store)),
        # Human tasks and process activities (docs/PEOPLE.md).
        people=PeopleRunner(store, queues, clock, mailer_of(settings)),
    )
    return settings, worker


def mailer_of(settings: Settings) -> Mailer:
    """SES from STEPQ_MAIL_FROM (template.yaml's MailFrom), else a mailer that refuses."""
    if not settings.mail_from:
        return NoSender()
    from stepq.backends.aws.ses_mailer import SesMailer
    from stepq.backends.aws.settings import make_client

    return SesMailer(make_client(settings, "sesv2"), settings.mail_from)


class NoSender:
    """No MailFrom: every e-mail is refused, and the process activity's line says why."""

    def send(self, to: list[str], subject: str, body: str) -> str:
        raise MailError("no sender configured (MailFrom)")


@obs.tracer.capture_lambda_handler
@logger.inject_lambda_context
@obs.metrics.log_metrics  # one EMF blob per invocation (stdout)
@obs.emf.flushed  # the runtime's counts, added to it as the invocation ends
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = list(SQSEvent(event).records)
    try:
        settings, worker = _get()
    except Exception:  # misconfigured: every record stays queued (then its DLQ)
        logger.exception("the worker could not start")
        return {"batchItemFailures": [{"itemIdentifier": r.message_id} for r in records]}
    store = worker.applier.store if worker.applier else None
    return consume_batch(
        records,
        worker.queues,
        settings.queue_prefix,
        worker.handle_batch,
        logger,
        store=store,
        metrics=obs.emf,
    )


def _or(value: int | None, default: int) -> int:
    return default if value is None else value
