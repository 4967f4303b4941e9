"""Map: run the item processor once per item, at most MaxConcurrency at a time.

``ProcessorConfig.Mode: DISTRIBUTED`` runs with the same semantics as inline
(its history says MapRun* instead of MapIteration*). Tolerated failures let
the Map succeed while few enough items fail.

Each run of a Distributed Map is a *map run* with an ARN
(``map_run_arn``): ``MapRunStarted`` names it and records the run's settings
and size, ``MapRunSucceeded``/``MapRunFailed`` name it again with the item
counts, so ListMapRuns and DescribeMapRun read a map run off the history (and
a running one's progress off the snapshot's ``children``, which names it too).
UpdateMapRun reaches a running one as a ``MapRunUpdated`` event (``update_run``).
"""

from __future__ import annotations

import hashlib
import math
import uuid
from typing import TYPE_CHECKING, Any

from stepq.core import dataflow
from stepq.core.failures import (
    EXCEEDED_TOLERATED_FAILURE,
    QUERY_EVALUATION_ERROR,
    StatesFailure,
    runtime_error,
)
from stepq.core.machine import processor_scope
from stepq.core.states.children import ParentState, restore

if TYPE_CHECKING:
    from stepq.core.events import MapRunUpdated
    from stepq.core.execution import Frame
    from stepq.core.states.context import RunContext

INLINE_CONCURRENCY = 40  # an inline Map's iterations running at once, at most
_EXCEEDED_CAUSE = "The specified tolerated failure threshold was exceeded"


class MapState(ParentState):
    # --- configuration ----------------------------------------------------

    def _items(
        self, run: RunContext, frame: Frame, state: dict[str, Any], ctx: dict[str, Any]
    ) -> tuple[Any, list[Any]]:
        if run.is_jsonata(state):
            env = run.jsonata_env(frame, ctx, frame.input)
            if "Items" in state:
                raw = state["Items"]
                items = dataflow.evaluate(raw, env, "Items")
                if not isinstance(items, list):
                    expr = raw[2:-2].strip() if isinstance(raw, str) else dataflow.to_json(raw)
                    raise dataflow.unexpected_type(expr, "Items", "array", items)
                return frame.input, items
            if not isinstance(frame.input, list):
                raise StatesFailure(
                    QUERY_EVALUATION_ERROR,
                    f"Map state input must be an array but was: {dataflow.to_json(frame.input)}",
                    state_scoped=True,
                )
            return frame.input, frame.input
        data = run.input_path(frame, state)
        items = run.read(frame, data, state["ItemsPath"]) if "ItemsPath" in state else data
        if not isinstance(items, list):
            raise runtime_error(
                f"Map state input must be an array but was: {dataflow.to_json(items)}"
            )
        return data, items

    def _number(
        self,
        run: RunContext,
        frame: Frame,
        state: dict[str, Any],
        data: Any,
        name: str,
        default: float,
        *,
        integer: bool,
    ) -> float:
        raw = state.get(name)
        if run.is_jsonata(state) and isinstance(raw, str):
            env = run.jsonata_env(frame, run.context(frame), frame.input)
            raw = dataflow.evaluate(raw, env, name)
        elif f"{name}Path" in state:
            path = state[f"{name}Path"]
            raw = run.read(frame, data, path)
            if isinstance(raw, str):
                raw = _numeric_string(raw)
            valid = not isinstance(raw, bool) and isinstance(raw, int | float) and raw >= 0
            if valid and integer:
                valid = raw == int(raw)
            if not valid:
                original = run.read(frame, data, path)
                shown = original if isinstance(original, str) else dataflow.to_json(original)
                kind = "a valid integer" if integer else "a valid number"
                raise runtime_error(
                    f'The {name}Path field refers to value "{shown}" which is not {kind}: {path}'
                )
        if raw is None:
            return default
        return float(raw)

    # --- running ----------------------------------------------------------

    def launch(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        ctx = run.context(frame)
        data, items = self._items(run, frame, state, ctx)
        max_concurrency = int(
            self._number(run, frame, state, data, "MaxConcurrency", 0, integer=True)
        )
        tolerated_count = self._number(
            run, frame, state, data, "ToleratedFailureCount", 0, integer=True
        )
        tolerated_pct = self._number(
            run, frame, state, data, "ToleratedFailurePercentage", 0, integer=False
        )
        processor = state.get("ItemProcessor") or state.get("Iterator") or {}
        distributed = processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"
        run.emit("MapStateStarted", length=len(items))
        map_run = None
        if distributed:
            map_run = map_run_arn(run, frame, state)
            run.emit(
                "MapRunStarted",
                mapRunArn=map_run,
                maxConcurrency=max_concurrency,
                toleratedFailureCount=int(tolerated_count),
                toleratedFailurePercentage=tolerated_pct,
                total=len(items),
            )
        frame.children = {
            "items": items,
            "data": data,
            "results": [None] * len(items),
            "next": 0,
            "running": 0,
            "done": 0,
            "failed": 0,
            # Step Functions runs at most 40 iterations of an inline Map at once,
            # whatever MaxConcurrency says; so does stepq, which also keeps a wide
            # Map's snapshot from growing with its width (running frames live there).
            "max": max_concurrency
            if distributed
            else min(max_concurrency or INLINE_CONCURRENCY, INLINE_CONCURRENCY),
            "tolerated": min(tolerated_count, len(items)),
            "tolerated_pct": tolerated_pct,
            "distributed": distributed,
        }
        if map_run is not None:
            frame.children["map_run"] = map_run
        kept, outputs = restore(run, frame, len(items))  # a redrive: the items that succeeded
        if kept:
            for slot, output in zip(kept, outputs, strict=True):
                frame.children["results"][slot] = output
            frame.children["done"] = len(kept)
            frame.children["skip"] = kept  # sorted; passed over as "next" reaches them
            frame.children["skip_at"] = 0
        if frame.children["done"] == len(items):
            self._succeed(run, frame, state)
            return
        self._launch_more(run, frame, state)

    def _launch_more(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        c = frame.children
        assert c is not None
        items = c["items"]
        scope = processor_scope(frame.scope, frame.state)
        skip = c.get("skip", ())
        while c["next"] < len(items) and (c["max"] == 0 or c["running"] < c["max"]):
            index = c["next"]
            c["next"] += 1
            if c.get("skip_at", 0) < len(skip) and skip[c["skip_at"]] == index:
                c["skip_at"] += 1  # succeeded before the redrive: its output is in place
                continue
            c["running"] += 1
            item_input = self._item_input(run, frame, state, c["data"], index, items[index])
            if not c["distributed"]:
                run.emit("MapIterationStarted", index=index, name=frame.state)
            run.new_frame(scope, item_input, frame, index)

    def _item_input(
        self,
        run: RunContext,
        frame: Frame,
        state: dict[str, Any],
        data: Any,
        index: int,
        value: Any,
    ) -> Any:
        selector_name = "ItemSelector" if "ItemSelector" in state else "Parameters"
        if selector_name not in state:
            return value
        ctx = run.context(frame, item={"Index": index, "Value": value})
        if run.is_jsonata(state):
            env = run.jsonata_env(frame, ctx, frame.input)
            return dataflow.evaluate(state[selector_name], env, selector_name)
        return dataflow.render(state[selector_name], data, ctx, run.variables(frame))

    def child_succeeded(
        self, run: RunContext, frame: Frame, state: dict[str, Any], slot: int, output: Any
    ) -> None:
        c = self._collect(frame, slot, output)
        c["running"] -= 1
        c["done"] += 1
        if not c["distributed"]:
            run.emit("MapIterationSucceeded", index=slot, name=frame.state)
        self._progress(run, frame, state)

    def child_failed(
        self,
        run: RunContext,
        frame: Frame,
        state: dict[str, Any],
        slot: int,
        error: str | None,
        cause: str | None,
    ) -> None:
        failure: dict[str, Any] = {"Error": error}
        if cause is not None:
            failure["Cause"] = cause
        c = self._collect(frame, slot, failure)
        c["running"] -= 1
        c["done"] += 1
        c["failed"] += 1
        c.setdefault("failures", []).append(slot)  # not kept for a redrive
        if not c["distributed"]:
            run.emit("MapIterationFailed", index=slot, name=frame.state, error=error, cause=cause)
        if self._tolerated(c):
            self._progress(run, frame, state)
            return
        self._abandon(run, frame, state, error, cause, c["failures"])
        if c["distributed"] or c["tolerated"] or c["tolerated_pct"]:
            error, cause = EXCEEDED_TOLERATED_FAILURE, _EXCEEDED_CAUSE
        run.state_failed(frame, state, error, cause)

    def update_run(
        self, run: RunContext, frame: Frame, state: dict[str, Any], event: MapRunUpdated
    ) -> None:
        """UpdateMapRun on this running Distributed Map: new limits from now on.

        More concurrency starts more items at once; a failure tolerance now
        below the failures so far fails the run, as the next failure would.
        """
        c = frame.children
        assert c is not None
        if event.max_concurrency is not None:
            c["max"] = event.max_concurrency
        if event.tolerated_failure_count is not None:
            c["tolerated"] = min(event.tolerated_failure_count, len(c["items"]))
        if event.tolerated_failure_percentage is not None:
            c["tolerated_pct"] = event.tolerated_failure_percentage
        if self._tolerated(c):
            self._launch_more(run, frame, state)
            return
        failed = c.get("failures", [])
        self._abandon(run, frame, state, EXCEEDED_TOLERATED_FAILURE, _EXCEEDED_CAUSE, failed)
        run.state_failed(frame, state, EXCEEDED_TOLERATED_FAILURE, _EXCEEDED_CAUSE)

    def _tolerated(self, c: dict[str, Any]) -> bool:
        total = len(c["items"])
        if c["failed"] <= c["tolerated"]:
            return True
        return c["tolerated_pct"] > 0 and c["failed"] * 100 <= math.floor(
            c["tolerated_pct"] * total
        )

    def _progress(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        c = frame.children
        assert c is not None
        if c["done"] == len(c["items"]):
            self._succeed(run, frame, state)
        else:
            self._launch_more(run, frame, state)

    def _closing(self, run: RunContext, children: dict[str, Any] | None, outcome: str) -> None:
        assert children is not None
        if children["distributed"]:
            failed = children["failed"]
            run.emit(
                f"MapRun{outcome}",
                mapRunArn=children.get("map_run"),
                total=len(children["items"]),
                succeeded=children["done"] - failed,
                failed=failed,
                aborted=children["running"],  # siblings of the failure, cut short
                pending=len(children["items"]) - children["next"],
            )


def map_run_arn(run: RunContext, frame: Frame, state: dict[str, Any]) -> str:
    """``arn:aws:states:REGION:ACCOUNT:mapRun:MACHINE/EXECUTION:NAME`` of a run starting now.

    NAME is the Map's ``Label`` and the id of the run's ``MapRunStarted``
    event (``Label-7``): an execution may run one Map many times (a loop, a
    retry, an outer Map's iterations) and each run needs an ARN of its own.
    Without a label it is a UUID drawn from the same facts, so a replay of
    the history makes the same ARN.
    """
    execution = run.s.meta.execution_arn
    prefix, _, rest = execution.partition(":execution:")
    machine, _, name = rest.partition(":")
    started = run.s.last_event_id + 1  # the MapRunStarted about to be emitted
    label = state.get("Label")
    if label:
        return f"{prefix}:mapRun:{machine}/{name}:{label}-{started}"
    digest = hashlib.sha256(f"{execution}#{frame.origin}#{started}".encode()).digest()
    return f"{prefix}:mapRun:{machine}/{name}:{uuid.UUID(bytes=digest[:16], version=4)}"


def _numeric_string(text: str) -> Any:
    """A Path may point at a number written as a string ("1"); other strings stay."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text
