"""``stepq dev`` serves a moto server for the services its machines call, on
loopback, in an account of its own: the user sees their queues there, and
stepq's own table and queues stay private."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest
from stepq.hosting.dev import DevServer

REGION = "us-east-1"


def sqs_at(url: str) -> Any:
    return boto3.client("sqs", endpoint_url=url, region_name=REGION)


def test_dev_serves_the_services_its_machines_call(dev: DevServer) -> None:
    url = dev.services_url
    assert url is not None and urlparse(url).hostname == "127.0.0.1"
    sqs = sqs_at(url)
    queue = sqs.create_queue(QueueName="outbox")["QueueUrl"]
    send = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": queue, "MessageBody.$": "$.note"},
        "End": True,
    }
    dev.runtime.deploy("notify", {"StartAt": "Send", "States": {"Send": send}})
    outcome = dev.runtime.wait(dev.runtime.start("notify", {"note": "hi"}), timeout=20)
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    assert sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"] == "hi"
    # The user's account is the one in every ARN stepq dev makes; stepq's own
    # queues (stepq-events, stepq-tasks-*) are not there.
    assert "/111111111111/outbox" in queue
    assert [u.rsplit("/", 1)[-1] for u in sqs.list_queues()["QueueUrls"]] == ["outbox"]


def test_services_can_be_turned_off(aws_env: None) -> None:
    with DevServer(port=0, environ={}, services=False) as server:
        assert server.services_url is None


def test_an_endpoint_in_the_environment_wins(aws_env: None) -> None:
    environ = {"AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:4566"}
    with DevServer(port=0, environ=environ) as server:
        assert server.services_url is None


def test_the_services_server_stops_with_dev(aws_env: None) -> None:
    with DevServer(port=0, environ={}) as server:
        url = server.services_url
        assert url is not None
    address = urlparse(url)
    with pytest.raises(OSError), socket.create_connection((address.hostname, address.port), 1):
        pass
