"""Where outgoing webhooks may go, through the delivery pass against a real receiver on a
loopback TCP port: every spelling of a private address is refused and nothing reaches the
receiver; a name resolving to loopback is refused; the request goes to the address that was
checked (one resolution, the name in ``Host`` and in TLS SNI); and one delivery's failure,
whatever it raises, is recorded on it and never stops the others."""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import WebhookDelivery, WebhookSubscription
from postiz_pipelines.core.observability.webhook_targets import TargetRefused, parse_target
from postiz_pipelines.core.observability.webhooks import (
    BACKOFF_BASE,
    create_subscription,
    deliver_pending_webhooks,
    verify,
)

LOOPBACK_SPELLINGS = [
    "http://2130706433:{port}/x",
    "http://0x7f.1:{port}/x",
    "http://0x7f000001:{port}/x",
    "http://127.1:{port}/x",
    "http://127.0.0.1.:{port}/x",
    "http://0177.0.0.1:{port}/x",
    "http://%31%32%37.0.0.1:{port}/x",
    "http://１２７.０.０.１:{port}/x",  # full-width digits, mapped by IDNA
]
OTHER_PRIVATE = [
    "http://localhost.:{port}/x",
    "http://LocalHost:{port}/x",
    "http://printer.local:{port}/x",
    "http://[::1]:{port}/x",
    "http://[::ffff:127.0.0.1]:{port}/x",
    "http://[::ffff:7f00:1]:{port}/x",
    "http://[2002:7f00:1::]:{port}/x",  # 6to4 around 127.0.0.1
    "http://[64:ff9b::a00:1]:{port}/x",  # NAT64 around 10.0.0.1
    "http://0:{port}/x",
    "http://10.0.0.1:{port}/x",
    "http://169.254.169.254:{port}/latest/meta-data",
    "http://100.64.0.1:{port}/x",  # shared address space (carrier NAT)
    "http://intranet:{port}/x",
]


class Receiver:
    """A webhook receiver on a real socket: records every request (path, headers, body)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.got: list[tuple[str, dict[str, str], bytes]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                outer.got.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    yield rx
    rx.close()


def allowing_private(app: AppContext) -> AppContext:
    """The same app with POSTIZ_WEBHOOK_ALLOW_PRIVATE=true."""
    return dataclasses.replace(
        app, settings=app.settings.model_copy(update={"webhook_allow_private": True})
    )


def subscribe(app: AppContext, ws_id: str, url: str, now: dt.datetime) -> tuple[str, str]:
    """A subscription stored as an older release accepted it (the registration check is
    bypassed: what is tested here is the check at delivery)."""
    with app.db.session() as s:
        sub, secret = create_subscription(
            s, app.keyring, workspace_id=ws_id, url=url, now=now, allow_private=True
        )
        return sub.id, secret.reveal()


def publish_event(app: AppContext, ws_id: str, now: dt.datetime) -> None:
    with app.db.session() as s:
        record_event(s, EventType.POST_PUBLISHED, now=now, workspace_id=ws_id, post_id="post_é🎉")


def deliveries(app: AppContext) -> dict[str, WebhookDelivery]:
    with app.db.read() as s:
        return {d.subscription_id: d for d in s.scalars(select(WebhookDelivery))}


def resolver(answers: dict[str, list[str]], calls: list[str] | None = None):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in answers:
            raise OSError(f"{host}: no such name")
        return answers[host]

    return resolve


def test_parser_reads_every_spelling_of_loopback() -> None:
    for url in LOOPBACK_SPELLINGS:
        target = parse_target(url.format(port=8080))
        assert target.address == ipaddress.ip_address("127.0.0.1"), url
        assert target.port == 8080
    assert parse_target("http://hooks.example/").address is None
    assert parse_target("https://Bücher.example/").host == "xn--bcher-kva.example"
    for bad in ("http://1.2.3.256/", "http://foo.123/", "http://0x7g.1/", "ftp://x.example/"):
        with pytest.raises(TargetRefused):
            parse_target(bad)


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS + OTHER_PRIVATE)
def test_private_spellings_are_refused_at_delivery_and_nothing_is_sent(
    app, make, clock, receiver, spelling
):
    ws = make.workspace("acme")
    now = clock.now()
    sub_id, _ = subscribe(app, ws.id, spelling.format(port=receiver.port), now)
    publish_event(app, ws.id, now)
    later = now + timedelta(seconds=10)
    calls: list[str] = []

    counts = deliver_pending_webhooks(
        app, now=later, resolve=resolver({"intranet": ["10.1.2.3"]}, calls)
    )

    assert counts["failed"] == 1 and counts["delivered"] == 0
    d = deliveries(app)[sub_id]
    assert d.status == "failed" and d.attempts == 1
    assert d.last_error.startswith("refused: ")
    assert receiver.got == []
    assert calls == []  # refused on its form: not even resolved


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
def test_the_same_spellings_reach_the_receiver_when_private_targets_are_allowed(
    app, make, clock, receiver, spelling
):
    """The control: each refused spelling does name the receiver's address."""
    ws = make.workspace("acme")
    now = clock.now()
    subscribe(app, ws.id, spelling.format(port=receiver.port), now)
    publish_event(app, ws.id, now)
    counts = deliver_pending_webhooks(allowing_private(app), now=now + timedelta(seconds=10))
    assert counts["delivered"] == 1
    assert [path for path, _, _ in receiver.got] == ["/x"]


@pytest.mark.parametrize(
    "answer", [["127.0.0.1"], ["93.184.215.14", "127.0.0.1"], ["::1"], ["192.168.0.7"]]
)
def test_a_name_resolving_to_a_private_address_is_refused_at_delivery(
    app, make, clock, receiver, answer
):
    ws = make.workspace("acme")
    now = clock.now()
    sub_id, _ = subscribe(app, ws.id, f"http://hooks.example:{receiver.port}/x", now)
    publish_event(app, ws.id, now)
    counts = deliver_pending_webhooks(
        app, now=now + timedelta(seconds=10), resolve=resolver({"hooks.example": answer})
    )
    assert counts["failed"] == 1
    d = deliveries(app)[sub_id]
    assert d.last_error.startswith("refused: hooks.example resolves to ")
    assert receiver.got == []


def test_the_request_goes_to_the_checked_address_resolved_once(app, make, clock, receiver):
    """DNS rebinding: the second answer would point elsewhere; there is no second lookup,
    and the name (unknown to real DNS) is only in the Host header."""
    ws = make.workspace("acme")
    now = clock.now()
    sub_id, secret = subscribe(app, ws.id, f"http://hooks.example:{receiver.port}/in?a=1", now)
    publish_event(app, ws.id, now)
    calls: list[str] = []
    answers = iter([["127.0.0.1"], ["10.255.255.1"]])

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    later = now + timedelta(seconds=10)
    counts = deliver_pending_webhooks(allowing_private(app), now=later, resolve=rebinding)

    assert counts["delivered"] == 1 and calls == ["hooks.example"]
    [(path, headers, body)] = receiver.got
    assert path == "/in?a=1" and headers["host"] == f"hooks.example:{receiver.port}"
    assert verify(secret, headers, body, now=later)
    assert deliveries(app)[sub_id].status == "delivered"


def _tls_pair(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for ``name`` only, and a client trusting its CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = dt.datetime.now(dt.UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = tmp_path / "cert.pem"
    key_pem = tmp_path / "key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_pem, key_pem)
    client = ssl.create_default_context(cafile=str(cert_pem))
    return server, client


def test_https_verifies_the_certificate_of_the_name_not_the_address(app, make, clock, tmp_path):
    server_tls, client_tls = _tls_pair(tmp_path, "hooks.example")
    rx = Receiver(tls=server_tls)
    try:
        ws = make.workspace("acme")
        now = clock.now()
        subscribe(app, ws.id, f"https://hooks.example:{rx.port}/tls", now)
        publish_event(app, ws.id, now)
        counts = deliver_pending_webhooks(
            allowing_private(app),
            now=now + timedelta(seconds=10),
            resolve=resolver({"hooks.example": ["127.0.0.1"]}),
            transport=httpx.AsyncHTTPTransport(verify=client_tls),
        )
        assert counts["delivered"] == 1
        assert [(p, h["host"]) for p, h, _ in rx.got] == [("/tls", f"hooks.example:{rx.port}")]
    finally:
        rx.close()


class Crashing(httpx.AsyncBaseTransport):
    """A receiver app in process, except that a request for ``crash.example`` raises what
    httpx raises for a URL it cannot use: ``httpx.InvalidURL``, not an ``httpx.HTTPError``."""

    def __init__(self) -> None:
        self.got: list[str] = []

        async def handle(request: Request) -> Response:
            self.got.append(request.url.path)
            return Response(status_code=204)

        app = Starlette(routes=[Route("/{name}", handle, methods=["POST"])])
        self.inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.headers["host"].startswith("crash.example"):
            raise httpx.InvalidURL("Invalid port")
        return await self.inner.handle_async_request(request)


def test_one_bad_delivery_never_stops_the_others(app, make, clock):
    ws = make.workspace("acme")
    now = clock.now()
    good, _ = subscribe(app, ws.id, "http://hooks.example/ok", now)
    octal, _ = subscribe(app, ws.id, "http://0177.0.0.1:18999/", now)  # stopped every pass once
    crash, _ = subscribe(app, ws.id, "http://crash.example/crash", now)
    buggy, _ = subscribe(app, ws.id, "http://buggy.example/dns", now)
    missing, _ = subscribe(app, ws.id, "http://missing.example/dns", now)
    unsigned, _ = subscribe(app, ws.id, "http://hooks.example/unsigned", now)
    with app.db.session() as s:  # its key was rotated away: it cannot be signed
        s.get(WebhookSubscription, unsigned).secret_sealed = "pz1.gone.AAAAAAAAAAAAAAAA"
    publish_event(app, ws.id, now)

    def resolve(host: str, port: int) -> list[str]:
        if host == "buggy.example":
            raise RuntimeError("resolver bug")
        if host == "missing.example":
            raise OSError("no such name")
        return ["93.184.215.14"]

    rx = Crashing()
    later = now + timedelta(seconds=10)
    counts = deliver_pending_webhooks(app, now=later, resolve=resolve, transport=rx)

    assert counts == {"queued": 6, "sent": 5, "delivered": 1, "retrying": 4, "failed": 1}
    assert rx.got == ["/ok"]
    rows = deliveries(app)
    assert rows[good].status == "delivered"
    assert (rows[octal].status, rows[octal].attempts) == ("failed", 1)
    assert rows[octal].last_error == "refused: 127.0.0.1 is not a public address"
    for sub_id, error in (
        (crash, "InvalidURL"),
        (buggy, "RuntimeError"),
        (missing, "cannot resolve the host (OSError)"),
    ):
        d = rows[sub_id]
        assert (d.status, d.attempts, d.last_error) == ("pending", 1, error)
        assert d.next_attempt_at == later + BACKOFF_BASE  # retried later, on its own
    d = rows[unsigned]
    assert (d.status, d.attempts) == ("pending", 1)
    assert d.last_error.startswith("cannot open the signing secret")
    again = deliver_pending_webhooks(app, now=later + timedelta(seconds=1), resolve=resolve)
    assert again["sent"] == 0  # nothing is resent before its time
