"""What may import what inside ``shared/stepq`` (docs/ARCHITECTURE.md draws the picture).

Every import counts, including those inside functions and under
``TYPE_CHECKING``: a late import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "stepq"

# folder -> the stepq packages its modules may import (besides their own folder)
ALLOWED: dict[str, set[str]] = {
    "core": {"stepq.errors"},
    "runtime": {"stepq.core", "stepq.errors", "stepq.clock"},
    "backends": {"stepq.runtime", "stepq.core", "stepq.errors", "stepq.clock"},
    "api": {"stepq.runtime", "stepq.core", "stepq.errors", "stepq.clock"},
    "hosting": {
        "stepq.api",
        "stepq.backends",
        "stepq.runtime",
        "stepq.core",
        "stepq.errors",
        "stepq.clock",
        "stepq.strict_yaml",
    },
}
# Who may talk to AWS SDKs or moto at all.
# api/model.py reads botocore's service model (data files, no requests).
# cli/api_client.py is the CLI's boto3 stepfunctions client; cli/deployment.py builds
# the operator commands' quick-failing DynamoDB/SQS clients.
BOTO = {
    "backends/aws",
    "backends/moto",
    "hosting/embedded.py",
    "idempotency.py",
    "api/model.py",
    "cli/api_client.py",
    "cli/deployment.py",
}
MOTO = {"backends/moto", "hosting/embedded.py"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _under(module: str, prefixes: set[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_folders_import_only_what_their_layer_may(folder: str) -> None:
    own = f"stepq.{folder}"
    wrong = []
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        for module in _imports(path):
            if not module.startswith("stepq.") or _under(module, {own}):
                continue
            if not _under(module, ALLOWED[folder]):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert wrong == []


def _allowed(path: Path, places: set[str]) -> bool:
    relative = path.relative_to(PACKAGE).as_posix()
    return any(relative == p or relative.startswith(p + "/") for p in places)


def test_only_the_aws_adapters_import_boto3() -> None:
    wrong = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in _modules()
        for module in _imports(path)
        if module.split(".")[0] in {"boto3", "botocore"} and not _allowed(path, BOTO)
    ]
    assert wrong == []


def test_only_the_embedded_backend_imports_moto() -> None:
    wrong = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in _modules()
        for module in _imports(path)
        if module.split(".")[0] == "moto" and not _allowed(path, MOTO)
    ]
    assert wrong == []


def test_the_rule_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself: a core module importing the runtime is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from stepq.runtime import codec\n", encoding="utf-8")
    assert "stepq.runtime.codec" in _imports(bad)
    assert not _under("stepq.runtime.codec", ALLOWED["core"])


def test_no_module_is_over_500_lines_without_a_reason() -> None:
    """A long module says why at its top (a line starting "Long:" in its docstring)."""
    long = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= 500:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if not any(line.startswith("Long:") for line in doc.splitlines()[:12]):
            long.append(f"{path.relative_to(PACKAGE)} ({text.count(chr(10))} lines)")
    assert long == []
