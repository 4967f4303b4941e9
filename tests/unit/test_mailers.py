"""The Mailer port's two sides: the outbox folder (local) and SES v2 (moto)."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from stepq.backends.aws.ses_mailer import SesMailer
from stepq.backends.local_outbox import DEFAULT_OUTBOX, OutboxFolder, outbox_from_env
from stepq.clock import ManualClock
from stepq.errors import MailError


def _read(path: Path) -> Any:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_the_outbox_writes_one_readable_eml_per_message_in_time_order(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 12, 3, 10, tzinfo=UTC))
    outbox = OutboxFolder(tmp_path / "outbox", clock)
    assert outbox.messages() == []  # no folder yet: nothing sent
    first = outbox.send(["tom@example.com", "jane@example.com"], "An expense waits", "Look.\n")
    # skipped time: the runtime's clock stands still, the order is still kept
    second = outbox.send(["tom@example.com"], "Réminder ✓", "Encore.\n")
    files = outbox.messages()
    assert [f.name.split("-", 1)[1] for f in files] == [
        f"000001-{first}.eml",
        f"000002-{second}.eml",
    ]
    mail = _read(files[0])
    assert mail["Date"] == "Thu, 03 Dec 2026 10:00:00 +0000"  # the runtime's time
    assert mail["To"] == "tom@example.com, jane@example.com"
    assert mail["Subject"] == "An expense waits"
    assert mail["Message-ID"] == f"<{first}@stepq.local>"
    assert mail.get_content() == "Look.\n"
    assert _read(files[1])["Subject"] == "Réminder ✓"  # encoded on disk, read back whole
    assert not list((tmp_path / "outbox").glob(".*"))  # no partial file left behind


def test_the_outbox_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(MailError, match="could not write to the outbox"):
        OutboxFolder(blocked).send(["a@example.com"], "s", "b")
    with pytest.raises(MailError, match="at least one address"):
        OutboxFolder(tmp_path).send([], "s", "b")


def test_the_outbox_folder_comes_from_the_environment() -> None:
    assert outbox_from_env({}).path == Path(DEFAULT_OUTBOX) == Path(".stepq/outbox")
    assert outbox_from_env({"STEPQ_OUTBOX": "/tmp/mail"}).path == Path("/tmp/mail")


@pytest.fixture
def sesv2(monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3
    from moto import mock_aws

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("sesv2", region_name="us-east-1")


def test_ses_sends_from_a_verified_identity(sesv2: Any) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    sesv2.create_email_identity(EmailIdentity="stepq@example.com")
    mailer = SesMailer(sesv2, "stepq@example.com")
    message_id = mailer.send(["tom@example.com"], "An expense waits", "Look.")
    assert message_id
    [sent] = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert sent.id == message_id
    assert sent.destinations["ToAddresses"] == ["tom@example.com"]
    assert sent.subject == "An expense waits" and sent.body == "Look."


def test_ses_refusal_is_a_mail_error_with_its_code(sesv2: Any) -> None:
    with pytest.raises(MailError) as refused:
        SesMailer(sesv2, "nobody@example.com").send(["tom@example.com"], "s", "b")
    assert refused.value.code == "MessageRejected"


def test_the_worker_lambda_mails_through_ses_only_with_a_sender(sesv2: Any) -> None:
    pytest.importorskip("aws_lambda_powertools")
    from lambda_support import load_app
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends
    from stepq.backends.aws.settings import Settings

    worker = load_app("worker")
    unset = worker.mailer_of(Settings.from_env({"STEPQ_MAIL_FROM": ""}))
    with pytest.raises(MailError, match=r"no sender configured \(MailFrom\)"):
        unset.send(["tom@example.com"], "s", "b")
    sesv2.create_email_identity(EmailIdentity="stepq@example.com")
    mailer = worker.mailer_of(Settings.from_env({"STEPQ_MAIL_FROM": "stepq@example.com"}))
    mailer.send(["tom@example.com"], "An expense waits", "Look.")
    [sent] = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert sent.source == "stepq@example.com"
