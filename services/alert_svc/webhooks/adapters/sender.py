"""Sending one delivery: resolve and guard the host, sign (Standard Webhooks), POST, time it.

The request goes to an address the guard has just approved (the URL's host is replaced by the
address, with `Host` and TLS SNI kept on the name), so a DNS answer that changes between the
check and the connection cannot redirect it. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from math import floor

import httpx
from standardwebhooks import Webhook

from services.alert_svc.webhooks.adapters.deliveries import AttemptResult, Outgoing
from services.alert_svc.webhooks.domain.errors import UrlRefusedError
from services.alert_svc.webhooks.domain.urls import SCHEMES as SCHEME_PORTS
from services.alert_svc.webhooks.domain.urls import AllowList, IPAddress, literal_address
from services.alert_svc.webhooks.domain.urls import parse_target as target_of

log = logging.getLogger(__name__)
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
USER_AGENT = "Sightline-Webhooks/1.0"
ERROR_SNIPPET = 300


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses of `host` (an IP literal is its own); none if it does not resolve."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # gaierror included
        return []
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


async def guard(allow: AllowList, url: str, resolver: Resolver = resolve) -> list[IPAddress]:
    """The addresses `url` may be reached at; raises UrlRefusedError (422 on `url`) if none."""
    target = target_of(url)
    return allow.check(target, await resolver(target.host, target.port))


def signed_headers(secret: str, webhook_id: str, at: datetime, body: str) -> dict[str, str]:
    at = at.astimezone(UTC)  # the library reads the timestamp as UTC whatever its zone
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(floor(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, body),
        "content-type": CONTENT_TYPE,
        "user-agent": USER_AGENT,
    }


class WebhookSender:
    def __init__(
        self,
        allow: AllowList,
        timeout_s: float,
        resolver: Resolver = resolve,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._allow = allow
        self._resolver = resolver
        # no proxies from the environment: the request must reach the address we checked
        self._client = httpx.AsyncClient(
            timeout=timeout_s, follow_redirects=False, trust_env=False, transport=transport
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, out: Outgoing, at: datetime) -> AttemptResult:
        started = time.monotonic()

        def result(code: int | None, error: str | None) -> AttemptResult:
            return AttemptResult(code, error, int((time.monotonic() - started) * 1000))

        try:
            address = (await guard(self._allow, out.url, self._resolver))[0]
            url = httpx.URL(out.url)
            if not _same_target(url, out.url):
                return result(None, "refused: the URL reads differently to the HTTP client")
        except UrlRefusedError as exc:
            return result(None, f"refused: {exc.detail}")
        except (httpx.InvalidURL, UnicodeError) as exc:
            return result(None, f"refused: {exc}")
        headers = signed_headers(out.secret, out.webhook_id, at, out.body)
        headers["host"] = url.netloc.decode("ascii")
        try:
            async with self._client.stream(
                "POST",
                url.copy_with(host=str(address)),
                content=out.body.encode(),
                headers=headers,
                extensions={"sni_hostname": url.raw_host.decode("ascii")},
            ) as response:
                if 200 <= response.status_code < 300:
                    return result(response.status_code, None)
                snippet = await _first_bytes(response)
                return result(response.status_code, f"HTTP {response.status_code}: {snippet}")
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            return result(None, f"{type(exc).__name__}: {exc}"[:ERROR_SNIPPET])
        except Exception as exc:  # one odd delivery must not stop the batch; it is retried
            log.exception("webhook delivery %s failed unexpectedly", out.delivery_id)
            return result(None, f"{type(exc).__name__}: {exc}"[:ERROR_SNIPPET])


def _same_target(url: httpx.URL, text: str) -> bool:
    """The client must connect where the guard looked: same scheme, host and port."""
    target = target_of(text)
    host = url.raw_host.decode("ascii").strip("[]").lower().rstrip(".")
    literal = literal_address(host)
    host = str(literal) if literal is not None else host
    port = url.port or SCHEME_PORTS.get(url.scheme)
    ascii_target = (
        target.host.encode("idna").decode("ascii") if not target.host.isascii() else target.host
    )
    return (url.scheme, host, port) == (target.scheme, ascii_target, target.port)


async def _first_bytes(response: httpx.Response) -> str:
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= ERROR_SNIPPET:
            break
    return data[:ERROR_SNIPPET].decode("utf-8", "replace")
