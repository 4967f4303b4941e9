"""``--functions``: what a module registers, as a Python user expects (runtime/steps.py)."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from stepq.errors import FunctionsLoadError
from stepq.runtime.steps import load_functions
from typer.testing import CliRunner


@pytest.fixture(autouse=True)
def _clean_imports() -> Iterator[None]:
    """Each test's temp modules are forgotten afterwards (same names, other folders)."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_sibling_imports_work_and_imported_siblings_are_steps(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "cli_helpers_a.py",
        """
        def charge(event, context):
            return {"charged": event["amount"]}

        def _private(event, context):
            return None
        """,
    )
    steps = _write(
        tmp_path,
        "cli_steps_a.py",
        """
        import json
        from json import dumps
        from cli_helpers_a import charge, _private

        def ship(event, context):
            return {"shipped": dumps(event)}

        def _hidden(event, context):
            return None
        """,
    )
    found = load_functions(str(steps))
    # Its own public function, plus the public one imported from its folder; not
    # json.dumps (another folder), not private names.
    assert sorted(found) == ["charge", "ship"]
    assert found["charge"]({"amount": 3}, None) == {"charged": 3}


def test_dunder_all_names_the_steps(tmp_path: Path) -> None:
    steps = _write(
        tmp_path,
        "cli_steps_b.py",
        """
        from os.path import join

        __all__ = ["pay", "join"]

        def pay(event, context):
            return "paid"

        def helper(event, context):
            return "not a step"
        """,
    )
    assert sorted(load_functions(str(steps))) == ["join", "pay"]


def test_dunder_all_naming_something_missing_is_a_clear_error(tmp_path: Path) -> None:
    steps = _write(tmp_path, "cli_steps_c.py", "__all__ = ['nope']\n")
    with pytest.raises(FunctionsLoadError, match="__all__ names 'nope'"):
        load_functions(str(steps))


def test_a_dotted_module_is_found_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "cli_pkg_d", "__init__.py", "")
    _write(tmp_path / "cli_pkg_d", "util.py", "def tag(event, context):\n    return 'tagged'\n")
    _write(
        tmp_path / "cli_pkg_d",
        "steps.py",
        "from cli_pkg_d.util import tag\n\ndef work(event, context):\n    return 1\n",
    )
    monkeypatch.chdir(tmp_path)
    # A console script does not put the current folder on sys.path: loading must.
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert sorted(load_functions("cli_pkg_d.steps")) == ["tag", "work"]


def test_a_module_failing_at_import_is_one_error_naming_it(tmp_path: Path) -> None:
    steps = _write(tmp_path, "cli_steps_e.py", "import not_a_module_anywhere_xyz\n")
    with pytest.raises(FunctionsLoadError, match=r"importing .*cli_steps_e\.py failed"):
        load_functions(str(steps))


def test_stepq_functions_lists_the_registered_names(tmp_path: Path) -> None:
    from stepq.cli import app

    _write(tmp_path, "cli_helpers_f.py", "def refund(event, context):\n    return 0\n")
    steps = _write(
        tmp_path,
        "cli_steps_f.py",
        "from cli_helpers_f import refund\n\ndef charge(event, context):\n    return 1\n",
    )
    result = CliRunner().invoke(app, ["functions", str(steps)])
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.output.splitlines()] == ["charge", "refund"]
    listed = CliRunner().invoke(app, ["functions", str(steps), "--output", "json"])
    names = json.loads(listed.output)
    assert sorted(names) == ["charge", "refund"]
    assert names["refund"].endswith("cli_helpers_f.py:1")


def test_stepq_functions_on_a_missing_file_is_one_line(tmp_path: Path) -> None:
    from stepq.cli import app

    result = CliRunner().invoke(app, ["functions", str(tmp_path / "nope.py")])
    assert result.exit_code == 2
    assert "no such file" in result.output and "Traceback" not in result.output


def test_the_examples_still_register_their_steps() -> None:
    repo = Path(__file__).resolve().parents[2]
    found = load_functions(str(repo / "state_machine" / "order_saga.py"))
    assert {"charge", "reserve", "ship", "release", "refund"} <= set(found)
