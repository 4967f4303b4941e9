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
and written at its end: a count is one value however many facts it sums, a
timing the list of its values. Everything per service (dimension
``service``) goes into Powertools' ``Metrics`` blob, one per invocation,
whatever the batch held.

A fact with extra dimensions is counted per service and per those
dimensions alike. A count (``TaskRetries`` by step and error,
``DlqArrivals`` by queue: rare) gets its own blob in the same invocation,
declaring both ``[service]`` and ``[service, <dims>]``. A timing (
``TaskLatency``) is in the per-service blob at once, and its
``[service, step]`` values are held in the warm function for up to
``hold_seconds`` (``STEPQ_METRICS_HOLD_SECONDS``, default 60; 0 writes
them every invocation) or 100 values, then written in one blob stamped with
the first value's time. A blob costs about 250 bytes of log ingestion, so a
chain of steps would otherwise print one per step per invocation (``stepq
bench cost`` bills these bytes); the price of holding is that a function
instance retired by Lambda takes up to a minute of per-step latency samples
with it (never a count).

**Logs.** Every ``stepq.*`` logger writes through the function's Powertools
Logger (JSON lines), and each line logged while the runtime works on an
execution carries ``execution_arn`` (``stepq.runtime.log_context``).

**Traces.** ``Tracer`` on each handler (``POWERTOOLS_TRACE_DISABLED=true``
turns it off; tests do). Ships in the Lambda layer.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from stepq.clock import Clock, SystemClock
from stepq.runtime.log_context import ExecutionFilter

__all__ = ["HOLD_SECONDS", "NAMESPACE", "EmfMetrics", "Observability"]

NAMESPACE = "Stepq"
HOLD_SECONDS = 60.0  # how long per-step timings may wait for more (STEPQ_METRICS_HOLD_SECONDS)
MAX_VALUES = 100  # EMF: at most 100 values of one metric in a blob
F = TypeVar("F", bound=Callable[..., Any])
Dims = tuple[tuple[str, str], ...]
Values = dict[str, list[float]]

# An invocation with nothing to count (a batch of duplicates, an idle tick) is normal:
# Powertools would warn about it on every such invocation.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)


@dataclass(slots=True)
class _Held:
    """Timings of one dimension set, kept across invocations until written."""

    since: datetime
    timings: Values = field(default_factory=dict)

    def full(self) -> bool:
        return any(len(values) >= MAX_VALUES for values in self.timings.values())


class EmfMetrics:
    """The runtime's metrics port over Powertools: summed in memory, written per invocation.

    Cheap on the hot path: a fact is a dict update or two; no Powertools
    call happens until ``flush``.
    """

    def __init__(
        self,
        metrics: Metrics,
        namespace: str = NAMESPACE,
        *,
        hold_seconds: float = 0.0,
        clock: Clock | None = None,
    ) -> None:
        self.metrics = metrics
        self.namespace = namespace
        self.hold_seconds = hold_seconds
        self.clock = clock or SystemClock()
        self._counts: dict[str, float] = {}
        self._timings: Values = {}
        self._dim_counts: dict[Dims, dict[str, float]] = {}
        self._dim_timings: dict[Dims, Values] = {}
        self._held: dict[Dims, _Held] = {}

    # --- the port ---------------------------------------------------------------------

    def count(self, name: str, value: float = 1, **dims: str) -> None:
        if dims:
            counts = self._dim_counts.setdefault(tuple(sorted(dims.items())), {})
        else:
            counts = self._counts
        counts[name] = counts.get(name, 0) + value

    def timing(self, name: str, ms: float, **dims: str) -> None:
        self._timings.setdefault(name, []).append(ms)  # per service, in every case
        if dims:
            key = tuple(sorted(dims.items()))
            self._dim_timings.setdefault(key, {}).setdefault(name, []).append(ms)

    # --- writing ----------------------------------------------------------------------

    def flush(self) -> None:
        """Hand the invocation's facts to Powertools: the per-service ones to ``metrics``
        (printed by its ``log_metrics``), the dimensioned ones due as blobs of their own."""
        _add(self.metrics, self._counts, self._timings)
        for blob in self._dimension_blobs(everything=False):
            if blob.metric_set:  # (100 values of one metric were printed as they came)
                blob.flush_metrics()
        self._counts, self._timings = {}, {}

    def serialized(self, *, everything: bool = False) -> list[str]:
        """The EMF lines ``flush`` would print now, without printing them (the cost
        benchmark bills their bytes as log ingestion). ``everything``: held timings
        too (the function instance ends)."""
        printed = io.StringIO()  # Powertools prints a metric's blob at its 100th value
        with contextlib.redirect_stdout(printed):
            plain = EphemeralMetrics(namespace=self.namespace, service=self.metrics.service)
            _add(plain, self._counts, self._timings)
            blobs = [plain] if plain.metric_set else []
            blobs += [b for b in self._dimension_blobs(everything=everything) if b.metric_set]
        self._counts, self._timings = {}, {}
        lines = printed.getvalue().splitlines()
        return lines + [json.dumps(b.serialize_metric_set(), separators=(",", ":")) for b in blobs]

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

    def _dimension_blobs(self, *, everything: bool) -> list[EphemeralMetrics]:
        service = str(self.metrics.service or "")
        blobs = []
        for dims, counts in self._dim_counts.items():
            blob = self._blob(service)
            # [service] (added by Powertools) and [service, <dims>]: both from one blob.
            blob.add_dimensions(**({"service": service} if service else {}), **dict(dims))
            _add(blob, counts, {})
            blobs.append(blob)
        now = self.clock.now()
        for dims, timings in self._dim_timings.items():
            held = self._held.setdefault(dims, _Held(now))
            for name, values in timings.items():
                held.timings.setdefault(name, []).extend(values)
        self._dim_counts, self._dim_timings = {}, {}
        for dims, held in list(self._held.items()):
            waited = (now - held.since).total_seconds()
            if everything or held.full() or waited >= self.hold_seconds:
                blob = self._blob(service)
                for name, value in dims:  # only [service, <dims>]: per service, they were
                    blob.add_dimension(name=name, value=value)  # written at once
                blob.set_timestamp(held.since)
                _add(blob, {}, held.timings)
                blobs.append(blob)
                del self._held[dims]
        return blobs

    def _blob(self, service: str) -> EphemeralMetrics:
        return EphemeralMetrics(namespace=self.namespace, service=service or None)


def _add(target: Any, counts: dict[str, float], timings: Values) -> None:
    for name, value in counts.items():
        target.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for name, values in timings.items():  # milliseconds, to 0.1 ms (fewer bytes per value)
        for value in values:
            target.add_metric(name=name, unit=MetricUnit.Milliseconds, value=round(value, 1))


def hold_seconds_from_env() -> float:
    """``STEPQ_METRICS_HOLD_SECONDS`` (default ``HOLD_SECONDS``); a bad value: the default."""
    try:
        return max(0.0, float(os.environ.get("STEPQ_METRICS_HOLD_SECONDS", HOLD_SECONDS)))
    except ValueError:
        return HOLD_SECONDS


class Observability:
    """One function's Logger, Tracer and Metrics, and the port the runtime counts through."""

    def __init__(self, service: str, namespace: str = NAMESPACE) -> None:
        self.service = service
        self.logger = Logger(service=service)
        self.tracer = Tracer(service=service)
        self.metrics = Metrics(namespace=namespace, service=service)
        self.emf = EmfMetrics(self.metrics, namespace, hold_seconds=hold_seconds_from_env())
        # The runtime logs through ``logging.getLogger("stepq...")``: same handler,
        # same JSON, and the execution each line is about.
        handler = self.logger.registered_handler
        if not any(isinstance(f, ExecutionFilter) for f in handler.filters):
            handler.addFilter(ExecutionFilter())
        copy_config_to_registered_loggers(source_logger=self.logger, include={"stepq"})
