"""``stepq process compile``: the ASL on stdout or in a file; every failure in one line
(or one line per problem), never a traceback. Deploying is in tests/api."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from stepq.cli import app
from stepq.core.people.process import compile_process
from typer.testing import CliRunner

EXAMPLE = Path(__file__).resolve().parents[2] / "state_machine" / "expense_approval.process.yaml"

SMALL = """\
process: small
start: Review
states:
  Review:
    title: Look at it
    transitions:
      - {action: Approve, by: requester}
  Done: {end: true}
"""


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_compile_prints_the_asl(tmp_path: Path) -> None:
    code, output = _invoke("process", "compile", str(EXAMPLE))
    assert code == 0, output
    assert json.loads(output) == compile_process(yaml.safe_load(EXAMPLE.read_text()))


def test_compile_writes_the_asl_with_o(tmp_path: Path) -> None:
    target = tmp_path / "small.asl.json"
    source = tmp_path / "small.process.yaml"
    source.write_text(SMALL)
    code, output = _invoke("process", "compile", str(source), "-o", str(target))
    assert code == 0, output
    assert output.strip() == f"wrote {target}"
    assert json.loads(target.read_text())["States"]["Review"]["Next"] == "Review.route"


def test_a_json_process_compiles_too(tmp_path: Path) -> None:
    source = tmp_path / "small.json"
    source.write_text(json.dumps(yaml.safe_load(SMALL)))
    code, output = _invoke("process", "compile", str(source))
    assert code == 0, output
    assert json.loads(output)["StartAt"] == "Review"


def test_an_invalid_process_is_one_line_per_problem(tmp_path: Path) -> None:
    source = tmp_path / "bad.process.yaml"
    source.write_text(
        SMALL.replace(
            "{action: Approve, by: requester}", "{to: Z, action: Approve, by: requester}"
        ).replace("start: Review", "start: Nowhere")
    )
    code, output = _invoke("process", "compile", str(source))
    assert code == 1
    assert output.splitlines() == [
        f'{source}: start: no state "Nowhere"',
        f'{source}: states.Review.transitions.0.to: no state "Z"',
    ]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.process.yaml", "states: [unclosed", "is not YAML: "),
        ("bad.json", "{not json", "is not JSON: "),
        (
            "twice.process.yaml",
            SMALL + "  Review: {end: true}\n",
            "line 9: 'Review' is written twice",
        ),
    ],
)
def test_a_file_that_does_not_parse_is_one_line(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    source = tmp_path / name
    source.write_text(text)
    code, output = _invoke("process", "compile", str(source))
    assert code == 2
    assert len(output.strip().splitlines()) == 1 and expected in output, output


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    code, output = _invoke("process", "compile", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert output.strip().startswith(f"cannot read {tmp_path / 'nope.yaml'}")


def test_deploy_checks_the_file_before_it_needs_an_api(tmp_path: Path) -> None:
    source = tmp_path / "bad.process.yaml"
    source.write_text(SMALL.replace("start: Review", "start: Nowhere"))
    url = f"http://127.0.0.1:{_closed_port()}"
    code, output = _invoke("process", "deploy", str(source), "--endpoint-url", url)
    assert (code, output.strip()) == (1, f'{source}: start: no state "Nowhere"')


def test_deploy_to_an_unreachable_api_is_one_line() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    code, output = _invoke("process", "deploy", str(EXAMPLE), "--api-url", url)
    assert code == 1
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cannot reach the stepq API at {url}")


def test_as_a_real_process_no_traceback(tmp_path: Path) -> None:
    source = tmp_path / "bad.process.yaml"
    source.write_text("process: [unclosed")
    shared = str(Path(__file__).resolve().parents[2] / "shared")
    done = subprocess.run(
        [sys.executable, "-m", "stepq.cli", "process", "compile", str(source)],
        env={**os.environ, "PYTHONPATH": shared},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "is not YAML" in done.stderr
    assert "Traceback" not in done.stderr
