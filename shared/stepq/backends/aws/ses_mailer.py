"""``Mailer`` on Amazon SES (API v2, ``SendEmail``): the people's e-mail in AWS.

The client (``sesv2``) is injected, never built here; botocore is imported
lazily. ``sender`` must be an identity SES has verified (an address, or one
in a verified domain); until the account leaves SES's sandbox the
recipients must be verified too. Every refusal is a ``MailError`` with SES's
code (``MessageRejected``, ``MailFromDomainNotVerifiedException``, ...).
"""

from __future__ import annotations

from typing import Any

from stepq.backends.aws.botocore_common import error_code, error_message
from stepq.errors import MailError

__all__ = ["SesMailer"]


class SesMailer:
    def __init__(self, client: Any, sender: str) -> None:
        self._client = client
        self.sender = sender

    def send(self, to: list[str], subject: str, body: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        if not to:
            raise MailError("an e-mail needs at least one address")
        try:
            reply = self._client.send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": list(to)},
                Content={
                    "Simple": {
                        "Subject": {"Data": subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
                    }
                },
            )
        except ClientError as exc:
            code = error_code(exc)
            raise MailError(
                f"SES did not send the e-mail: {code}: {error_message(exc)}", code
            ) from None
        except BotoCoreError as exc:
            raise MailError(f"SES could not be reached: {exc}") from None
        return str(reply["MessageId"])
