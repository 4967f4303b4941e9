"""The ``stepq`` command (typer).

- ``app.py``          the typer app, its consoles, ``--version``, one-line failures
- ``commands.py``     ``run``, ``validate``, ``worker``, ``dev``, ``conformance``
- ``ops_commands.py`` ``ops stuck``, ``ops reconcile``, ``ops dlq list|redrive`` (a deployment or an API)
- ``bench_commands.py`` ``bench cost|flat|throughput|lateness``
- ``api_commands.py`` the client of the API: ``create``, ``update``, ``start``, ``describe``,
  ``list``, ``machines``, ``history``, ``stop``, ``redrive``
- ``machines_sync.py`` ``machines sync DIR``: create or update every ``*.asl.json`` through the API
- ``task_commands.py`` ``send-task-success|failure|heartbeat``
- ``people_commands.py`` ``groups ...``, ``whoami``, ``tasks ...``, ``request create`` (docs/PEOPLE.md)
- ``process_commands.py`` ``process compile|deploy FILE``: a process definition (YAML) as ASL
- ``api_client.py``   boto3's ``stepfunctions`` client pointed at ``--api-url`` (signed for
  ``execute-api`` when the URL is not loopback), stepq's own operations
- ``listing.py``      ``list``: ListExecutions, or stepq's SearchExecutions when filters need it
- ``deployment.py``   ``worker``/``ops`` settings in one line when bad, quick-failing clients
- ``graph.py``        Mermaid, DOT and SVG of a definition and an execution's path
- ``graph_command.py`` the ``graph`` command
- ``console_command.py`` ``console --api-url URL``: the web console, its API calls signed here
- ``callbacks.py``    what ``stepq run`` does for tasks waiting for a token
- ``functions.py``    ``functions``: the step functions a module registers
- ``render.py``       timelines and outcomes

Each command imports what it needs when it runs, so ``stepq --help`` is quick.
"""

from stepq.cli import (  # noqa: F401  (each registers its commands)
    api_commands,
    bench_commands,
    commands,
    console_command,
    functions,
    graph_command,
    ops_commands,
    people_commands,
    process_commands,
    task_commands,
)
from stepq.cli.app import app, main

__all__ = ["app", "main"]
