"""Typed pydantic models of an Amazon States Language state machine.

The models mirror ASL field names exactly (``state.Next``, ``state.ResultPath``)
and forbid unknown fields, so pydantic reports typos and misplaced fields. They
accept the fields of *both* query languages; which of them a state may use
depends on its effective ``QueryLanguage`` and is checked in ``validate.py``,
together with every rule that spans fields or states.

Fields that JSONata lets hold an expression (``"{% ... %}"``) instead of a
number are typed ``IntOrExpr``; whether a string is allowed there depends on
the query language, so that too is checked in ``validate.py``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    StrictBool,
)
from pydantic_core import PydanticCustomError

JSONPATH = "JSONPath"
JSONATA = "JSONata"

QueryLanguageName = Literal["JSONPath", "JSONata"]


def _int_or_expr(value: Any) -> int | str:
    # bool is an int in Python but not in JSON.
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise PydanticCustomError("int_or_expr", "must be an integer or a JSONata expression string")


def _number(value: Any) -> float | int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("number_type", "must be a number")


def _num_or_expr(value: Any) -> float | str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("number_or_expr", "must be a number or a JSONata expression string")


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("int_type", "must be an integer")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise PydanticCustomError("string_type", "must be a string")


def _nullable_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise PydanticCustomError("nullable_string_type", "must be a string or null")


def _json_object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise PydanticCustomError("object_type", "must be a JSON object")


# Custom validators give one readable message per field instead of one per
# union member, and never coerce ("5" stays a string, true stays a boolean).
IntOrExpr = Annotated[int | str, PlainValidator(_int_or_expr)]
Number = Annotated[float, PlainValidator(_number)]
NumOrExpr = Annotated[float | str, PlainValidator(_num_or_expr)]
Int = Annotated[int, PlainValidator(_int)]
Str = Annotated[str, PlainValidator(_str)]
Path = Annotated[str, PlainValidator(_str)]
NullablePath = Annotated[str | None, PlainValidator(_nullable_str)]
JsonObject = Annotated[dict[str, Any], PlainValidator(_json_object)]


class AslModel(BaseModel):
    """Base of every ASL model: unknown fields are errors, values not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --------------------------------------------------------------------- errors


class Retrier(AslModel):
    ErrorEquals: Annotated[list[Str], Field(min_length=1)]
    IntervalSeconds: Annotated[Int, Field(ge=1, le=99999999)] | None = None
    MaxAttempts: Annotated[Int, Field(ge=0, le=99999999)] | None = None
    BackoffRate: Annotated[Number, Field(ge=1.0)] | None = None
    MaxDelaySeconds: Annotated[Int, Field(ge=1, le=31622400)] | None = None
    JitterStrategy: Literal["FULL", "NONE"] | None = None
    Comment: Str | None = None


class Catcher(AslModel):
    ErrorEquals: Annotated[list[Str], Field(min_length=1)]
    Next: Str
    ResultPath: NullablePath = None
    Output: Any = None
    Assign: JsonObject | None = None
    Comment: Str | None = None


# --------------------------------------------------------------- choice rules


class ChoiceRule(AslModel):
    """One Choice rule; the same model serves top-level and nested rules.

    Top-level rules carry ``Next`` (and in JSONata ``Condition``, ``Output``,
    ``Assign``); nested rules (inside And/Or/Not) must not. ``validate.py``
    checks which combination is present.
    """

    Next: Str | None = None
    Comment: Str | None = None
    # JSONata
    Condition: Any = None
    Output: Any = None
    Assign: JsonObject | None = None
    # JSONPath boolean combinators
    And: Annotated[list[ChoiceRule], Field(min_length=1)] | None = None
    Or: Annotated[list[ChoiceRule], Field(min_length=1)] | None = None
    Not: ChoiceRule | None = None
    # JSONPath comparison
    Variable: Path | None = None
    StringEquals: Str | None = None
    StringEqualsPath: Path | None = None
    StringLessThan: Str | None = None
    StringLessThanPath: Path | None = None
    StringGreaterThan: Str | None = None
    StringGreaterThanPath: Path | None = None
    StringLessThanEquals: Str | None = None
    StringLessThanEqualsPath: Path | None = None
    StringGreaterThanEquals: Str | None = None
    StringGreaterThanEqualsPath: Path | None = None
    StringMatches: Str | None = None
    NumericEquals: Number | None = None
    NumericEqualsPath: Path | None = None
    NumericLessThan: Number | None = None
    NumericLessThanPath: Path | None = None
    NumericGreaterThan: Number | None = None
    NumericGreaterThanPath: Path | None = None
    NumericLessThanEquals: Number | None = None
    NumericLessThanEqualsPath: Path | None = None
    NumericGreaterThanEquals: Number | None = None
    NumericGreaterThanEqualsPath: Path | None = None
    BooleanEquals: StrictBool | None = None
    BooleanEqualsPath: Path | None = None
    TimestampEquals: Str | None = None
    TimestampEqualsPath: Path | None = None
    TimestampLessThan: Str | None = None
    TimestampLessThanPath: Path | None = None
    TimestampGreaterThan: Str | None = None
    TimestampGreaterThanPath: Path | None = None
    TimestampLessThanEquals: Str | None = None
    TimestampLessThanEqualsPath: Path | None = None
    TimestampGreaterThanEquals: Str | None = None
    TimestampGreaterThanEqualsPath: Path | None = None
    IsNull: StrictBool | None = None
    IsPresent: StrictBool | None = None
    IsNumeric: StrictBool | None = None
    IsString: StrictBool | None = None
    IsBoolean: StrictBool | None = None
    IsTimestamp: StrictBool | None = None


_RULE_STRUCTURE = frozenset(
    {"Next", "Comment", "Condition", "Output", "Assign", "And", "Or", "Not", "Variable"}
)
#: Every comparison operator name a JSONPath Choice rule may use.
COMPARISON_OPERATORS: frozenset[str] = frozenset(ChoiceRule.model_fields) - _RULE_STRUCTURE


# --------------------------------------------------------------------- scopes


class ProcessorConfigSpec(AslModel):
    Mode: Literal["INLINE", "DISTRIBUTED"] | None = None
    ExecutionType: Literal["STANDARD", "EXPRESS"] | None = None


class Branch(AslModel):
    """A Parallel branch: its own StartAt/States scope."""

    StartAt: Str
    States: Annotated[dict[str, State], Field(min_length=1)]
    Comment: Str | None = None


class Processor(Branch):
    """A Map state's ItemProcessor (or legacy Iterator)."""

    ProcessorConfig: ProcessorConfigSpec | None = None


class ItemReaderSpec(AslModel):
    Resource: Str
    Parameters: Any = None
    Arguments: Any = None
    ReaderConfig: JsonObject | None = None


class ResultWriterSpec(AslModel):
    Resource: Str | None = None
    Parameters: Any = None
    Arguments: Any = None
    WriterConfig: JsonObject | None = None


class ItemBatcherSpec(AslModel):
    MaxItemsPerBatch: IntOrExpr | None = None
    MaxItemsPerBatchPath: Path | None = None
    MaxInputBytesPerBatch: IntOrExpr | None = None
    MaxInputBytesPerBatchPath: Path | None = None
    BatchInput: Any = None


# --------------------------------------------------------------------- states


class _State(AslModel):
    Comment: Str | None = None
    QueryLanguage: QueryLanguageName | None = None


class _Flow(_State):
    """A state that moves on: exactly one of Next / End (checked in validate)."""

    Next: Str | None = None
    End: StrictBool | None = None
    Assign: JsonObject | None = None
    InputPath: NullablePath = None
    OutputPath: NullablePath = None
    Output: Any = None


class _Resulting(_Flow):
    ResultPath: NullablePath = None
    Parameters: Any = None


class _Recovering(_Resulting):
    Arguments: Any = None
    ResultSelector: JsonObject | None = None
    Retry: list[Retrier] | None = None
    Catch: list[Catcher] | None = None


class Pass(_Resulting):
    Type: Literal["Pass"]
    Result: Any = None


class Task(_Recovering):
    Type: Literal["Task"]
    Resource: Str
    TimeoutSeconds: IntOrExpr | None = None
    TimeoutSecondsPath: Path | None = None
    HeartbeatSeconds: IntOrExpr | None = None
    HeartbeatSecondsPath: Path | None = None
    Credentials: Any = None


class Choice(_State):
    Type: Literal["Choice"]
    Choices: Annotated[list[ChoiceRule], Field(min_length=1)]
    Default: Str | None = None
    Assign: JsonObject | None = None
    InputPath: NullablePath = None
    OutputPath: NullablePath = None
    Output: Any = None


class Wait(_Flow):
    Type: Literal["Wait"]
    Seconds: IntOrExpr | None = None
    SecondsPath: Path | None = None
    Timestamp: Str | None = None
    TimestampPath: Path | None = None


class Succeed(_State):
    Type: Literal["Succeed"]
    InputPath: NullablePath = None
    OutputPath: NullablePath = None
    Output: Any = None


class Fail(_State):
    Type: Literal["Fail"]
    Error: Str | None = None
    ErrorPath: Path | None = None
    Cause: Str | None = None
    CausePath: Path | None = None


class Parallel(_Recovering):
    Type: Literal["Parallel"]
    Branches: Annotated[list[Branch], Field(min_length=1)]


class Map(_Recovering):
    Type: Literal["Map"]
    ItemProcessor: Processor | None = None
    Iterator: Processor | None = None
    ItemsPath: Path | None = None
    Items: Any = None
    ItemSelector: Any = None
    ItemReader: ItemReaderSpec | None = None
    ResultWriter: ResultWriterSpec | None = None
    ItemBatcher: ItemBatcherSpec | None = None
    MaxConcurrency: IntOrExpr | None = None
    MaxConcurrencyPath: Path | None = None
    ToleratedFailureCount: IntOrExpr | None = None
    ToleratedFailureCountPath: Path | None = None
    ToleratedFailurePercentage: NumOrExpr | None = None
    ToleratedFailurePercentagePath: Path | None = None
    Label: Str | None = None


State = Annotated[
    Pass | Task | Choice | Wait | Succeed | Fail | Parallel | Map, Field(discriminator="Type")
]

STATE_TYPES: tuple[str, ...] = (
    "Pass",
    "Task",
    "Choice",
    "Wait",
    "Succeed",
    "Fail",
    "Parallel",
    "Map",
)


class StateMachine(AslModel):
    """A whole definition; ``raw`` is the original dict the interpreter runs on."""

    StartAt: Str
    States: Annotated[dict[str, State], Field(min_length=1)]
    Comment: Str | None = None
    TimeoutSeconds: Annotated[Int, Field(ge=1, le=99999999)] | None = None
    Version: Str | None = None
    QueryLanguage: QueryLanguageName | None = None

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def raw(self) -> dict[str, Any]:
        return self._raw

    @property
    def query_language(self) -> str:
        return self.QueryLanguage or JSONPATH


for _model in (ChoiceRule, Branch, Processor, Parallel, Map, StateMachine):
    _model.model_rebuild()
