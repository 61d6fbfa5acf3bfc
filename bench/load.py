"""The load driver: raw HTTP/1.1 from asyncio, cheap enough to share two cores with
the server it measures.

Requests are encoded once, before a run (``RequestPool``), and handed out round
robin; a response is parsed no further than its status line, its ``Content-Length``
and whether the server keeps the connection open. Connections are kept alive when the
server allows it; gunicorn's sync workers close every connection after one response
(they are meant to sit behind a proxy), so against them every request pays for a new
TCP connection, as any client of that server does.

Two modes:

* ``closed_loop``: C connections, each sending its next request as soon as the last
  one is answered, for D seconds after a warm-up. What the server can take at most
  (peak req/s); latency there mostly measures the queue the loop itself builds.
* ``open_loop``: requests scheduled at ``t0 + i / rate`` whatever the answers, on as
  many connections as it takes (a new one opened whenever all are busy, up to a
  bound). Latency is measured from the *scheduled* time, so a server that stalls
  is charged for every request that should have gone out meanwhile (no coordinated
  omission); a request that goes out more than ``LATE_AFTER`` seconds after its time
  (the driver or the connection bound fell behind) is counted as late.

Every answer's status is counted; anything but 201 is reported by the sections.
"""

import asyncio
import functools
import itertools
import socket
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field

from .stats import latency_summary

LATE_AFTER = 0.010  # seconds after its scheduled time that a request counts as sent late
MAX_CONNECTIONS = 2000  # open loop: the most requests in flight at once
DRAIN_TIMEOUT = 60.0  # seconds to wait for the answers still due when a run's time is up
CONNECTION_ERROR = "connection error"
TIMEOUT = "no answer"


def post(path: str, body: bytes, *, token: str, host: str) -> bytes:
    """One encoded ``POST`` with a JSON body and an API token."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Token {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


class RequestPool:
    """Pre-encoded requests, handed out round robin."""

    def __init__(self, requests: list[bytes]) -> None:
        if not requests:
            raise ValueError("a request pool needs at least one request")
        self.size = len(requests)
        self._next = itertools.cycle(requests).__next__

    def next(self) -> bytes:
        return self._next()


@dataclass
class Result:
    """What one run of the driver saw."""

    mode: str  # "closed" or "open"
    seconds: float  # the measured window: throughput is completed / seconds
    offered_rate: float | None = None  # open loop: requests per second scheduled
    connections: int | None = None  # closed loop
    statuses: Counter = field(default_factory=Counter)  # "201", "400", ..., CONNECTION_ERROR, TIMEOUT
    latencies: array = field(default_factory=lambda: array("d"))  # seconds, answered requests
    late: int = 0  # open loop: requests sent more than LATE_AFTER after their time
    max_in_flight: int = 0
    driver_cpu: float = 0.0  # the bench process's CPU seconds per wall second meanwhile (1.0: one core)

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        """Answers per second over the measured window."""
        return self.completed / self.seconds if self.seconds > 0 else 0.0

    def errors(self, expected: str = "201") -> dict[str, int]:
        return {status: n for status, n in sorted(self.statuses.items()) if status != expected}

    def summary(self) -> dict:
        return {
            "mode": self.mode,
            "offered_rate": self.offered_rate,
            "connections": self.connections,
            "seconds": self.seconds,
            "completed": self.completed,
            "rate": self.rate,
            **latency_summary(self.latencies),
            "statuses": dict(sorted(self.statuses.items())),
            "late": self.late,
            "max_in_flight": self.max_in_flight,
            "driver_cpu": self.driver_cpu,
        }


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buffer = bytearray()
        self._waiter: asyncio.Future | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._complete(at_eof=False)

    def eof_received(self):
        self._complete(at_eof=True)
        return False  # close the transport

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError(f"connection closed before the answer: {exc}"))

    def request(self, data: bytes) -> asyncio.Future:
        """Send ``data``; the future gives ``(status, keep_alive)``."""
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _complete(self, *, at_eof: bool) -> None:
        if self._waiter is None or self._waiter.done():
            return
        parsed = _parse_response(self._buffer, at_eof=at_eof)
        if parsed is not None:
            status, keep_alive, consumed = parsed
            del self._buffer[:consumed]
            self._waiter.set_result((status, keep_alive and not at_eof))


def _parse_response(buffer: bytearray, *, at_eof: bool) -> tuple[int, bool, int] | None:
    """``(status, keep_alive, bytes consumed)`` once a whole response is in ``buffer``."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).lower()
    status = int(head[9:12])
    keep_alive = b"\r\nconnection: close" not in head
    body_start = end + 4
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        line_end = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : line_end if line_end >= 0 else len(head)])
        return (status, keep_alive, body_start + length) if len(buffer) >= body_start + length else None
    if b"\r\ntransfer-encoding: chunked" in head:
        return (status, keep_alive, len(buffer)) if buffer.endswith(b"0\r\n\r\n") else None
    return (status, False, len(buffer)) if at_eof else None  # the body runs to the end of the connection


async def _connect(host: str, port: int) -> _Connection:
    _, connection = await asyncio.get_running_loop().create_connection(_Connection, host, port)
    return connection


async def _exchange(connection: _Connection | None, host: str, port: int, request: bytes):
    """Send one request (on a new connection if ``connection`` is gone); returns the
    status (or an error word) and the connection if it may be used again."""
    try:
        if connection is None or connection.closed:
            connection = await _connect(host, port)
        status, keep_alive = await connection.request(request)
    except (OSError, ConnectionError):
        if connection is not None:
            connection.close()
        return CONNECTION_ERROR, None
    if not keep_alive:
        connection.close()
        return str(status), None
    return str(status), connection


def _metered(run):
    """Record on the ``Result`` of ``run`` how much CPU the bench process used while it
    ran: the driver shares the machine with the server it measures, and the report
    shows what it took."""

    @functools.wraps(run)
    async def metered(*args, **kwargs) -> Result:
        cpu, wall = time.process_time(), time.monotonic()
        result = await run(*args, **kwargs)
        result.driver_cpu = (time.process_time() - cpu) / max(time.monotonic() - wall, 1e-9)
        return result

    return metered


@_metered
async def closed_loop(
    host: str,
    port: int,
    pool: RequestPool,
    *,
    connections: int,
    seconds: float,
    warmup: float = 0.0,
    min_answers: int = 1,
) -> Result:
    """``connections`` clients back to back for ``warmup`` + ``seconds``; the answers
    that arrive within the measured window are counted, with their latency. The window
    is ``seconds`` long, or longer when fewer than ``min_answers`` answers arrived in it
    (a server slower than the window is short): then it ends with that answer."""
    loop = asyncio.get_running_loop()
    start = loop.time() + warmup
    end = start + seconds
    result = Result(mode="closed", seconds=seconds, connections=connections)
    last_answer = end

    async def client() -> None:
        nonlocal last_answer
        connection = None
        while (sent := loop.time()) < end or sum(result.statuses.values()) < min_answers:
            status, connection = await _exchange(connection, host, port, pool.next())
            answered = loop.time()
            if answered >= start and (answered <= end or sum(result.statuses.values()) < min_answers):
                last_answer = max(last_answer, answered)
                result.statuses[status] += 1
                if status != CONNECTION_ERROR:
                    result.latencies.append(answered - sent)
        if connection is not None:
            connection.close()

    clients = [loop.create_task(client()) for _ in range(connections)]
    _, pending = await asyncio.wait(clients, timeout=warmup + seconds + DRAIN_TIMEOUT)
    for task in pending:
        task.cancel()
        result.statuses[TIMEOUT] += 1
    result.seconds = last_answer - start
    result.max_in_flight = connections
    return result


@_metered
async def place(host: str, port: int, pool: RequestPool, *, count: int, connections: int) -> Result:
    """Send exactly ``count`` requests on ``connections`` clients back to back (to
    preload a backlog); the window is the time it took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = Result(mode="count", seconds=0.0, connections=connections)
    remaining = count

    async def client() -> None:
        nonlocal remaining
        connection = None
        while remaining > 0:
            remaining -= 1
            sent = loop.time()
            status, connection = await _exchange(connection, host, port, pool.next())
            result.statuses[status] += 1
            if status != CONNECTION_ERROR:
                result.latencies.append(loop.time() - sent)
        if connection is not None:
            connection.close()

    await asyncio.gather(*(client() for _ in range(min(connections, count))))
    result.seconds = loop.time() - started
    return result


@_metered
async def open_loop(
    host: str, port: int, pool: RequestPool, *, rate: float, seconds: float, stop: asyncio.Event | None = None
) -> Result:
    """``rate`` requests per second for ``seconds``, on schedule whatever the answers
    (or until ``stop`` is set: no request is scheduled after that).

    The measured window runs from the first scheduled time to the last answer (or to
    the end of the schedule, if that is later), so a server that falls behind shows an
    achieved rate below the offered one, and one that keeps up shows the offered rate."""
    if rate <= 0:
        raise ValueError(f"an open loop needs a positive rate, not {rate}")
    loop = asyncio.get_running_loop()
    count = max(1, round(rate * seconds))
    result = Result(mode="open", seconds=seconds, offered_rate=rate)
    idle: list[_Connection] = []
    slots = asyncio.Semaphore(MAX_CONNECTIONS)
    in_flight = 0
    last_answer = loop.time()

    async def one(scheduled: float, request: bytes) -> None:
        nonlocal in_flight, last_answer
        async with slots:
            if loop.time() - scheduled > LATE_AFTER:
                result.late += 1
            in_flight += 1
            result.max_in_flight = max(result.max_in_flight, in_flight)
            status, connection = await _exchange(idle.pop() if idle else None, host, port, request)
            in_flight -= 1
            last_answer = loop.time()
            result.statuses[status] += 1
            if status != CONNECTION_ERROR:
                result.latencies.append(last_answer - scheduled)
            if connection is not None:
                idle.append(connection)

    t0 = loop.time() + 0.01
    tasks = []
    while len(tasks) < count and not (stop is not None and stop.is_set()):
        scheduled = t0 + len(tasks) / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(scheduled, pool.next())))
    _, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT) if tasks else (set(), set())
    for task in pending:
        task.cancel()
        result.statuses[TIMEOUT] += 1
    for connection in idle:
        connection.close()
    result.seconds = max(last_answer - t0, len(tasks) / rate)
    return result
