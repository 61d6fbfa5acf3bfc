"""Subprocesses that die with the test process (``Proc``: own process group, output in a
log file, warm stop or SIGKILL) and loopback ports (``free_port``, ``closed_port``).
Used by the running stack (``tests.testkit.stack``), the broker proxy, the webhook
receivers and the export sink tests."""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A loopback port where nothing listens (connections are refused)."""
    return free_port()


# Looked up once, here: the child calls it between fork and exec, where loading a
# library (taking the loader's lock, which another thread may hold) could deadlock.
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def _die_with_parent() -> None:
    """In the child before exec: be killed if the test process dies without cleaning up
    (SIGKILL, a CI timeout), so no worker or server outlives the run."""
    with contextlib.suppress(Exception):
        _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Proc:
    """A subprocess in its own process group, its output in a log file (appended to, so
    a restarted process keeps its predecessors' lines)."""

    def __init__(self, name: str, args: list[str], env: dict, log_path: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - kept open for the life of the process
        self._log_start = self._log.tell()
        self.popen = subprocess.Popen(
            args,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        """What this process wrote (not what an earlier one in the same file did)."""
        with open(self.log_path, "rb") as f:
            f.seek(self._log_start)
            return f.read().decode(errors="replace")

    def all_logs(self) -> str:
        """The whole file: this process's and its predecessors' output."""
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL to the whole process group, as a machine losing the process would."""
        try:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
        finally:
            self._log.close()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the process (a warm shutdown: it stops its own children), then
        SIGKILL to whatever is left of its process group."""
        try:
            if self.alive():
                self.popen.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout)
            # Whatever is left of the group (prefork children, gunicorn workers).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)
        finally:
            self._log.close()
