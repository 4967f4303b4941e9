"""The three roles as real ``stepq worker --role ...`` processes, killed and restarted.

Each role runs in its own session (a Ctrl-C at the terminal reaches the
harness only, which then stops them) and, on Linux, dies with the harness
even if the harness itself is SIGKILLed (PR_SET_PDEATHSIG). A role that
exits without being killed is a finding: it is recorded with its exit status
and the tail of its log, then restarted.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROLES = ("orchestrator", "worker", "scheduler")
_PR_SET_PDEATHSIG = 1


def _find_prctl() -> Any:
    try:  # looked up here, before any fork: the child must not dlopen (other threads run)
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: roles are still stopped on exit
        return None


_PRCTL = _find_prctl()


def _die_with_parent() -> None:
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


def stepq_command() -> list[str]:
    beside = Path(sys.executable).parent / "stepq"
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-c", "from stepq.cli import main; main()"]


@dataclass
class Exit:
    role: str
    status: int
    log_tail: str


@dataclass
class Role:
    name: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0


@dataclass
class RoleSet:
    """Starts, kills and restarts the roles; must be driven from one thread (the
    parent-death signal follows the thread that forked)."""

    environ: dict[str, str]
    folder: Path
    functions: str
    interval: float = 1.0
    roles: dict[str, Role] = field(default_factory=dict)
    unexpected: list[Exit] = field(default_factory=list)

    def start_all(self) -> None:
        for name in ROLES:
            self.roles[name] = Role(name, self.folder / f"{name}.log")
            self._spawn(self.roles[name])

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until every role has printed that it runs; RuntimeError with the logs if not."""
        deadline = time.monotonic() + timeout
        waiting = set(self.roles)
        while waiting and time.monotonic() < deadline:
            for name in list(waiting):
                if "running against" in self.tail(name):
                    waiting.discard(name)
                elif self.roles[name].process.poll() is not None:  # type: ignore[union-attr]
                    raise RuntimeError(f"stepq {name} exited at start: {self.tail(name, 400)}")
            time.sleep(0.1)
        if waiting:
            raise RuntimeError(f"not running after {timeout:.0f}s: {', '.join(sorted(waiting))}")

    def _spawn(self, role: Role) -> None:
        role.starts += 1
        with role.log.open("ab") as sink:
            sink.write(f"--- start {role.starts}\n".encode())
            sink.flush()
            role.process = subprocess.Popen(
                [
                    *stepq_command(),
                    "worker",
                    "--role",
                    role.name,
                    "--functions",
                    self.functions,
                    "--interval",
                    str(self.interval),
                ],
                env=self.environ,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if _PRCTL is not None else None,
            )

    def kill(self, name: str) -> None:
        """SIGKILL ``name`` and start it again at once."""
        role = self.roles[name]
        if role.process is not None and role.process.poll() is None:
            role.process.kill()
            role.process.wait()
            role.kills += 1
        self._spawn(role)

    def check(self) -> list[Exit]:
        """Restart roles that exited on their own; what exited, newly."""
        found = []
        for role in self.roles.values():
            if role.process is None or role.process.poll() is None:
                continue
            found.append(Exit(role.name, role.process.returncode, self.tail(role.name)))
            self._spawn(role)
        self.unexpected.extend(found)
        return found

    def tail(self, name: str, chars: int = 1500) -> str:
        return self.roles[name].log.read_text(errors="replace")[-chars:]

    def stop_all(self, grace: float = 15.0) -> dict[str, float | None]:
        """SIGTERM every role; SIGKILL what is still up after ``grace`` s.
        Returns each role's status (None: it ignored SIGTERM and was killed)."""
        for role in self.roles.values():
            if role.process is not None and role.process.poll() is None:
                role.process.terminate()
        statuses: dict[str, float | None] = {}
        for role in self.roles.values():
            if role.process is None:
                continue
            try:
                statuses[role.name] = role.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                role.process.kill()
                role.process.wait()
                statuses[role.name] = None
        return statuses

    def kill_all(self) -> None:
        for role in self.roles.values():
            if role.process is not None and role.process.poll() is None:
                role.process.kill()
                with contextlib.suppress(Exception):
                    role.process.wait(timeout=5)
