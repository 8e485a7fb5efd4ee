"""`header` reads a request header as Starlette's `request.headers.get` does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from shared.http.headers import header

NAMES = st.sampled_from([b"if-match", b"idempotency-key", b"content-type", b"x-other"])
VALUES = st.binary(max_size=20).filter(lambda b: b"\r" not in b and b"\n" not in b)


@given(st.lists(st.tuples(NAMES, VALUES), max_size=6), NAMES)
def test_a_header_reads_as_starlettes_headers_get(
    headers: list[tuple[bytes, bytes]], name: bytes
) -> None:
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": headers})
    key = name.decode()
    assert header(request, key) == request.headers.get(key)


def test_an_absent_header_is_none_and_a_repeated_one_gives_its_first_value() -> None:
    headers = [(b"if-match", b'"3"'), (b"if-match", b'"4"'), (b"x", "é".encode("latin-1"))]
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": headers})
    assert header(request, "idempotency-key") is None
    assert header(request, "if-match") == '"3"'
    assert header(request, "x") == "é"
