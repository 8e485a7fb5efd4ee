"""The webhook URL guard: http(s) only, allowed hosts only, no private address unless listed."""

from __future__ import annotations

import ipaddress

import pytest

from services.alert_svc.webhooks.adapters.sender import guard
from services.alert_svc.webhooks.domain.errors import UrlRefusedError
from services.alert_svc.webhooks.domain.urls import AllowList, IPAddress, parse_target

PUBLIC = ipaddress.ip_address("93.184.215.14")


def addresses(*text: str) -> list[IPAddress]:
    return [ipaddress.ip_address(t) for t in text]


def check(allowed: str, url: str, *resolved: str) -> list[IPAddress]:
    target = parse_target(url)
    return AllowList.parse(allowed).check(target, addresses(*resolved))


def refused(allowed: str, url: str, *resolved: str) -> str:
    with pytest.raises(UrlRefusedError) as caught:
        check(allowed, url, *resolved)
    assert caught.value.status == 422
    assert caught.value.extensions == {"field": "url"}
    return caught.value.detail


class TestSchemeAndShape:
    @pytest.mark.parametrize(
        "url",
        [
            "ftp://hooks.example.com/x",
            "file:///etc/passwd",
            "gopher://hooks.example.com",
            "hooks.example.com/x",
            "http:///no-host",
            "https://user:pw@hooks.example.com/x",
            "http://hooks.example.com:99999/x",
        ],
    )
    def test_anything_but_a_plain_http_or_https_url_is_refused(self, url: str) -> None:
        refused("*", url, "93.184.215.14")

    def test_default_ports_follow_the_scheme(self) -> None:
        assert parse_target("https://Hooks.Example.com/x").port == 443
        assert parse_target("http://hooks.example.com/x").port == 80
        assert parse_target("https://Hooks.Example.com./x").host == "hooks.example.com"


class TestAllowList:
    def test_a_host_not_listed_is_refused(self) -> None:
        detail = refused("hooks.example.com", "https://evil.example.net/x", "93.184.215.14")

        assert "SIGHTLINE_WEBHOOK_ALLOWED_HOSTS" in detail

    def test_an_empty_list_admits_nothing(self) -> None:
        refused("", "https://hooks.example.com/x", "93.184.215.14")

    def test_a_listed_host_with_public_addresses_is_admitted_on_any_port(self) -> None:
        assert check("hooks.example.com", "https://hooks.example.com:8443/x", "93.184.215.14")

    def test_a_listed_host_and_port_admits_that_port_only(self) -> None:
        assert check("hooks.example.com:8443", "https://hooks.example.com:8443/", "93.184.215.14")
        refused("hooks.example.com:8443", "https://hooks.example.com/", "93.184.215.14")

    def test_star_admits_any_host_with_public_addresses(self) -> None:
        assert check("*", "https://anything.example.org/x", "93.184.215.14", "2606:2800::1")
        refused("*", "https://anything.example.org/x", "93.184.215.14", "10.0.0.7")

    def test_a_host_that_does_not_resolve_is_refused(self) -> None:
        assert "does not resolve" in refused("*", "https://nowhere.invalid/x")

    @pytest.mark.parametrize(
        "entry", ["[::1", "[::1]9000", "host:port", "host:0", ":8080", "[::1]:70000"]
    )
    def test_a_malformed_entry_is_a_configuration_error(self, entry: str) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 - the message names the entry
            AllowList.parse(f"ok.example.com, {entry}")


class TestPrivateAddresses:
    @pytest.mark.parametrize(
        ("url", "address"),
        [
            ("http://127.0.0.1:9000/hook", "127.0.0.1"),
            ("http://10.1.2.3/hook", "10.1.2.3"),
            ("http://172.16.0.1/hook", "172.16.0.1"),
            ("http://192.168.1.20/hook", "192.168.1.20"),
            ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
            ("http://[::1]:9000/hook", "::1"),
            ("http://[fe80::1]/hook", "fe80::1"),
            ("http://[fd00::5]/hook", "fd00::5"),
            ("http://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1"),
            ("http://0.0.0.0/hook", "0.0.0.0"),
            ("http://100.64.0.1/hook", "100.64.0.1"),
        ],
    )
    def test_an_unlisted_private_loopback_or_link_local_address_is_refused(
        self, url: str, address: str
    ) -> None:
        detail = refused("*", url, address)

        assert "private, loopback or link-local" in detail

    def test_a_listed_name_that_resolves_to_a_private_address_is_refused(self) -> None:
        # DNS rebinding: the partner's name now points inside our network
        refused("hooks.example.com", "https://hooks.example.com/x", "93.184.215.14", "10.0.0.9")
        refused("localhost:9000", "http://localhost:9000/x", "127.0.0.1")

    def test_a_listed_loopback_address_and_port_is_admitted(self) -> None:
        assert check("127.0.0.1:9000", "http://127.0.0.1:9000/hook", "127.0.0.1")
        refused("127.0.0.1:9000", "http://127.0.0.1:9001/hook", "127.0.0.1")

    def test_a_listed_ipv6_loopback_in_brackets_is_admitted(self) -> None:
        assert check("[::1]:9000", "http://[::1]:9000/hook", "::1")
        assert check("[0:0:0:0:0:0:0:1]", "http://[::1]:1234/hook", "::1")
        refused("[::1]:9000", "http://[::1]:9001/hook", "::1")

    def test_a_name_resolving_to_a_listed_private_address_is_admitted(self) -> None:
        assert check("hooks.internal, 10.0.0.9", "https://hooks.internal/x", "10.0.0.9")


class TestGuardResolves:
    async def test_ip_literals_are_checked_without_dns(self) -> None:
        allow = AllowList.parse("127.0.0.1:9000")

        assert await guard(allow, "http://127.0.0.1:9000/x") == addresses("127.0.0.1")
        with pytest.raises(UrlRefusedError):
            await guard(allow, "http://[::1]:9000/x")

    async def test_the_resolver_is_asked_for_names_and_its_answer_is_checked(self) -> None:
        asked: list[tuple[str, int]] = []

        async def resolver(host: str, port: int) -> list[IPAddress]:
            asked.append((host, port))
            return addresses("169.254.169.254")

        with pytest.raises(UrlRefusedError):
            await guard(AllowList.parse("*"), "https://Meta.Example.com/x", resolver)
        assert asked == [("meta.example.com", 443)]
