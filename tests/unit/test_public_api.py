"""The public API: what ``from stepq import ...`` offers, pinned (as temporalio's
``tests/test_workflow_exports.py`` pins its workflow module).

A change to this list is a change to the API users code against: it must be
deliberate, so the list is written out here rather than derived.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import stepq

ROOT = Path(__file__).resolve().parents[2]

PUBLIC = [
    "AlreadyExistsError",
    "BlobError",
    "BlobNotFoundError",
    "ClaimCheckError",
    "Client",
    "ConflictError",
    "ConformanceCaseError",
    "DefinitionError",
    "EmbeddedRuntime",
    "ExecutionAlreadyExistsError",
    "ExecutionHeader",
    "ExecutionResult",
    "ExecutionTimeoutError",
    "FunctionsLoadError",
    "IdempotencyConfigError",
    "LocalRunner",
    "Machine",
    "MalformedMessageError",
    "MessageTooLargeError",
    "MissingIdempotencyKeyError",
    "MissingTableNameError",
    "NotFoundError",
    "NotRedrivableError",
    "Problem",
    "QueueError",
    "QueueNotFoundError",
    "StateMachine",
    "StepContext",
    "StepFunction",
    "StepqError",
    "StoreError",
    "client",
    "dynamodb_persistence",
    "find_problems",
    "idempotent_step",
    "load_definition",
    "load_functions",
    "sign_for_execute_api",
    "stepq_table_persistence",
]


def test_all_is_pinned() -> None:
    assert stepq.__all__ == PUBLIC


@pytest.mark.parametrize("name", PUBLIC)
def test_every_exported_name_resolves(name: str) -> None:
    value = getattr(stepq, name)
    assert value is not None
    assert name in dir(stepq)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        stepq.no_such_thing  # noqa: B018


def test_every_error_is_a_stepq_error_and_comes_from_one_module() -> None:
    errors = [getattr(stepq, n) for n in PUBLIC if n.endswith("Error")]
    assert errors
    for error in errors:
        assert issubclass(error, stepq.StepqError), error
        assert error.__module__ == "stepq.errors", error


def test_blob_not_found_is_not_a_store_error() -> None:
    assert not issubclass(stepq.BlobNotFoundError, stepq.StoreError)
    assert issubclass(stepq.BlobNotFoundError, stepq.BlobError)


def _modules_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter holds after running ``code``."""
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    return {m.split(".")[0] for m in json.loads(out.splitlines()[-1])}


def test_import_stepq_loads_neither_boto3_nor_moto() -> None:
    loaded = _modules_after("import stepq")
    assert not loaded & {"boto3", "botocore", "moto"}, loaded & {"boto3", "botocore", "moto"}


def test_the_embedded_runtime_is_reachable_from_the_package() -> None:
    loaded = _modules_after("import stepq\nprint(stepq.EmbeddedRuntime.__name__)")
    assert "stepq" in loaded
    # The class itself is importable without starting moto; using it starts it.
    assert "moto" not in loaded


_PUBLIC_MODULES = {"stepq", "stepq.errors", "stepq.testing"}
_IMPORT = re.compile(r"^\s*(?:from|import)\s+(stepq(?:\.\w+)*)", re.M)


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```(?:python|py)\n(.*?)```", text, re.S)


def test_readme_and_docs_import_only_the_public_api() -> None:
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    private = []
    for document in documents:
        for block in _code_blocks(document.read_text(encoding="utf-8")):
            private += [
                f"{document.name}: {m}" for m in _IMPORT.findall(block) if m not in _PUBLIC_MODULES
            ]
    assert private == []
