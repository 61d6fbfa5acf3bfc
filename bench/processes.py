"""The production shape as subprocesses: web, worker, relay, beat and the SMTP sink.

Each process runs in a session of its own with its output in ``<run dir>/logs/<name>.log``.
They are stopped with SIGTERM (a warm shutdown: gunicorn and Celery stop their own
children) and then SIGKILL to whatever is left of the process group; should the bench
itself be killed, the kernel kills them with it (PR_SET_PDEATHSIG), so no server
outlives a run.
"""

import contextlib
import ctypes
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .environment import ROOT
from .smtp_sink import READY_LINE as SMTP_READY_LINE

PYTHON = sys.executable
CELERY = [PYTHON, "-m", "celery", "-A", "project"]
WEB_OPTIONS = ["--no-control-socket", "--timeout=60", "--log-level=warning"]
# Nothing to gain from talking to other workers: gossip, mingle and heartbeats only
# slow the start and cost CPU.
WORKER_OPTIONS = ["-l", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat"]
BEAT_OPTIONS = ["-l", "warning", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"]
START_TIMEOUT = 60.0  # seconds for a process to become ready

# Looked up once, here: the child calls it between fork and exec, where loading a
# library could deadlock on the loader's lock.
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ProcessDied(RuntimeError):
    pass


class Proc:
    """One subprocess and its log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.args = args
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self._log_start = self._log.tell()
        self._terminated = False
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def kill(self) -> None:
        """SIGKILL to the whole process group, at once."""
        try:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
        finally:
            self._log.close()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        """What this process wrote (a restarted one appends to its predecessor's file)."""
        with self.log_path.open("rb") as f:
            f.seek(self._log_start)
            return f.read().decode(errors="replace")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def terminate(self) -> None:
        """Ask it once to stop (SIGTERM: a warm shutdown); ``stop`` waits for it."""
        if self.alive() and not self._terminated:
            self._terminated = True
            self.popen.terminate()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, up to ``timeout`` seconds for it to exit, then SIGKILL to whatever is
        left of its process group (prefork children, gunicorn workers)."""
        try:
            self.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
        finally:
            self._log.close()


# The web server's application: WSGI (gunicorn sync workers) or, as the Procfile runs
# it, ASGI (gunicorn with uvicorn workers: the REST API and the live streams).
WEB_APPLICATIONS = {
    "wsgi": ["project.wsgi:application"],
    "asgi": ["project.asgi:application", "--worker-class=uvicorn_worker.UvicornWorker"],
}


@dataclass
class StackOptions:
    web_workers: int = 4
    web: str = "wsgi"
    worker_concurrency: int = 2
    relay_interval: float = 0.2
    # The processes that work behind the API (worker, relay, beat) run at this nice
    # level: on one machine with the web server they take the CPU the requests leave,
    # as background work should; on machines of their own (production) the question
    # does not arise. 0: the same priority as the web server.
    pipeline_nice: int = 10


@dataclass
class Stack:
    """The running system. ``start`` brings every process up; ``stop`` takes them all down."""

    env: dict[str, str]
    run_dir: Path
    web_port: int
    smtp_port: int
    options: StackOptions
    procs: dict[str, Proc] = field(default_factory=dict)
    worker_concurrency: int | None = None  # of the worker running now; None: stopped
    worker_node: str = ""  # its Celery node name, unique per start (pings name it)
    _worker_names: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def mail_file(self) -> Path:
        return self.run_dir / "mail-ids.txt"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    def start(self) -> None:
        """Start every process without waiting for it (``wait_ready`` does)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._start("smtp", [PYTHON, "-m", "bench.smtp_sink", f"--port={self.smtp_port}", f"--out={self.mail_file}"])
        web = [f"--bind=127.0.0.1:{self.web_port}", f"--workers={self.options.web_workers}", *WEB_OPTIONS]
        self._start("web", [PYTHON, "-m", "gunicorn", *WEB_APPLICATIONS[self.options.web], *web])
        self.start_worker(self.options.worker_concurrency, wait=False)
        interval = f"{self.options.relay_interval:g}"
        self._start("relay", [*self._behind, PYTHON, "manage.py", "relay_events", "--loop", "--interval", interval])
        self._start("beat", [*self._behind, *CELERY, "beat", *BEAT_OPTIONS, f"--pidfile={self.run_dir / 'beat.pid'}"])

    def wait_ready(self) -> None:
        self._wait(lambda: SMTP_READY_LINE in self.procs["smtp"].output(), "the SMTP sink to listen")
        self._wait(lambda: _http_ok(f"{self.base_url}/healthz"), "gunicorn to answer /healthz")
        self._wait(lambda: "relay: every" in self.procs["relay"].output(), "the relay's start line")
        self.wait_worker()

    def start_worker(self, concurrency: int, *, wait: bool = True) -> None:
        name = f"bench-{next(self._worker_names)}@{socket.gethostname()}"
        self._start(
            "worker",
            [*self._behind, *CELERY, "worker", f"--concurrency={concurrency}", *WORKER_OPTIONS, f"--hostname={name}"],
        )
        self.worker_node = name
        self.worker_concurrency = concurrency
        if wait:
            self.wait_worker()

    def wait_worker(self) -> None:
        """Until the worker answers a ping: it is consuming its queues."""
        from project.celery import app

        node = self.worker_node
        self._wait(lambda: app.control.ping(destination=[node], timeout=0.5), f"worker {node} to answer a ping")

    def stop_worker(self) -> None:
        """Killed, not shut down: the bench stops the worker only when nothing is in
        flight or when it gives the backlog up (a task cut short rolls back, its
        message, never acked, is purged next), and even a cold shutdown takes seconds."""
        if "worker" in self.procs:
            self.procs.pop("worker").kill()
        self.worker_concurrency = None

    def ensure_worker(self, concurrency: int) -> None:
        """A worker of this concurrency, running and ready."""
        if self.worker_concurrency != concurrency:
            self.stop_worker()
            self.start_worker(concurrency)

    def check_alive(self) -> None:
        for proc in self.procs.values():
            if not proc.alive():
                raise ProcessDied(f"{proc.name} exited with {proc.popen.returncode}; its log:\n{proc.tail()}")

    def stop(self) -> None:
        """Stop every process: the worker killed (the run is over: nothing it could
        finish matters, and its warm shutdown takes seconds), the others asked at once
        (their shutdowns overlap), then each waited for on its own, so one that fails
        leaves no other running."""
        self.stop_worker()
        procs, self.procs = list(self.procs.values()), {}
        for proc in procs:
            with contextlib.suppress(OSError):
                proc.terminate()
        with contextlib.ExitStack() as stopping:
            for proc in procs:
                stopping.callback(proc.stop)

    # The processes that work behind the API.
    PIPELINE = ("worker", "relay", "beat")

    @contextlib.contextmanager
    def pipeline_paused(self):
        """The worker, the relay and beat stopped (SIGSTOP) for the block and continued
        after (SIGCONT): orders are taken and committed meanwhile, their events wait in
        the outbox, and the pipeline takes them up where it stopped."""
        groups = [self.procs[name].popen.pid for name in self.PIPELINE if name in self.procs]
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGSTOP)
        try:
            yield
        finally:
            for group in groups:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGCONT)

    @property
    def _behind(self) -> list[str]:
        """The command prefix of a process that works behind the API."""
        return ["nice", "-n", str(self.options.pipeline_nice)] if self.options.pipeline_nice else []

    def _start(self, name: str, args: list[str]) -> None:
        self.procs[name] = Proc(name, args, self.env, self.log_dir)

    def _wait(self, condition: Callable[[], object], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not condition():
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {START_TIMEOUT:.0f}s waiting for {what}")
            time.sleep(0.1)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
