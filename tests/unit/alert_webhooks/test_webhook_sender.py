"""The sender: signs with Standard Webhooks, connects to the checked address, refuses at send time."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta, timezone

import httpx
from standardwebhooks import Webhook

from services.alert_svc.webhooks.adapters.deliveries import Outgoing
from services.alert_svc.webhooks.adapters.sender import WebhookSender, signed_headers
from services.alert_svc.webhooks.domain.subscriptions import new_secret
from services.alert_svc.webhooks.domain.urls import AllowList, IPAddress

SECRET = new_secret()
BODY = '{"specversion":"1.0","id":"e-1","data":{"x":"中"}}'


def outgoing(url: str) -> Outgoing:
    return Outgoing("d-1", "evt-1", 0, 4, url, SECRET, BODY)


def resolving_to(*text: str) -> object:
    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(t) for t in text]

    return resolver


class Recorder:
    def __init__(self, status: int = 200) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        headers = {"location": "http://169.254.169.254/latest"} if self.status == 302 else {}
        return httpx.Response(self.status, text="nope" * 200, headers=headers)


def sender(allowed: str, resolver: object, recorder: Recorder) -> WebhookSender:
    return WebhookSender(
        AllowList.parse(allowed),
        timeout_s=1.0,
        resolver=resolver,  # type: ignore[arg-type]
        transport=httpx.MockTransport(recorder),
    )


class TestSigning:
    def test_the_headers_verify_with_the_reference_library(self) -> None:
        now = datetime.now(UTC)
        headers = signed_headers(SECRET, "evt-1", now, BODY)

        assert Webhook(SECRET).verify(BODY, headers)["id"] == "e-1"
        assert headers["webhook-timestamp"] == str(int(now.timestamp()))

    def test_a_timestamp_in_another_zone_signs_the_same_instant(self) -> None:
        now = datetime.now(UTC)
        shanghai = now.astimezone(timezone(timedelta(hours=8)))

        assert signed_headers(SECRET, "evt-1", shanghai, BODY) == signed_headers(
            SECRET, "evt-1", now, BODY
        )


class TestSending:
    async def test_the_request_goes_to_the_checked_address_with_the_name_as_host(self) -> None:
        recorder = Recorder()
        s = sender("hooks.example.com", resolving_to("93.184.215.14"), recorder)

        result = await s.send(outgoing("https://hooks.example.com/in?x=1"), datetime.now(UTC))

        assert (result.status_code, result.error) == (200, None)
        (req,) = recorder.requests
        assert req.url.host == "93.184.215.14"
        assert req.url.path == "/in"
        assert req.url.params["x"] == "1"
        assert req.headers["host"] == "hooks.example.com"
        assert req.extensions["sni_hostname"] == "hooks.example.com"
        assert req.content.decode() == BODY
        Webhook(SECRET).verify(req.content, dict(req.headers))

    async def test_a_name_that_now_resolves_to_a_private_address_is_not_contacted(
        self,
    ) -> None:
        recorder = Recorder()
        s = sender("hooks.example.com", resolving_to("169.254.169.254"), recorder)

        result = await s.send(outgoing("https://hooks.example.com/in"), datetime.now(UTC))

        assert recorder.requests == []
        assert result.status_code is None
        assert result.error is not None
        assert result.error.startswith("refused: ")

    async def test_a_host_removed_from_the_allow_list_is_not_contacted(self) -> None:
        recorder = Recorder()
        s = sender("other.example.com", resolving_to("93.184.215.14"), recorder)

        result = await s.send(outgoing("https://hooks.example.com/in"), datetime.now(UTC))

        assert recorder.requests == []
        assert result.error is not None
        assert "SIGHTLINE_WEBHOOK_ALLOWED_HOSTS" in result.error

    async def test_a_failure_answer_is_kept_short_in_the_error(self) -> None:
        s = sender("*", resolving_to("93.184.215.14"), Recorder(status=500))

        result = await s.send(outgoing("https://hooks.example.com/in"), datetime.now(UTC))

        assert result.status_code == 500
        assert result.error is not None
        assert result.error.startswith("HTTP 500: nopenope")
        assert len(result.error) < 320

    async def test_an_unreachable_receiver_is_a_failed_attempt_with_the_reason(self) -> None:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        s = WebhookSender(
            AllowList.parse("*"),
            timeout_s=1.0,
            resolver=resolving_to("93.184.215.14"),  # type: ignore[arg-type]
            transport=httpx.MockTransport(refuse),
        )

        result = await s.send(outgoing("https://hooks.example.com/in"), datetime.now(UTC))

        assert result.status_code is None
        assert result.error == "ConnectError: connection refused"

    async def test_a_redirect_is_not_followed_and_counts_as_a_failure(self) -> None:
        recorder = Recorder(status=302)
        s = sender("*", resolving_to("93.184.215.14"), recorder)

        result = await s.send(outgoing("https://hooks.example.com/in"), datetime.now(UTC))

        assert len(recorder.requests) == 1
        assert result.status_code == 302
        assert result.error is not None
