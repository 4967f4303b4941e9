"""``stepq run --people FILE``: the expense example run to its end by the file's people,
timed transitions when the answers run out, a second terminal acting through the
run's API, and a bad people file refused with every problem at its path."""

from __future__ import annotations

import email
import json
import shlex
from pathlib import Path

import pytest
import yaml
from stepq.cli import app
from typer.testing import CliRunner

from api.cli_support import stepq_run

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "state_machine" / "expense_approval.asl.json"
PEOPLE = REPO / "state_machine" / "expense_approval.people.yaml"


def _run(tmp_path: Path, people: Path, amount: int, *extra: str) -> tuple[int, dict, str]:
    args = ["run", str(EXAMPLE), "--people", str(people), "--skip-time", "--api-port", "0"]
    args += ["--input", json.dumps({"expense": {"amount": amount}}), "--output", "json"]
    args += ["--timeout", "60", *extra]  # the last --timeout wins
    result = CliRunner().invoke(app, args)
    document = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, document, result.stderr


def _mail(outbox: Path) -> list[tuple[str, str]]:
    found = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        found.append((str(message["To"]), str(message["Subject"])))
    return found


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aws_env: None) -> Path:
    folder = tmp_path / "outbox"
    monkeypatch.setenv("STEPQ_OUTBOX", str(folder))
    return folder


def test_the_expense_example_runs_to_its_end_with_the_example_people_file(
    tmp_path: Path, outbox: Path
) -> None:
    code, run, stderr = _run(tmp_path, PEOPLE, 1500)
    assert code == 0 and run["status"] == "SUCCEEDED", stderr
    finance = run["output"]["people"]["FinanceReview"]
    assert finance["Transition"] == "to_Approved"
    assert [a["By"] for a in finance["Actions"]] == ["fin1", "fin2"]  # two of the three
    assert run["output"]["people"]["ManagerReview"]["CompletedBy"] == "maria"
    audit = [e["details"] for e in run["history"] if e["type"] == "RequestAuditRecorded"]
    assert audit[0]["who"] == "jane" and audit[0]["what"] == "CreateRequest"  # the requester
    assert ("jane@example.com", "Your expense was approved") in _mail(outbox)
    assert ("maria@example.com", "An expense waits for your approval") in _mail(outbox)
    assert "answer not given" not in stderr


def test_a_small_expense_needs_only_the_manager_and_unused_answers_are_named(
    tmp_path: Path, outbox: Path
) -> None:
    code, run, stderr = _run(tmp_path, PEOPLE, 200)
    assert code == 0 and run["status"] == "SUCCEEDED"
    assert "FinanceReview" not in run["output"]["people"]
    assert stderr.count("answer not given") == 2 and '"as": "fin1"' in stderr


def test_when_finance_does_not_answer_two_days_pass_and_the_admins_decide(
    tmp_path: Path, outbox: Path
) -> None:
    source = yaml.safe_load(PEOPLE.read_text(encoding="utf-8"))
    source["answers"] = [*source["answers"][:2], {"as": "ada", "action": "Deny"}]
    people = tmp_path / "people.yaml"
    people.write_text(yaml.safe_dump(source), encoding="utf-8")
    code, run, stderr = _run(tmp_path, people, 1500)
    assert code == 0 and run["status"] == "SUCCEEDED", stderr
    entered = [e["details"]["name"] for e in run["history"] if e["type"].endswith("StateEntered")]
    assert entered.index("FinanceReview.timeout") < entered.index("Escalated")
    assert run["output"]["people"]["Escalated"]["CompletedBy"] == "ada"
    assert entered[-1] == "Denied"
    timed_out = [e for e in run["history"] if e["type"] == "TaskTimedOut"]
    assert len(timed_out) == 1  # FinanceReview's two days; nothing timed out before
    assert ("jane@example.com", "Your expense was denied by the process admins") in _mail(outbox)


def test_a_second_terminal_acts_through_the_runs_api_once_the_answers_are_used(
    tmp_path: Path, outbox: Path
) -> None:
    source = yaml.safe_load(PEOPLE.read_text(encoding="utf-8"))
    source["answers"] = source["answers"][:1]  # Maria approves; Finance is left to us
    (tmp_path / "people.yaml").write_text(yaml.safe_dump(source), encoding="utf-8")
    args = [str(EXAMPLE), "--people", "people.yaml", "--api-port", "0", "--timeout", "120"]
    with stepq_run(tmp_path, *args, "--input", '{"expense": {"amount": 5000}}') as run:
        run.wait_for('FinanceReview "Approve a large expense" waits for people')
        line = run.wait_for("act from another terminal:")
        argv = shlex.split(line.split(":", 1)[1])
        assert argv[:3] == ["stepq", "tasks", "act"] and argv[4:7] == ["ACTION", "--as", "PERSON"]
        task, url = argv[3], argv[-1]
        refused = CliRunner().invoke(
            app, ["tasks", "act", task, "Approve", "--as", "maria", "--api-url", url]
        )
        assert refused.exit_code != 0 and "not a target" in refused.output
        for person in ("fin3", "fin1"):
            acted = CliRunner().invoke(
                app, ["tasks", "act", task, "Approve", "--as", person, "--api-url", url]
            )
            assert acted.exit_code == 0, acted.output
        run.wait_for("SUCCEEDED")
        assert run.process.wait(timeout=60) == 0


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            "answers: [{as: tom}]\ngroups: {'9 bad': [x]}\n",
            [
                "requester: Field required",
                "answers.0.action: Field required",
                "groups: '9 bad' is not a valid group name",
            ],
        ),
        (
            "requester: jane\npeople: {jane: nowhere}\nextra: 1\n",
            ["people: 'nowhere' (jane)", "extra: Extra inputs are not permitted"],
        ),
        ("requester: [unclosed\n", ["(file): is not YAML"]),
        ("requester: jane\nrequester: bob\n", ["(file): line 2: 'requester' is written twice"]),
    ],
)
def test_a_bad_people_file_is_refused_with_every_problem_and_no_traceback(
    tmp_path: Path, text: str, problems: list[str]
) -> None:
    people = tmp_path / "people.yaml"
    people.write_text(text, encoding="utf-8")
    code, _, stderr = _run(tmp_path, people, 1)
    assert code == 2 and "Traceback" not in stderr
    for problem in problems:
        assert f"{people}: {problem}" in stderr.replace("\n", " ") or problem in stderr, stderr


def test_a_people_example_without_a_people_file_says_what_it_needs(
    tmp_path: Path, outbox: Path
) -> None:
    code, run, _ = _run(tmp_path, PEOPLE, 1, "--timeout", "3")
    assert code == 0 and run["status"] == "SUCCEEDED"  # the control: with the file it ends
    args = ["run", str(EXAMPLE), "--skip-time", "--api-port", "0", "--timeout", "3"]
    result = CliRunner().invoke(app, [*args, "--output", "json"])
    assert result.exit_code == 2 and not result.stdout  # refused before anything runs
    assert "has human tasks: give --people FILE" in result.stderr


def test_an_answer_that_fits_no_task_waits_and_the_others_are_given(
    tmp_path: Path, outbox: Path
) -> None:
    source = yaml.safe_load(PEOPLE.read_text(encoding="utf-8"))
    source["answers"].insert(0, {"as": "tom", "action": "Approve"})  # tom is in no group
    people = tmp_path / "people.yaml"
    people.write_text(yaml.safe_dump(source), encoding="utf-8")
    code, run, stderr = _run(tmp_path, people, 1500)
    assert code == 0 and run["status"] == "SUCCEEDED", stderr
    assert stderr.count("answer not given") == 1 and '"as": "tom"' in stderr
