"""Metrics, logs and traces of a Lambda handler, with AWS Lambda Powertools.

CONTRACT (``functions/*/app.py`` code against these)::

    obs = Observability("stepq-worker")     # Logger, Tracer, Metrics(namespace="Stepq")
    obs.emf                                 # the runtime's metrics port (give it to RuntimeConfig)

    @obs.tracer.capture_lambda_handler
    @obs.logger.inject_lambda_context
    @obs.metrics.log_metrics                # prints the EMF blob (stdout) at the end
    @obs.emf.flushed                        # ... after the port's facts were added to it
    def handler(event, context): ...

**Metrics.** The runtime counts facts through ``stepq.runtime.metrics``
(``EmfMetrics`` here). They are summed in memory while an invocation runs
and written once at its end: a count is one value however many facts it
sums, and a timing is the list of its values. Facts without dimensions go
into Powertools' ``Metrics`` blob (dimension ``service``); each set of extra
dimensions (``step``, ``error``, ``queue``) gets one more blob, declaring
both ``[service]`` and ``[service, <dims>]``, so the metric is found per
service and per step alike, and counted once in each. One invocation prints
one blob plus one per distinct step/error/queue it saw: its log bytes do not
grow with the messages in a batch (``stepq bench cost`` bills them).

**Logs.** Every ``stepq.*`` logger writes through the function's Powertools
Logger (JSON lines), and each line logged while the runtime works on an
execution carries ``execution_arn`` (``stepq.runtime.log_context``).

**Traces.** ``Tracer`` on each handler (``POWERTOOLS_TRACE_DISABLED=true``
turns it off; tests do). Ships in the Lambda layer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from stepq.runtime.log_context import ExecutionFilter

__all__ = ["NAMESPACE", "EmfMetrics", "Observability"]

NAMESPACE = "Stepq"
F = TypeVar("F", bound=Callable[..., Any])
Dims = tuple[tuple[str, str], ...]


class EmfMetrics:
    """The runtime's metrics port over Powertools: sums in memory, one write per invocation.

    Cheap on the hot path: a fact without dimensions is one dict update; no
    Powertools call happens until ``flush``.
    """

    def __init__(self, metrics: Metrics, namespace: str = NAMESPACE) -> None:
        self.metrics = metrics
        self.namespace = namespace
        self._counts: dict[str, float] = {}
        self._timings: dict[str, list[float]] = {}
        self._by_dims: dict[Dims, tuple[dict[str, float], dict[str, list[float]]]] = {}

    def count(self, name: str, value: float = 1, **dims: str) -> None:
        counts = self._group(dims)[0] if dims else self._counts
        counts[name] = counts.get(name, 0) + value

    def timing(self, name: str, ms: float, **dims: str) -> None:
        timings = self._group(dims)[1] if dims else self._timings
        timings.setdefault(name, []).append(ms)

    def _group(self, dims: dict[str, str]) -> tuple[dict[str, float], dict[str, list[float]]]:
        key = tuple(sorted(dims.items()))
        group = self._by_dims.get(key)
        if group is None:
            group = self._by_dims[key] = ({}, {})
        return group

    def flush(self) -> None:
        """Hand the invocation's facts to Powertools: the plain ones to ``metrics``
        (printed by its ``log_metrics``), each dimension set as its own blob now."""
        _add(self.metrics, self._counts, self._timings)
        service = str(self.metrics.service or "")
        for dims, (counts, timings) in self._by_dims.items():
            blob = EphemeralMetrics(namespace=self.namespace, service=service or None)
            # [service] (added by Powertools) and [service, <dims>]: both from one blob.
            blob.add_dimensions(**({"service": service} if service else {}), **dict(dims))
            _add(blob, counts, timings)
            blob.flush_metrics()
        self._counts, self._timings, self._by_dims = {}, {}, {}

    def flushed(self, handler: F) -> F:
        """``handler``, adding this invocation's facts to ``metrics`` as it ends (even
        by raising), so the ``log_metrics`` around it prints them."""

        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            finally:
                self.flush()

        return wrapper  # type: ignore[return-value]


def _add(target: Any, counts: dict[str, float], timings: dict[str, list[float]]) -> None:
    for name, value in counts.items():
        target.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for name, values in timings.items():  # every timing is in milliseconds (TIMINGS)
        for value in values:
            target.add_metric(name=name, unit=MetricUnit.Milliseconds, value=round(value, 3))


class Observability:
    """One function's Logger, Tracer and Metrics, and the port the runtime counts through."""

    def __init__(self, service: str, namespace: str = NAMESPACE) -> None:
        self.service = service
        self.logger = Logger(service=service)
        self.tracer = Tracer(service=service)
        self.metrics = Metrics(namespace=namespace, service=service)
        self.emf = EmfMetrics(self.metrics, namespace)
        # The runtime logs through ``logging.getLogger("stepq...")``: same handler,
        # same JSON, and the execution each line is about.
        handler = self.logger.registered_handler
        if not any(isinstance(f, ExecutionFilter) for f in handler.filters):
            handler.addFilter(ExecutionFilter())
        copy_config_to_registered_loggers(source_logger=self.logger, include={"stepq"})
