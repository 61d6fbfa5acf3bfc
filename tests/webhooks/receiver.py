"""A webhook receiver on loopback for the tests: a real HTTP server (stdlib, one thread
per request) that verifies every delivery with the ``standardwebhooks`` library, an
independent implementation of the specification, not Orderflow's code.

``Receiver(secrets=[...])`` answers each request with the next of ``answers`` (the last
one repeated), records what it got (``received``) and whether each secret verified it.
``stop()`` closes the port (connections are refused) and ``start()`` opens it again on
the same port: a receiver that is down for a while.
"""

import contextlib
import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.testkit.processes import free_port


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b"ok"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: tuple[bool, ...]  # one per secret of the receiver, in order

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def envelope(self) -> dict:
        return json.loads(self.body)


def verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


class Receiver:
    def __init__(
        self,
        secrets: list[str] | None = None,
        answers: list[Answer] | None = None,
        port: int | None = None,
        tls: tuple[str, str] | None = None,  # (certificate, key) PEM files: serve https
        host: str = "127.0.0.1",  # the name in the URL
    ):
        self.tls = tls
        self.host = host
        self.secrets = list(secrets or [])
        self.answers = list(answers or [Answer()])
        self.port = port or free_port()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/hooks"

    def _next_answer(self) -> Answer:
        with self._lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def _record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver._record(
                    Received(self.path, headers, body, tuple(verifies(s, body, headers) for s in receiver.secrets))
                )
                answer = receiver._next_answer()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def ids(self) -> list[str]:
        with self._lock:
            return [r.webhook_id for r in self.received]

    def all(self) -> list[Received]:
        with self._lock:
            return list(self.received)


@contextlib.contextmanager
def receiving(secrets=None, answers=None):
    receiver = Receiver(secrets, answers).start()
    try:
        yield receiver
    finally:
        receiver.stop()
