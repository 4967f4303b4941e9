"""Where a person's e-mail goes: their id when it is an address, else their
``person/<id>`` document's ``email``, else nowhere (the caller says so).
"""

from __future__ import annotations

from stepq.runtime.ports import Store

PERSON = "person"  # the document kind: person/<id> {"email": ...}


def address_of(store: Store, person: str) -> str | None:
    """``person``'s e-mail address, or None when none is known."""
    if "@" in person:
        return person
    doc = store.get_doc(PERSON, person)
    email = doc.body.get("email") if doc is not None else None
    return email if isinstance(email, str) and "@" in email else None
