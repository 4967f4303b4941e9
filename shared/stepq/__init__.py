"""stepq: durable Amazon States Language workflows on SQS + DynamoDB."""

from stepq.errors import DefinitionError, Problem, StepqError

__all__ = ["DefinitionError", "Problem", "StepqError"]
__version__ = "0.1.0"
