"""A TCP proxy in front of a network broker or sink that a test switches off and on
(``BrokerProxy``), and a broker URL pointed at it (``proxied_url``). Used by the running
stack (the web and the relay reach the broker through it), the fault tests and the
export sink tests."""

import socket
import struct
import threading
from urllib.parse import urlsplit, urlunsplit

from .processes import free_port


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
