"""``python -m stepq.cli``: the ``stepq`` command without the console script."""

from stepq.cli import main

main()
