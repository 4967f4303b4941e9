"""What every operation sees: the store, the runtime's roles, the clock and ARNs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stepq.api.arns import Arns
from stepq.api.catalog_cache import CatalogCache
from stepq.clock import Clock
from stepq.runtime.client import Client
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.people.attachments import AttachmentUrls
from stepq.runtime.ports import Queues, Store


@dataclass(slots=True)
class ApiContext:
    """Built once per process (``ApiContext.build``) and shared by every request.

    ``queues`` are signed (``runtime.signing``): what the API sends is
    authenticated like any other role's messages. ``functions`` holds the
    step functions of the process when it has them (``stepq dev``, TestState
    of a local step), else is empty. ``receive_wait`` caps a long poll
    (GetActivityTask) so a server thread is never held for long.
    """

    store: Store
    queues: Queues
    clock: Clock
    orchestrator: Orchestrator
    client: Client
    arns: Arns
    functions: Mapping[str, Any] = field(default_factory=dict)
    receive_wait: float = 60.0
    # Called after a state-changing operation so an embedded runtime's pumps wake
    # at once (a no-op elsewhere).
    wake: Callable[[], None] = field(default=lambda: None)
    # What starts resolve through (machines, versions, aliases), kept a second.
    cache: CatalogCache = field(default_factory=CatalogCache)
    # `stepq dev --dev-identities`: trust the X-Stepq-Dev-User header (api/identity.py).
    dev_identities: bool = False
    # A request with no identity comes from the operator at this machine: true only
    # for a server bound to loopback (hosting/api_server.py), never in Lambda.
    # It may administer groups (api/groups.py).
    local_operator: bool = False
    # Where attachment bytes go (AttachFile): presigned S3 in AWS, the dev server's
    # signed URLs locally; None: attachments are not available.
    attachments: AttachmentUrls | None = None

    @classmethod
    def build(
        cls,
        orchestrator: Orchestrator,
        client: Client,
        queues: Queues,
        *,
        functions: Mapping[str, Any] | None = None,
        wake: Callable[[], None] | None = None,
    ) -> ApiContext:
        config = orchestrator.config
        return cls(
            store=orchestrator.store,
            queues=queues,
            clock=orchestrator.clock,
            orchestrator=orchestrator,
            client=client,
            arns=Arns(config.region, config.account),
            functions=dict(functions or {}),
            wake=wake or (lambda: None),
        )
