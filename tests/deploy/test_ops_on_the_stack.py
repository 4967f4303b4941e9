"""`stepq ops` against the deployed stack: its table and queues, named by its outputs.

After the claims, nothing is stuck and nothing needs repair; the malformed inbox
message the run sent is in the inbox's dead-letter queue with its reason, and a
redrive would move it back (a dry run: it would only be dead-lettered again).
"""

from __future__ import annotations

from deploy.conftest import OfflineRun


def test_ops_stuck_finds_nothing_stuck_after_the_claims(offline_run: OfflineRun) -> None:
    code, output = offline_run.ops["stuck --older-than 0"]
    assert code == 0, output
    assert "arn:aws:states" not in output  # every claim finished
    assert output.strip().splitlines()[-1].startswith("stuck=0"), output


def test_ops_dlq_list_shows_the_dead_lettered_inbox_message_with_its_reason(
    offline_run: OfflineRun,
) -> None:
    code, output = offline_run.ops["dlq list"]
    assert code == 0, output
    inbox = [line for line in output.splitlines() if line.startswith("inbox ")]
    assert len(inbox) == 1, output
    assert "reason=not JSON" in inbox[0], inbox[0]  # why the inbox refused it
    assert output.strip().splitlines()[-1] == "listed=1 queues=4", output


def test_ops_dlq_redrive_and_reconcile_run_on_the_stack(offline_run: OfflineRun) -> None:
    code, output = offline_run.ops["dlq redrive inbox --all --dry-run"]
    assert code == 0, output
    assert output.strip().splitlines()[-1] == "would-move=1", output
    code, output = offline_run.ops["reconcile --quiet-minutes 0"]
    assert code == 0, output
    assert output.strip().splitlines()[-1] == "reconciled=0 resent=0", output
