"""One POST to a webhook target, made safely (urllib3).

The connection goes to the address ``targets.resolve`` checked (pinned), with the TLS
server name and certificate check on the host name; redirects are never followed (a
3xx is an answer like any other, and not a delivery); connect and read time out; at
most ``EXCERPT`` bytes of the answer are read.
"""

import time
from dataclasses import dataclass

import urllib3
from django.conf import settings

from .targets import Target

EXCERPT = 1024  # bytes of the answer kept in the attempt's log


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    excerpt: str
    duration_ms: int


class TransportError(Exception):
    """No answer: connection refused or reset, timeout, TLS failure."""

    def __init__(self, message: str, duration_ms: int) -> None:
        super().__init__(message)
        self.duration_ms = duration_ms


def _pool(target: Target) -> urllib3.HTTPConnectionPool:
    timeout = urllib3.Timeout(connect=settings.WEBHOOKS_CONNECT_TIMEOUT, read=settings.WEBHOOKS_READ_TIMEOUT)
    options = {"timeout": timeout, "retries": False, "maxsize": 1, "block": False}
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.WEBHOOKS_CA_BUNDLE or None,
            **options,
        )
    return urllib3.HTTPConnectionPool(target.address, target.port, **options)


def post(target: Target, body: bytes, headers: dict[str, str]) -> Answer:
    began = time.monotonic()
    pool = _pool(target)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={
                "Host": target.host_header,
                "Content-Type": "application/json",
                "User-Agent": "Orderflow-Webhooks/1",
                **headers,
            },
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            excerpt = response.read(EXCERPT, decode_content=False)
        finally:
            # Closed, not drained: the rest of a large answer is never read.
            response.close()
        return Answer(
            status=response.status,
            headers={k.lower(): v for k, v in response.headers.items()},
            excerpt=excerpt.decode("utf-8", errors="replace"),
            duration_ms=_ms(began),
        )
    except urllib3.exceptions.HTTPError as exc:
        raise TransportError(_describe(exc), _ms(began)) from exc
    finally:
        pool.close()


def _ms(began: float) -> int:
    return int((time.monotonic() - began) * 1000)


def _describe(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    return f"{type(exc).__name__}: {reason}"[:1000]
