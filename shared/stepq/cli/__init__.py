"""The ``stepq`` command (typer): ``run``, ``validate``, ``worker``, ``conformance``, ``ops``, ``bench``.

``commands.py`` defines them; ``render.py`` prints timelines and outcomes.
Each command imports what it needs when it runs, so ``stepq --help`` is quick.
"""

from stepq.cli.commands import app, main

__all__ = ["app", "main"]
