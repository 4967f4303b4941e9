"""The Lambda layer holds what the handlers run, and nothing of the local tooling.

The layer is built the way ``sam build`` builds it (``make build-StepqLayer``
in ``shared/`` with ``ARTIFACTS_DIR`` set), except that instead of pip
fetching arm64 wheels, the venv's own copies of ``shared/requirements.txt``
and their dependencies are linked into it. Each handler is then imported, and
its runtime built, in an isolated interpreter (``-I -S``) whose ``sys.path``
is what Lambda gives it: the function's folder, the layer, boto3 and its
dependencies (the runtime's own), and the standard library.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
BUILT = {  # what each handler's warm runtime holds
    "orchestrator": ["Settings", "Orchestrator"],
    "worker": ["Settings", "Worker"],
    "scheduler": ["Scheduler", "DeadLetterSweeper"],
    "inbox": ["Settings", "ApiContext", "Inbox"],
    "api": ["Settings", "ApiHandler"],
}
NOT_SHIPPED = (
    "bench",
    "conformance",
    "testing",
    "backends/moto",
    "backends/memory",
    "hosting/embedded.py",
    "hosting/local_runner.py",
    "hosting/pump.py",
    "hosting/doorbell.py",
    "hosting/serve.py",
    "cli",
)
LAMBDA_RUNTIME = ("boto3",)  # what the python3.12 runtime provides, with its dependencies
ENV = {  # fake credentials and no config files: building clients must not reach anything
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "STEPQ_FUNCTIONS": "steps",  # functions/worker/steps.py
    "STEPQ_BUCKET": "claim-checks",  # so the S3 side is built too
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}

# Runs in the isolated interpreter: argv = [function folder, layer, runtime].
CHILD = """
import importlib.util, json, sys
function, layer, runtime = sys.argv[1:4]
sys.path[:0] = [function, layer, runtime]
import app
runtime_parts = app._get()  # builds clients only: no network
import stepq
assert stepq.__file__.startswith(layer), stepq.__file__
print(json.dumps({
    "built": [type(part).__name__ for part in runtime_parts],
    "moto": importlib.util.find_spec("moto") is not None,
    "stepq": sorted(m for m in sys.modules if m == "stepq" or m.startswith("stepq.")),
    "beyond_stdlib": [
        p for p in sys.path[3:] if "site-packages" in p or not p.startswith(sys.base_prefix)
    ],
}))
"""

# Runs in the isolated interpreter: argv = [layer, runtime, module, ...].
IMPORT_ALL = """
import importlib, sys
sys.path[:0] = sys.argv[1:3]
for name in sys.argv[3:]:
    importlib.import_module(name)
"""


def _requirements(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _link_distributions(requirements: list[str], into: Path) -> None:
    """Link the installed distributions ``requirements`` need (transitively) into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    todo = list(requirements)
    while todo:
        requirement = Requirement(todo.pop())
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        dist = metadata.distribution(requirement.name)
        todo.extend(dist.requires or [])
        tops = {Path(f).parts[0] for f in dist.files or ()} - {"..", "__pycache__"}
        for top in tops:
            target = into / top
            if not target.exists():
                target.symlink_to(Path(str(dist.locate_file(top))))


@pytest.fixture(scope="session")
def lambda_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The layer's python/ folder and the runtime's boto3, built once per session."""
    base = tmp_path_factory.mktemp("lambda")
    artifacts = base / "StepqLayer"
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(ROOT / "shared"),
            "build-StepqLayer",
            f"ARTIFACTS_DIR={artifacts}",
            "INSTALL_REQUIREMENTS=no",
        ],
        check=True,
        capture_output=True,
    )
    layer = artifacts / "python"
    _link_distributions(_requirements(ROOT / "shared" / "requirements.txt"), layer)
    runtime = base / "runtime"
    _link_distributions(list(LAMBDA_RUNTIME), runtime)
    return {"layer": layer, "runtime": runtime}


def _isolated(script: str, *argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, *map(str, argv)],
        env=ENV,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _run_isolated(function: Path, paths: dict[str, Path]) -> subprocess.CompletedProcess[str]:
    return _isolated(CHILD, function, paths["layer"], paths["runtime"], cwd=function)


def _layer_modules(layer: Path) -> dict[str, Path]:
    """Module name -> file, of every module of stepq in the layer."""
    found = {}
    for path in sorted((layer / "stepq").rglob("*.py")):
        parts = path.relative_to(layer).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _stepq_imports(path: Path, module: str) -> list[str]:
    """The stepq modules ``path`` may import, late ones too (not those under TYPE_CHECKING)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:  # relative: from this package, node.level - 1 up
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*parts, node.module] if node.module else parts)
            found.append(target)
            found.extend(f"{target}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return [name for name in found if name == "stepq" or name.startswith("stepq.")]


def test_layer_ships_the_runtime_and_not_the_tooling(lambda_paths: dict[str, Path]) -> None:
    stepq = lambda_paths["layer"] / "stepq"
    source = ROOT / "shared" / "stepq"
    assert [name for name in NOT_SHIPPED if not (source / name).exists()] == []  # still current
    for shipped in ("__init__.py", "core", "runtime", "backends/aws", "hosting/lambda_sqs.py"):
        assert (stepq / shipped).exists(), shipped
    present = [name for name in NOT_SHIPPED if (stepq / name).exists()]
    assert present == []
    assert not list(stepq.rglob("__pycache__"))


def test_layer_gets_the_requirements_and_not_boto3(lambda_paths: dict[str, Path]) -> None:
    layer = lambda_paths["layer"]
    for package in ("pydantic", "jsonata", "aws_lambda_powertools"):
        assert (layer / package).exists(), package
    assert not (layer / "boto3").exists()  # the runtime's own
    assert not (layer / "moto").exists()
    assert not (layer / "jsonpath_ng").exists()  # stepq has its own JSONPath


@pytest.mark.parametrize("name", sorted(BUILT))
def test_handler_imports_and_builds_with_only_the_layer(
    lambda_paths: dict[str, Path], name: str
) -> None:
    done = _run_isolated(ROOT / "functions" / name, lambda_paths)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["beyond_stdlib"] == []  # the interpreter's own packages are out of reach
    assert report["moto"] is False
    assert report["built"] == BUILT[name]
    assert "stepq.hosting.lambda_sqs" in report["stepq"]


@pytest.mark.parametrize(
    ("source", "missing"),
    [
        ("import stepq.bench", "stepq.bench"),
        ("from stepq.hosting.embedded import EmbeddedRuntime", "stepq.hosting.embedded"),
        ("import moto", "moto"),
        ("import rich", "rich"),  # in the venv, not in the layer
    ],
)
def test_isolation_catches_a_handler_that_needs_more(
    lambda_paths: dict[str, Path], tmp_path: Path, source: str, missing: str
) -> None:
    # Guards the test above: what the layer lacks does fail to import there.
    (tmp_path / "app.py").write_text(f"{source}\n\ndef _get():\n    return (1, 2)\n")
    done = _run_isolated(tmp_path, lambda_paths)
    assert done.returncode != 0
    assert f"No module named '{missing}'" in done.stderr, done.stderr


def test_every_module_in_the_layer_imports_with_only_the_layer(
    lambda_paths: dict[str, Path],
) -> None:
    modules = sorted(_layer_modules(lambda_paths["layer"]))
    done = _isolated(
        IMPORT_ALL,
        lambda_paths["layer"],
        lambda_paths["runtime"],
        *modules,
        cwd=lambda_paths["layer"],
    )
    assert done.returncode == 0, done.stderr


def test_late_imports_in_the_layer_stay_in_the_layer(lambda_paths: dict[str, Path]) -> None:
    # An import inside a function runs only on the path that needs it: read them all.
    shipped = _layer_modules(lambda_paths["layer"])
    source = set(_layer_modules(ROOT / "shared"))
    missing = [
        f"{module} imports {name}"
        for module, path in shipped.items()
        for name in _stepq_imports(path, module)
        if name not in shipped and (name in source or name.rpartition(".")[0] not in shipped)
    ]
    assert missing == []
