"""The CLI shows an audit line as who did what, from the store or through the API."""

from __future__ import annotations

import json

from stepq.cli.api_commands import render_event
from stepq.cli.render import progress_line


def test_an_audit_line_reads_who_what_and_task() -> None:
    stored = {"id": 4, "type": "RequestAuditRecorded", "details": {"who": "tom", "what": "Approve"}}
    assert progress_line(stored).endswith("RequestAuditRecorded tom Approve")
    line = {"who": "jane", "what": "claimed", "taskId": "t1"}
    through_api = {
        "id": 5,
        "type": "RequestAuditRecorded",
        "taskSubmittedEventDetails": {"resourceType": "stepq", "output": json.dumps(line)},
    }
    assert progress_line(render_event(through_api)).endswith("RequestAuditRecorded jane claimed t1")
