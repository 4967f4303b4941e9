"""Loading step functions from a module: ``--functions pkg.mod`` or ``--functions file.py``.

Every public top-level function ``name(event, context)`` becomes the step
function ``name``, reachable as ``arn:aws:lambda:<region>:<account>:function:name``
and as the ``FunctionName`` of ``arn:aws:states:::lambda:invoke``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

from stepq.errors import StepqError
from stepq.invoke import StepFunction


class FunctionsLoadError(StepqError):
    """The --functions module could not be imported."""


def _import(spec: str) -> ModuleType:
    if spec.endswith(".py") or "/" in spec:
        path = Path(spec).resolve()
        if not path.is_file():
            raise FunctionsLoadError(f"no such file: {spec}")
        name = f"stepq_user_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise FunctionsLoadError(f"cannot import {spec}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:  # the user's module failed at import time
            raise FunctionsLoadError(
                f"importing {spec} failed: {type(exc).__name__}: {exc}"
            ) from exc
        return module
    try:
        return importlib.import_module(spec)
    except ImportError as exc:
        raise FunctionsLoadError(f"cannot import module {spec!r}: {exc}") from exc


def load_functions(spec: str) -> dict[str, StepFunction]:
    module = _import(spec)
    found: dict[str, StepFunction] = {}
    for name, obj in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(obj):
            continue
        if getattr(obj, "__module__", None) != module.__name__:
            continue  # imported helpers are not steps
        found[name] = obj
    return found
