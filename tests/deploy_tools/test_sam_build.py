"""``sam build`` of template.yaml succeeds here, without Docker, and builds what
Lambda runs: each function's code with its handler, and one layer with stepq's
runtime modules and their dependencies (arm64 wheels for CPython 3.12) but
none of the local tooling (shared/Makefile says what ships).

The build runs as a user runs it, through ``scripts/sam_build.sh`` (it finds
a python3.12 and puts it on PATH), into a temporary folder, offline: pip
installs the layer's wheels from .cache/layer-wheels, which
``scripts/install_sam_cli.sh`` fills along with the SAM CLI.
"""

from __future__ import annotations

import os
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_tools_support import CACHE, REPO, missing
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

SCRIPT = REPO / "scripts" / "sam_build.sh"
INSTALL = "scripts/install_sam_cli.sh"
WHEELS = CACHE / "layer-wheels"
BUILD_SECONDS = 300
# Every function's code (functions/<name>/ in the template) and its handler.
FUNCTIONS = ("OrchestratorFunction", "WorkerFunction", "SchedulerFunction", "InboxFunction")
# What the handlers run: stepq's runtime, relative to stepq/ in the layer's python/.
SHIPPED = (
    "__init__.py",
    "errors.py",
    "core/interpreter.py",
    "runtime/orchestrator.py",
    "runtime/worker.py",
    "runtime/scheduler.py",
    "api/handler.py",
    "backends/aws/settings.py",
    "backends/aws/dynamodb_store.py",
    "backends/aws/sqs_queues.py",
    "backends/aws/s3_blobs.py",
    "hosting/lambda_sqs.py",
    "hosting/lambda_api.py",
)
# Local runtimes, test and bench code and the command line: never in the layer.
LOCAL_ONLY = (
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
    "hosting/dev.py",
    "cli",
)
# Distributions of the dev tooling, and boto3 with what it needs, which the runtime
# brings (a copy in the layer would shadow the runtime's own).
NOT_IN_LAYER = (
    *("moto", "pytest", "hypothesis", "typer", "dbos"),
    *("boto3", "botocore", "s3transfer", "urllib3", "python-dateutil", "six"),
)


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !GetAtt, ...), read as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _any_tag)


def _template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # a SafeLoader


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each function's properties, with the template's Globals filled in."""
    defaults = template.get("Globals", {}).get("Function", {})
    return {
        name: {**defaults, **resource.get("Properties", {})}
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _files(folder: Path) -> set[str]:
    return {
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def _distributions(folder: Path) -> dict[str, str]:
    """The installed distributions in ``folder``: canonical name -> version."""
    return {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions(path=[str(folder)])
    }


def _extra_needs(folder: Path, name: str, extra: str) -> list[str]:
    """The distributions ``name[extra]`` adds, as the copy in ``folder`` declares them."""
    dist = next(
        d
        for d in metadata.distributions(path=[str(folder)])
        if canonicalize_name(d.metadata["Name"]) == canonicalize_name(name)
    )
    needs = [Requirement(text) for text in dist.requires or []]
    return [
        need.name
        for need in needs
        if need.marker is not None
        and need.marker.evaluate({"extra": extra})
        and not need.marker.evaluate({"extra": ""})
    ]


# One build per test process; under xdist, --dist loadfile keeps this file on one worker.
@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    found = subprocess.run(
        ["bash", str(REPO / "scripts" / "find_python.sh"), "3.12"], capture_output=True, text=True
    )
    if found.returncode != 0:
        missing(f"no python3.12 for `sam build`: {found.stderr.strip()}", "pyenv install 3.12")
    if not (CACHE / "sam-venv" / "bin" / "sam").exists():
        missing("the SAM CLI is not installed in .cache/sam-venv", INSTALL)
    if not any(WHEELS.glob("*.whl")):
        missing("the layer's wheels are not in .cache/layer-wheels", INSTALL)
    target = tmp_path_factory.mktemp("sam-build")
    env = {**os.environ, "STEPQ_LAYER_WHEELS": str(WHEELS)}
    env.pop("SAM", None)  # the repository's own SAM CLI, not one from the environment
    done = subprocess.run(
        ["bash", str(SCRIPT), str(target)],
        capture_output=True,
        text=True,
        env=env,
        timeout=BUILD_SECONDS,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (
        f"sam build failed ({done.returncode}); if pip found no wheel, run {INSTALL} again:\n"
        f"{done.stderr[-4000:]}"
    )
    assert "Build Succeeded" in done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(target)
    return target


def test_every_function_is_built_from_its_code_with_its_handler(build_dir: Path) -> None:
    source = _functions(_template(REPO / "template.yaml"))
    built = _functions(_template(build_dir / "template.yaml"))
    assert set(FUNCTIONS) <= set(source), "the template lost a function"
    assert set(built) == set(source)
    for name, properties in source.items():
        code = REPO / properties["CodeUri"]
        folder = build_dir / name
        # The built template points each function at its own built folder.
        assert (build_dir / built[name]["CodeUri"]).resolve() == folder.resolve()
        assert _files(folder) == _files(code), name
        for relative in _files(code):
            assert (folder / relative).read_bytes() == (code / relative).read_bytes(), relative
        module, _, function = properties["Handler"].rpartition(".")
        handler = folder / f"{module.replace('.', '/')}.py"
        assert handler.is_file(), f"{name}: no {handler.name} for Handler {properties['Handler']}"
        assert f"def {function}(" in handler.read_text(), f"{name}: no {function}() in {handler}"
        assert properties["Runtime"] == "python3.12"


def test_layer_holds_stepq_runtime_and_its_dependencies_for_arm64(build_dir: Path) -> None:
    python = build_dir / "StepqLayer" / "python"
    for relative in SHIPPED:
        shipped, source = python / "stepq" / relative, REPO / "shared" / "stepq" / relative
        assert shipped.is_file(), f"the layer lacks stepq/{relative}"
        assert shipped.read_bytes() == source.read_bytes(), f"stepq/{relative} differs"
    versions = _distributions(python)
    lines = (REPO / "shared" / "requirements.txt").read_text().splitlines()
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        wanted = Requirement(line)
        have = versions.get(canonicalize_name(wanted.name))
        assert have is not None, f"the layer lacks {wanted.name}"
        assert wanted.specifier.contains(have, prereleases=True), f"{wanted.name} {have}"
        for extra in wanted.extras:  # e.g. powertools[tracer]: aws-xray-sdk
            for needed in _extra_needs(python, wanted.name, extra):
                assert canonicalize_name(needed) in versions, f"{wanted.name}[{extra}]: {needed}"
    # Compiled parts are Lambda's (arm64, CPython 3.12), not this machine's.
    compiled = [path.name for path in python.rglob("*.so")]
    assert compiled, "no compiled extension (pydantic_core has one)"
    assert all("cpython-312-aarch64-linux-gnu" in name for name in compiled), compiled


def test_layer_leaves_out_local_runtimes_and_dev_tools(build_dir: Path) -> None:
    python = build_dir / "StepqLayer" / "python"
    stepq = python / "stepq"
    shipped = _files(stepq)
    for local in LOCAL_ONLY:
        leaked = [path for path in shipped if path == local or path.startswith(f"{local}/")]
        assert not leaked, f"local-only code in the layer: {leaked}"
    assert not [path for path in shipped if path.startswith("cli")], "the CLI is in the layer"
    dists = _distributions(python)
    assert dists, "no distribution in the layer"
    assert not set(dists) & {canonicalize_name(name) for name in NOT_IN_LAYER}
    assert not (python / "bin").exists()
