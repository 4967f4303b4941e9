"""The pure core's layering, read from the source with ``ast``.

- The state handlers (``stepq/core/states``) see the run through
  ``stepq.core.states.context.RunContext``: none imports the interpreter, not
  even under ``TYPE_CHECKING`` or inside a function.
- Nothing in ``stepq/core`` imports an AWS SDK, moto, or the layers above it
  (``stepq.runtime``, ``stepq.backends``, ``stepq.hosting``).
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

from stepq.core.execution import new_execution
from stepq.core.interpreter import Run
from stepq.core.machine import Machine
from stepq.core.states.context import RunContext

CORE = Path(__file__).resolve().parents[2] / "shared" / "stepq" / "core"
INTERPRETER = "stepq.core.interpreter"
FORBIDDEN_IN_CORE = (
    "boto3",
    "botocore",
    "moto",
    "stepq.runtime",
    "stepq.backends",
    "stepq.hosting",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str | None = None) -> set[str]:
    """Every module ``path`` imports (and ``module.name`` for each name it imports
    from one), wherever the import stands; relative imports resolved."""
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return found


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _core_files() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_the_core_is_there() -> None:
    files = _core_files()
    assert CORE / "interpreter.py" in files
    assert any(path.parent.name == "states" for path in files)


def test_no_state_handler_imports_the_interpreter() -> None:
    wrong = [
        f"{path.relative_to(CORE)} imports {name}"
        for path in sorted((CORE / "states").rglob("*.py"))
        for name in sorted(_imports(path))
        if _under(name, INTERPRETER)
    ]
    assert wrong == []


def test_the_core_imports_no_sdk_and_no_outer_layer() -> None:
    wrong = [
        f"{path.relative_to(CORE)} imports {name}"
        for path in _core_files()
        for name in sorted(_imports(path))
        if any(_under(name, forbidden) for forbidden in FORBIDDEN_IN_CORE)
    ]
    assert wrong == []


def test_the_interpreter_imports_the_state_handlers_at_the_top() -> None:
    tree = ast.parse((CORE / "interpreter.py").read_text(encoding="utf-8"))
    top = {
        node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    assert "stepq.core.states" in top


def test_the_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The rule itself: late, TYPE_CHECKING-only and relative imports all count."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from ..interpreter import Run\n"
        "def f():\n"
        "    import boto3\n"
        "    from stepq.runtime import codec\n"
        "    from stepq import hosting\n",
        encoding="utf-8",
    )
    found = _imports(bad, "stepq.core.states.bad")
    assert "stepq.core.interpreter.Run" in found
    assert "boto3" in found
    assert "stepq.runtime.codec" in found
    assert "stepq.hosting" in found


def test_the_run_is_a_run_context() -> None:
    """``Run`` offers every member the handlers may use (the protocol is structural)."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    machine = Machine({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
    run = Run(machine, new_execution(name="x", state_machine_name="sm", start_time=start), start)
    assert isinstance(run, RunContext)
