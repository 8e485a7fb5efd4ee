"""Where a webhook may go (SSRF guard): http(s), an allowed host, no private address unless listed.

The host must match an entry of the allow list (`host`, `host:port`, or `*` for any host).
Every address the host resolves to must be public; a private, loopback, link-local or other
non-global address passes only when that very address is listed (so `127.0.0.1:9000` admits a
local receiver, while a listed name that starts resolving to 10.x is refused). Resolution is
the caller's: this module decides on what it is given, at subscription time and at send time.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.alert_svc.webhooks.domain.errors import UrlRefusedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SCHEMES = {"http": 80, "https": 443}
ANY_HOST = "*"


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    #: lower case, IPv6 without brackets
    host: str
    port: int


def parse_target(url: str) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefusedError(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UrlRefusedError("only http and https URLs are allowed")
    if not parts.hostname:
        raise UrlRefusedError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefusedError("credentials in the URL are not allowed")
    return Target(scheme, _normal_host(parts.hostname), port or SCHEMES[scheme])


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return address.is_global and not address.is_multicast


@dataclass(frozen=True, slots=True)
class AllowList:
    #: (host, port or None for any port)
    entries: frozenset[tuple[str, int | None]]
    any_host: bool = False

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """`a.example.com, hooks.example.com:8443, 127.0.0.1:9000, [::1]:9000, *`."""
        entries: set[tuple[str, int | None]] = set()
        any_host = False
        for raw in (part.strip() for part in text.split(",")):
            if raw == ANY_HOST:
                any_host = True
            elif raw:
                entries.add(_entry(raw))
        return cls(frozenset(entries), any_host)

    def lists(self, host: str, port: int) -> bool:
        return (host, port) in self.entries or (host, None) in self.entries

    def check(self, target: Target, addresses: list[IPAddress]) -> list[IPAddress]:
        """The addresses a request to `target` may connect to; raises if there are none."""
        if not (self.any_host or self.lists(target.host, target.port)):
            raise UrlRefusedError(
                f"host {_shown(target)} is not in SIGHTLINE_WEBHOOK_ALLOWED_HOSTS"
            )
        if not addresses:
            raise UrlRefusedError(f"host {target.host} does not resolve")
        refused = [a for a in addresses if not (is_public(a) or self.lists(str(a), target.port))]
        if refused:
            raise UrlRefusedError(
                f"host {target.host} resolves to a private, loopback or link-local address "
                f"({refused[0]}) that SIGHTLINE_WEBHOOK_ALLOWED_HOSTS does not list"
            )
        return addresses


def _normal_host(host: str) -> str:
    host = host.strip("[]").lower().rstrip(".")
    address = literal_address(host)
    return str(address) if address is not None else host


def _entry(raw: str) -> tuple[str, int | None]:
    if raw.startswith("["):
        host, closed, rest = raw[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else None
        if not closed or (rest and port_text is None) or literal_address(host) is None:
            raise ValueError(f"allowed host {raw!r} is not `[v6]` or `[v6]:port`")
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
    else:  # a name, an IPv4 address or a bare IPv6 address
        host, port_text = raw, None
    if not host:
        raise ValueError(f"allowed host {raw!r} has no host")
    if port_text is not None and not port_text.isdigit():
        raise ValueError(f"allowed host {raw!r} has a bad port")
    port = int(port_text) if port_text is not None else None
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"allowed host {raw!r} has a bad port")
    return _normal_host(host), port


def _shown(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"{host}:{target.port}"
