"""``stepq`` as a process of its own, for the over-the-wire tests: the command that
starts it, and ``stepq worker --role ROLE`` running for the length of a block."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import stepq_test_servers as servers

SERVING = re.compile(r"serving (http://\S+)")  # what the api role prints once it listens


def stepq_command() -> list[str]:
    """The ``stepq`` beside this interpreter, else on PATH, else through ``-c``."""
    beside = Path(sys.executable).parent / "stepq"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("stepq")
    return [found] if found else [sys.executable, "-c", "from stepq.cli import main; main()"]


@contextmanager
def role_process(
    role: str, env: dict[str, str], log: Path, *more: str
) -> Iterator[Callable[[], str]]:
    """``stepq worker --role ROLE`` running until the block ends; yields its output."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*stepq_command(), "worker", "--role", role, "--create", *more],
            env=env,
            cwd=servers.REPO,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )

    def output() -> str:
        return log.read_text(errors="replace")

    try:
        deadline = time.monotonic() + 60
        while "running against" not in output():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"stepq {role} did not start:\n{output()[-3000:]}", pytrace=False)
            time.sleep(0.1)
        yield output
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
