"""The parts of the end-to-end harness: SMTP sink, broker proxy, subprocesses, the
running stack, API client. Used by tests/e2e, tests/faults and scripts/soak.py.

``running_stack`` puts them together:

* an SMTP server (aiosmtpd) on a free 127.0.0.1 port that keeps every message;
* for a network broker (RabbitMQ, Redis), a TCP proxy in front of it that a test can
  switch off and on: the web and the relay reach the broker through it, the worker
  does not, so a test can take the broker away from the API alone;
* ``celery -A project worker`` as a subprocess on the real broker, its queues purged
  first;
* gunicorn serving ``project.wsgi`` as a subprocess (or, with ``web="asgi"``,
  ``project.asgi`` on uvicorn workers, as the Procfile does: the live order streams);
* ``manage.py relay_events --loop --interval 0.5``: the shipped relay process, every
  half second.

Every subprocess gets the current database connection's database (the test database
under pytest), the broker, var dir and sandbox gateway ledger of this process, and the
SMTP server; the web process plain HTTP and throttle limits no test reaches. They are
stopped with SIGTERM (a warm shutdown), then SIGKILL to what is left of each process
group; should this process die first, the kernel kills them with it.
"""

import contextlib
import ctypes
import email
import email.message
import email.policy
import itertools
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

from tests.conftest import purge_queues

BASE_DIR = Path(settings.BASE_DIR)
WAIT = 60.0  # seconds: the bound on every wait for an outcome
DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671, "pyamqp": 5672, "redis": 6379, "rediss": 6379}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- SMTP ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: email.message.EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()


class SmtpSink:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mails: list[Mail] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self._mails.append(Mail(envelope.mail_from, tuple(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Mail]:
        with self._lock:
            return [m for m in self._mails if address in m.rcpt_tos]

    def all(self) -> list[Mail]:
        with self._lock:
            return list(self._mails)


# --- Broker proxy ------------------------------------------------------------------------
class BrokerProxy:
    """A TCP proxy on 127.0.0.1 in front of the broker.

    ``off()`` stops listening (connections are refused) and resets every open
    connection, as a broker that went away would; ``on()`` listens again on the same
    port.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._accepting = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def is_on(self) -> bool:
        return self._listener is not None

    def on(self) -> None:
        if self.is_on:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(0.1)
        self._listener = listener
        self._accepting.set()
        self._thread = threading.Thread(target=self._accept_loop, args=(listener,), name="broker-proxy", daemon=True)
        self._thread.start()

    def off(self) -> None:
        if not self.is_on:
            return
        self._accepting.clear()
        self._thread.join(timeout=5)
        self._listener.close()
        self._listener = None
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            _reset(conn)

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._accepting.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._conns.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with self._lock:
                    self._conns.discard(s)
                _reset(s)


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN: the peer sees the connection die at once."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def proxied_url(url: str, port: int) -> str:
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


# --- Subprocesses -----------------------------------------------------------------------
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


@dataclass
class Stack:
    base_url: str
    broker_url: str
    smtp: SmtpSink
    proxy: BrokerProxy | None
    worker: Proc | None = None
    web: Proc | None = None
    relay: Proc | None = None
    procs: list[Proc] = field(default_factory=list)

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} ({p.log_path}) -----\n{p.tail()}" for p in self.procs)

    def check_alive(self) -> None:
        for p in self.procs:
            if not p.alive():
                raise AssertionError(f"{p.name} exited with {p.popen.returncode}\n{self.logs()}")

    def wait_for(self, condition, what: str, timeout: float = WAIT, interval: float = 0.2):
        """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            self.check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{self.logs()}")
            time.sleep(interval)

    def start(self, name: str, args: list[str], env: dict, log_dir: Path) -> Proc:
        proc = Proc(name, args, env, log_dir / f"{name}.log")
        self.procs.append(proc)
        return proc

    def restart(self, role: str, *, kill: bool = False, env: dict | None = None, args: list[str] | None = None) -> Proc:
        """Stop the ``role`` process ("worker", "web", "relay") — SIGKILL to its whole
        group with ``kill``, a warm stop otherwise — and start it again: with ``args``
        or the same command, its environment changed by ``env`` (a None value removes
        a variable). Returns once it is ready."""
        old = getattr(self, role)
        old.kill() if kill else old.stop()
        new_env = {**old.env, **(env or {})}
        new_env = {k: v for k, v in new_env.items() if v is not None}
        new = Proc(old.name, args or old.args, new_env, old.log_path)
        self.procs[self.procs.index(old)] = new
        setattr(self, role, new)
        self.wait_ready(role)
        return new

    def wait_ready(self, role: str) -> None:
        proc = getattr(self, role)
        if role == "worker":
            self.wait_for(lambda: " ready." in proc.log(), "the worker's 'ready.' in its log")
        elif role == "web":
            self.wait_for(lambda: http_ok(f"{self.base_url}/healthz"), "the web process to answer on /healthz")
        else:
            self.wait_for(lambda: "relay: every" in proc.log(), "the relay's start line in its log")


def subprocess_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = quote(db["USER"] or "", safe="")
        if db.get("PASSWORD"):
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = db.get("HOST") or "127.0.0.1"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"
    raise RuntimeError(f"e2e tests do not know how to hand {db['ENGINE']} to a subprocess")


def http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


# --- The running stack -------------------------------------------------------------------
# Nothing to gain from talking to other workers in a test; it only slows the start.
WORKER_OPTIONS = [f"--hostname=e2e-{os.getpid()}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"]
WEB_OPTIONS = ["--workers=2", "--timeout=30", "--no-control-socket"]
WEB_APPS = {
    "wsgi": ["project.wsgi"],
    # The Procfile's web process: the whole API, REST and streams, on uvicorn workers.
    "asgi": ["project.asgi", "--worker-class=uvicorn_worker.UvicornWorker"],
}
STACK_ENV = {
    # Short retry backoff, so recoveries happen within a test's waits.
    "EVENTS_RETRY_BACKOFF_BASE": "0.2",
    "LOG_LEVEL": "INFO",
    # DEBUG stays off, as in production: the test process's SECRET_KEY (pytest-env)
    # comes with os.environ, and the stack is spoken to in plain HTTP.
    "SECURE_SSL_REDIRECT": "false",
    # Every customer signs up from 127.0.0.1: limits for a crowd, not for one client.
    **{name: "100000/min" for name in ("THROTTLE_ANON", "THROTTLE_USER", "THROTTLE_ORDERS", "THROTTLE_AUTH")},
}


@contextlib.contextmanager
def running_stack(logs: Path, extra_env: dict[str, str] | None = None, web: str = "wsgi") -> Iterator[Stack]:
    """Start SMTP sink, broker proxy, worker, web server and relay (logs in ``logs``,
    emptied first); stop them all on the way out. ``extra_env`` is added to STACK_ENV
    for every process; ``web`` says which application gunicorn serves (``WEB_APPS``)."""
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    broker_url = settings.CELERY_BROKER_URL
    parts = urlsplit(broker_url)
    proxy = None
    web_broker_url = broker_url
    if parts.scheme in DEFAULT_PORTS:
        proxy = BrokerProxy((parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORTS[parts.scheme]))
        proxy.on()
        web_broker_url = proxied_url(broker_url, proxy.port)

    smtp = SmtpSink()
    controller = Controller(smtp, hostname="127.0.0.1", port=free_port())
    controller.start()

    process_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": subprocess_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "ORDERFLOW_VAR_DIR": str(Path(settings.VAR_DIR).resolve()),
        "SANDBOX_GATEWAY_DB": str(Path(settings.SANDBOX_GATEWAY_DB).resolve()),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(controller.port),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        **STACK_ENV,
        **(extra_env or {}),
    }
    web_env = {**process_env, "CELERY_BROKER_URL": web_broker_url}
    port = free_port()
    stack = Stack(base_url=f"http://127.0.0.1:{port}", broker_url=broker_url, smtp=smtp, proxy=proxy)
    python = sys.executable
    try:
        purge_queues()
        stack.worker = stack.start(
            "worker",
            [python, "-m", "celery", "-A", "project", "worker", "-l", "info", "--concurrency=2", *WORKER_OPTIONS],
            process_env,
            logs,
        )
        stack.web = stack.start(
            "web",
            [python, "-m", "gunicorn", *WEB_APPS[web], f"--bind=127.0.0.1:{port}", *WEB_OPTIONS],
            web_env,
            logs,
        )
        stack.relay = stack.start(
            "relay", [python, "manage.py", "relay_events", "--loop", "--interval", "0.5"], web_env, logs
        )
        for role in ("worker", "web", "relay"):
            stack.wait_ready(role)
        yield stack
    finally:
        # Each stop on its own: one that fails must not leave the others running.
        with contextlib.ExitStack() as stopping:
            if proxy is not None:
                stopping.callback(proxy.off)
            stopping.callback(controller.stop)
            for proc in stack.procs:
                stopping.callback(proc.stop)


# --- The customer's side ---------------------------------------------------------------
class Api:
    """A customer of the shop, talking HTTP to the web process."""

    _seq = itertools.count(1)

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.session = requests.Session()
        self.username = ""
        self.email = ""

    def url(self, path: str) -> str:
        return f"{self.stack.base_url}/api/v1/{path.lstrip('/')}"

    def get(self, path: str, expect: int = 200) -> dict:
        response = self.session.get(self.url(path), timeout=30)
        assert response.status_code == expect, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def post(self, path: str, body: dict | None = None, expect: int = 200) -> dict:
        response = self.session.post(self.url(path), json=body, timeout=30)
        assert response.status_code == expect, f"POST {path}: {response.status_code} {response.text}"
        return response.json()

    def sign_up(self) -> "Api":
        n = next(self._seq)
        self.username = f"e2e-{os.getpid()}-{int(time.time() * 1000)}-{n}"
        self.email = f"{self.username}@example.test"
        password = "a long e2e passphrase 42"
        user = self.post(
            "auth/register", {"username": self.username, "email": self.email, "password": password}, expect=201
        )
        assert user["username"] == self.username
        token = self.post("auth/token", {"username": self.username, "password": password})["token"]
        self.session.headers["Authorization"] = f"Token {token}"
        return self

    def product(self, sku: str) -> dict:
        return self.get(f"products/{sku}")

    def place_order(self, items: dict[str, int], token: str = "tok_ok") -> dict:
        body = {"items": [{"sku": s, "quantity": q} for s, q in items.items()], "payment_token": token}
        order = self.post("orders", body, expect=201)
        assert order["status"] == "pending"
        return order

    def order(self, order_id: int) -> dict:
        return self.get(f"orders/{order_id}")

    def timeline(self, order_id: int) -> list[str]:
        return [e["type"] for e in self.get(f"orders/{order_id}/events")["results"]]

    def points(self) -> list[dict]:
        return self.get("me/points")["results"]

    def notifications(self) -> list[dict]:
        return self.get("notifications")["results"]

    def mails(self) -> list[Mail]:
        return self.stack.smtp.to(self.email)

    def wait_status(self, order_id: int, status: str) -> dict:
        return self.stack.wait_for(
            lambda: (o := self.order(order_id))["status"] == status and o, f"order #{order_id} to be {status}"
        )


def settled(stream: str | None = None) -> bool:
    """Every event (of ``stream``) dispatched and every handler run on it finished."""
    from events.models import Event, HandlerRun

    events = Event.objects.all()
    runs = HandlerRun.objects.filter(status__in=HandlerRun.OPEN)
    if stream:
        events, runs = events.filter(stream=stream), runs.filter(event__stream=stream)
    return not events.filter(dispatched_at=None).exists() and not runs.exists()
