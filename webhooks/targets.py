"""Where a webhook may be sent (SSRF defence).

A target must be ``https`` on a host whose every address is public: no loopback,
private, link-local (the cloud metadata service at 169.254.169.254), multicast,
reserved or unspecified address, nor an IPv6 address that embeds one (IPv4-mapped,
6to4, Teredo, NAT64). The host is resolved once per attempt and the connection made to
the address checked (``Target.address``), so a DNS answer that changes between the
check and the connect (DNS rebinding) cannot steer it elsewhere.
``WEBHOOKS_ALLOW_PRIVATE_TARGETS`` lifts the address rules and allows plain ``http``
(tests on loopback, private networks).

Checked when an endpoint is registered or changed (a clear 400) and again before each
attempt (DNS may have changed since).
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Not global, though this Python's ipaddress may not say so: IETF protocol assignments.
NOT_GLOBAL = (ipaddress.ip_network("192.0.0.0/24"),)


class UnsafeTarget(ValueError):
    """The URL may not be sent to; the message says why, for the caller."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (the TLS server name and the Host header)
    port: int
    address: str  # the resolved address the connection goes to
    path: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    embedded = [ip.ipv4_mapped, ip.sixtofour]
    if ip.teredo:
        embedded += list(ip.teredo)
    if ip in NAT64:
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [v4 for v4 in embedded if v4 is not None]


def _link_local_reason(ip: IPAddress) -> str | None:
    embedded = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else []
    if ip.is_link_local or any(v4.is_link_local for v4 in embedded):
        return "it is a link-local address (where cloud metadata services answer)"
    return None


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address, or None if it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        for v4 in _embedded_ipv4(ip):
            if reason := forbidden_reason(v4):
                return f"it embeds the IPv4 address {v4}, which {reason.removeprefix('it ')}"
    if any(ip in network for network in NOT_GLOBAL if network.version == ip.version):
        return "it is not a public address"
    for flag, what in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_site_local", "site-local"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    ):
        if getattr(ip, flag, False):  # is_site_local: IPv6 only
            return f"it is a {what} address"
    if not ip.is_global:
        return "it is not a public address"
    return None


def _parse(url: str) -> tuple[str, str, int, str]:
    allow_private = settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"Not a valid URL: {exc}.") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeTarget(
            "Only https URLs are allowed." if not allow_private else "Only http and https URLs are allowed."
        )
    if not parts.hostname:
        raise UnsafeTarget("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("Credentials in the URL are not allowed: the signature authenticates the sender.")
    if parts.fragment:
        raise UnsafeTarget("A URL fragment is never sent: leave it out.")
    port = port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port, path


def resolve(url: str) -> Target:
    """Check ``url`` and resolve its host once; the target to connect to, or
    ``UnsafeTarget`` saying why not."""
    scheme, host, port, path = _parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"The host {host} does not resolve ({exc}).") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeTarget(f"The host {host} has no address.")
    for address in addresses:
        # Every address, not only the first: the connection would try the others.
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        # Link-local stays refused when private targets are allowed: the cloud's metadata
        # service (169.254.169.254) is no receiver on any network.
        reason = forbidden_reason(ip) if not settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS else _link_local_reason(ip)
        if reason:
            shown = host if host == address else f"{host} ({address})"
            raise UnsafeTarget(f"The address {shown} is not allowed as a webhook target: {reason}.")
    return Target(scheme=scheme, host=host, port=port, address=addresses[0], path=path)
