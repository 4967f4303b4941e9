"""People in the loop, the durable part: groups, requests, human tasks in the table.

The rules are pure (``core/people``); this package loads their facts and keeps
what people did, with conditional writes (docs/PEOPLE.md).
"""
