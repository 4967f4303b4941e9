"""template.yaml's dedicated step-function slots: conditions, names and runtime routing agree.

The slots are evaluated here the way CloudFormation would evaluate them for a
given ``DedicatedStepFunctions`` (a small evaluator of the intrinsics the
template uses), and the resulting environment is read by the runtime's own
``Settings``: a task for a dedicated function must be routed to the queue its
slot creates, every other task to ``tasks-unknown``.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cfnlint")
from cfnlint.decode import decode
from stepq.backends.aws.settings import DEFAULT_TASK_QUEUE, Settings, runtime_config
from stepq.backends.aws.sqs_queues import SqsQueues

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SLOTS = 8
NO_VALUE = object()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    parsed, problems = decode(str(TEMPLATE))
    assert not problems, problems
    return parsed


class Evaluator:
    """CloudFormation's intrinsics as template.yaml uses them, for one set of parameters."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]) -> None:
        self.template = template
        self.values = {
            name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()
        }
        self.values.update(parameters)
        self.values.update({"AWS::AccountId": "123456789012", "AWS::Region": "eu-west-1"})
        self.values["AWS::Partition"] = "aws"
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.eval(self.template["Conditions"][name]))
        return self._conditions[name]

    def ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        return f"<{name}>"  # a resource: its physical id is CloudFormation's

    def sub(self, text: str, names: dict[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            key = match.group(1)
            if key in names:
                return str(names[key])
            if "." in key:
                return f"<{key}>"
            return str(self.ref(key))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def eval(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.eval(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Equals":
                left, right = (self.eval(a) for a in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.eval(arg[0])
            if key == "Fn::And":
                return all(self.eval(a) for a in arg)
            if key == "Fn::Or":
                return any(self.eval(a) for a in arg)
            if key == "Fn::If":
                name, yes, no = arg
                return self.eval(yes if self.condition(name) else no)
            if key == "Fn::Split":
                return str(self.eval(arg[1])).split(arg[0])
            if key == "Fn::Select":
                return self.eval(arg[1])[int(self.eval(arg[0]))]
            if key == "Fn::Join":
                return arg[0].join(str(v) for v in self.eval(arg[1]))
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {})
                text, names = arg
                return self.sub(text, {k: self.eval(v) for k, v in names.items()})
            if key == "Fn::GetAtt":
                return f"<{arg[0]}.{arg[1]}>"
        return {k: v for k, v in ((k, self.eval(v)) for k, v in node.items()) if v is not NO_VALUE}

    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources that exist for these parameters, their properties evaluated."""
        return {
            name: self.eval(resource.get("Properties", {}))
            for name, resource in self.template["Resources"].items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }

    def environment(self, function: str) -> dict[str, str]:
        """A function's environment variables: Globals, then its own."""
        merged = copy.deepcopy(self.template["Globals"]["Function"]["Environment"]["Variables"])
        own = self.template["Resources"][function]["Properties"].get("Environment", {})
        merged.update(own.get("Variables", {}))
        return {k: str(v) for k, v in self.eval(merged).items()}


def _queue_names(evaluator: Evaluator) -> dict[str, str]:
    return {
        name: props["QueueName"]
        for name, props in evaluator.resources().items()
        if evaluator.template["Resources"][name]["Type"] == "AWS::SQS::Queue"
    }


@pytest.mark.parametrize(
    ("dedicated", "used"),
    [
        ("", []),
        ("charge", [0]),
        ("charge,ship", [0, 1]),
        (",".join(f"f{i}" for i in range(8)), list(range(8))),
    ],
)
def test_a_slot_exists_exactly_for_each_name_given(
    template: dict[str, Any], dedicated: str, used: list[int]
) -> None:
    evaluator = Evaluator(template, {"DedicatedStepFunctions": dedicated})
    assert [i for i in range(SLOTS) if evaluator.condition(f"Slot{i}")] == used
    names = _queue_names(evaluator)
    functions = dedicated.split(",") if dedicated else []
    for i, function in zip(used, functions, strict=True):
        assert names[f"Slot{i}TaskQueue"] == f"stepq-tasks-{function}"
        assert names[f"Slot{i}TaskDLQ"] == f"stepq-tasks-{function}-dlq"
    slot_functions = {
        name for name in evaluator.resources() if re.fullmatch(r"Slot\dWorkerFunction", name)
    }
    assert slot_functions == {f"Slot{i}WorkerFunction" for i in used}


@pytest.mark.parametrize("dedicated", ["", "charge", "charge,ship", "a,b,c,d,e,f,g,h"])
def test_the_runtime_routes_each_task_to_a_queue_the_stack_creates(
    template: dict[str, Any], dedicated: str
) -> None:
    evaluator = Evaluator(template, {"DedicatedStepFunctions": dedicated, "QueuePrefix": "shop"})
    created = set(_queue_names(evaluator).values())
    queues = SqsQueues(client=None, prefix="shop")
    functions = [f for f in dedicated.split(",") if f]
    for function in ["WorkerFunction", "OrchestratorFunction", "ApiFunction", "InboxFunction"]:
        settings = Settings.from_env(evaluator.environment(function))
        assert settings.queue_prefix == "shop"
        route = runtime_config(settings).route
        for name in functions:  # a dedicated function: its slot's queue
            assert queues.physical_name(route(name)) == f"shop-tasks-{name}" in created
        # Any other function (and a Task without one): the shared queue.
        for other in ["not-dedicated", None]:
            assert route(other) == DEFAULT_TASK_QUEUE
        assert queues.physical_name(DEFAULT_TASK_QUEUE) in created
    # The scheduler sweeps the DLQs of exactly the task queues that exist.
    settings = Settings.from_env(evaluator.environment("SchedulerFunction"))
    assert {f"shop-tasks-{name}-dlq" for name in settings.task_queues or ()} <= created


def test_the_parameter_allows_at_most_one_name_per_slot(template: dict[str, Any]) -> None:
    pattern = re.compile(template["Parameters"]["DedicatedStepFunctions"]["AllowedPattern"])
    assert pattern.fullmatch("")
    assert pattern.fullmatch(",".join(f"step_{i}" for i in range(SLOTS)))
    assert not pattern.fullmatch(",".join(f"step_{i}" for i in range(SLOTS + 1)))
    assert not pattern.fullmatch("charge,,ship")  # an empty name would shift the slots
    assert not pattern.fullmatch("charge ship")
    # The padding gives Select an element for every slot, even with no names at all.
    for i in range(SLOTS):
        condition = template["Conditions"][f"Slot{i}"]
        select = condition["Fn::Not"][0]["Fn::Equals"][0]["Fn::Select"]
        assert select[0] == i
        padded = select[1]["Fn::Split"][1]["Fn::Sub"]
        assert padded.count(",") >= SLOTS


def _slot_part(template: dict[str, Any], i: int) -> dict[str, Any]:
    return {
        name.replace(f"Slot{i}", "SlotN"): resource
        for name, resource in template["Resources"].items()
        if name.startswith(f"Slot{i}")
    }


def _normalised(node: Any, i: int) -> Any:
    """A slot's resources with its index replaced, to compare the slots with each other."""
    text = repr(node)
    text = re.sub(rf"Slot{i}(?=[A-Z'])", "SlotN", text)
    text = text.replace(f"'Fn::Select': [{i},", "'Fn::Select': [N,")
    text = text.replace(f"slot {i}", "slot N").replace(f"worker-{i}", "worker-N")
    return text


def test_every_slot_is_the_same_block(template: dict[str, Any]) -> None:
    # The slots are copies of one block; a change to one that misses the others
    # would make a step function behave differently by its position in the list.
    first = _slot_part(template, 0)
    assert set(first) == {
        "SlotNTaskQueue",
        "SlotNTaskDLQ",
        "SlotNWorkerLogGroup",
        "SlotNWorkerRole",
        "SlotNWorkerFunction",
    }
    for i in range(1, SLOTS):
        assert _normalised(_slot_part(template, i), i) == _normalised(first, 0), f"slot {i}"
    assert not _slot_part(template, SLOTS)
