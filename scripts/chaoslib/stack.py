"""The services of a chaos run: DynamoDB Local, moto server, the proxy, one deployment.

The servers are started with the integration suite's helper
(``tests/integration/stepq_test_servers.py``: free loopback ports, the
DynamoDB Local jar that ``scripts/install_test_services.sh`` installs). The
roles reach SQS and DynamoDB through one outage proxy each and S3 (moto)
directly; the outage cuts off SQS (the default), DynamoDB or both. S3 holds
only claim checks of large payloads, which the examples do not produce, so
it stays reachable rather than sharing SQS's fate. The harness itself (the caller starting
executions and the observer reading outcomes) reaches every service
directly: it stands for a client elsewhere in the network.
"""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import stepq_test_servers as servers  # noqa: E402

from chaoslib.proxy import OutageProxy  # noqa: E402

Unavailable = servers.Unavailable


TARGETS = ("sqs", "dynamodb", "both")


@dataclass
class Stack:
    dynamodb: servers.Server
    moto: servers.Server
    sqs_proxy: OutageProxy
    dynamodb_proxy: OutageProxy
    run_id: str

    def outage_proxies(self, target: str) -> list[OutageProxy]:
        return {
            "sqs": [self.sqs_proxy],
            "dynamodb": [self.dynamodb_proxy],
            "both": [self.sqs_proxy, self.dynamodb_proxy],
        }[target]

    def role_environ(self, functions: str) -> dict[str, str]:
        """The roles' environment: SQS and DynamoDB through the proxies, S3 direct."""
        return self._environ(functions, self.sqs_proxy.url, self.dynamodb_proxy.url)

    def caller_environ(self, functions: str) -> dict[str, str]:
        return self._environ(functions, self.moto.url, self.dynamodb.url)

    def _environ(self, functions: str, sqs: str, dynamodb: str) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("STEPQ_", "AWS_"))}
        environ.update({k: v for k, v in servers.dummy_aws_env().items() if v is not None})
        environ.update(
            {
                "STEPQ_TABLE": f"chaos-{self.run_id}",
                "STEPQ_QUEUE_PREFIX": f"chaos{self.run_id}",
                "STEPQ_BUCKET": f"chaos-{self.run_id}",
                "STEPQ_ENDPOINT_URL": sqs,
                "STEPQ_SQS_ENDPOINT_URL": sqs,
                "STEPQ_DYNAMODB_ENDPOINT_URL": dynamodb,
                "STEPQ_S3_ENDPOINT_URL": self.moto.url,
                "STEPQ_FUNCTIONS": functions,
                "PYTHONUNBUFFERED": "1",  # role logs are read while they run
            }
        )
        return environ

    def stop(self) -> None:
        self.sqs_proxy.stop()
        self.dynamodb_proxy.stop()
        for server in (self.moto, self.dynamodb):
            server.stop()


def start_stack(outage_mode: str, seed: int) -> Stack:
    """Both servers and the proxy; raises ``Unavailable`` with the reason.

    This process gets the dummy credentials too (its caller and observer use boto3)."""
    for name, value in servers.dummy_aws_env().items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    dynamodb = servers.start(servers.DYNAMODB_LOCAL)
    try:
        moto = servers.start(servers.MOTO_SERVER)
    except Exception:
        dynamodb.stop()
        raise
    proxies = [
        OutageProxy(server.port, mode=outage_mode, seed=seed + n)
        for n, server in enumerate((moto, dynamodb))
    ]
    for proxy in proxies:
        proxy.start()
    return Stack(dynamodb, moto, *proxies, uuid.uuid4().hex[:8])


def deploy(environ: dict[str, str], definitions: dict[str, dict[str, Any]]) -> Any:
    """Table, queues and bucket as ``stepq worker --create`` makes them, and the
    machines; returns (settings, store, client) for the caller."""
    from stepq.backends.aws.settings import Settings, build, make_client, runtime_config
    from stepq.clock import SystemClock
    from stepq.hosting.serve import provision
    from stepq.runtime.client import Client
    from stepq.runtime.orchestrator import Orchestrator
    from stepq.runtime.steps import load_functions

    settings = Settings.from_env(environ)
    provision(settings, sorted(load_functions(environ["STEPQ_FUNCTIONS"])))
    assert settings.bucket
    make_client(settings, "s3").create_bucket(Bucket=settings.bucket)
    store, queues, _ = build(settings)
    for name, definition in definitions.items():
        store.put_machine(name, definition)
    orchestrator = Orchestrator(store, queues, SystemClock(), runtime_config(settings))
    return settings, store, Client(orchestrator, queues)
