"""What stands in front of the server, and which of a request's headers to believe.

``TRUSTED_PROXIES`` declares it (required when ``DEBUG`` is off):

* ``none``: clients connect directly. ``X-Forwarded-For``, ``X-Forwarded-Proto`` and
  their kin are a client's own words and are dropped: a client can neither make its
  request look secure nor pick its own throttle bucket.
* a count, e.g. ``1``: every connection comes through that many proxies (the server is
  not reachable otherwise), each appending the address it saw to ``X-Forwarded-For``.
  The client is the address that many hops back.
* addresses or networks, e.g. ``10.0.0.5, 10.0.1.0/24``: only a connection from one of
  them is a proxy; the client is the nearest address in ``X-Forwarded-For`` that is not
  one of them. A connection from anywhere else has its forwarding headers dropped.

``TrustedProxyMiddleware`` (first in the chain) applies it once for everything after
it: ``REMOTE_ADDR`` becomes the client's address (throttles, logs), and
``X-Forwarded-Proto`` reaches Django's ``SECURE_PROXY_SSL_HEADER`` only from a proxy,
as the nearest proxy's word. Django alone would believe that header from anyone.
"""

import ipaddress
from dataclasses import dataclass

from django.conf import settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The headers a proxy sets and a client could forge.
FORWARDING_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_REAL_IP",
    "HTTP_FORWARDED",
)

HOW = (
    "`none` when clients connect to this server directly (proxy headers are ignored), "
    "the number of proxies in front of it (e.g. 1 for one load balancer), or their "
    "addresses, comma-separated (e.g. 10.0.0.5,10.0.1.0/24)"
)


@dataclass(frozen=True)
class TrustedProxies:
    count: int = 0  # proxies in front, addresses not given
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, value: str) -> "TrustedProxies":
        """``none``, a count or addresses; ``ValueError`` saying what is wrong otherwise."""
        value = value.strip()
        if value.lower() == "none":
            return cls()
        if value.isdigit():
            if int(value) < 1:
                raise ValueError(f"TRUSTED_PROXIES={value!r}: a count of proxies is 1 or more; {HOW}")
            return cls(count=int(value))
        networks = []
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"TRUSTED_PROXIES: {item!r} is not an address or network; {HOW}") from None
        if not networks:
            raise ValueError(f"TRUSTED_PROXIES={value!r}: {HOW}")
        return cls(networks=tuple(networks))

    @property
    def direct(self) -> bool:
        return not self.count and not self.networks

    def is_proxy(self, address: str) -> bool:
        """Whether a connection from ``address`` comes from a declared proxy (never,
        for a direct deployment)."""
        if self.count:
            return True
        ip = _ip(address)
        return ip is not None and any(ip in network for network in self.networks)

    def client_address(self, remote_addr: str, forwarded_for: str) -> str:
        """The client's address, for a connection from a proxy (``is_proxy``)."""
        chain = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()] + [remote_addr]
        if self.count:
            client = chain[max(len(chain) - 1 - self.count, 0)]
        else:
            client = next((hop for hop in reversed(chain) if not self.is_proxy(hop)), chain[0])
        # A hop a proxy wrote is an address; anything else means a misbehaving proxy,
        # and the connection's own address is the safer bucket.
        return client if _ip(client) is not None else remote_addr


def _ip(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class TrustedProxyMiddleware:
    """Believe forwarding headers only from the declared proxies (see the module)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.proxies = TrustedProxies.parse(settings.TRUSTED_PROXIES)

    def __call__(self, request):
        meta = request.META
        remote_addr = meta.get("REMOTE_ADDR", "")
        forwarded = {header: meta.pop(header) for header in FORWARDING_HEADERS if header in meta}
        if self.proxies.is_proxy(remote_addr):
            meta["REMOTE_ADDR"] = self.proxies.client_address(remote_addr, forwarded.get("HTTP_X_FORWARDED_FOR", ""))
            # The nearest proxy's word (the last value): an earlier one may be the client's.
            proto = forwarded.get("HTTP_X_FORWARDED_PROTO", "").rsplit(",", 1)[-1].strip().lower()
            if proto:
                meta["HTTP_X_FORWARDED_PROTO"] = proto
        return self.get_response(request)
