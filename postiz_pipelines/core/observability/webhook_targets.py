"""Where an outgoing webhook may go: one reading of a webhook URL's host, used when a
subscription is registered (early feedback) and when a delivery is sent (where it matters).

A host is read as a browser reads it (the WHATWG URL rules): percent-decoded, lower-cased,
IDNA-encoded, a trailing dot dropped, and a host whose last label is a number read as an
IPv4 address in any of its spellings (``2130706433``, ``0x7f.1``, ``0177.0.0.1``,
``127.1`` are all 127.0.0.1), so no spelling of an address passes as a name.

At delivery the host is resolved once; every address it resolves to must be public
(``ipaddress`` ``is_global``, and for IPv6 forms that carry an IPv4 address, that address
too), and the request is sent to the address that was checked, with the name in ``Host``
and, for https, in TLS SNI and certificate verification. Nothing resolves the name a second
time, so a DNS answer that changes between the check and the connection (DNS rebinding)
changes nothing. ``allow_private`` (POSTIZ_WEBHOOK_ALLOW_PRIVATE) lets private targets
through, for a receiver on the same host or network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import httpx
import idna

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""``resolve(host, port)`` -> the addresses ``host`` resolves to (blocking; run in a thread)."""

DEFAULT_PORTS = {"http": 80, "https": 443}
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_PRINTABLE = "".join(chr(c) for c in range(33, 127))  # kept as written; the rest is quoted


class TargetRefused(Exception):
    """A webhook URL that must not be called; ``reason`` says why (no secret in it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """A webhook URL, read: ``host`` is the normalised name or address text, ``address``
    the address when the host is an address literal (in any spelling)."""

    scheme: str
    host: str
    port: int
    explicit_port: bool
    address: IPAddress | None
    raw_path: str
    userinfo: str

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the name as the receiver knows it (port when not default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.explicit_port else host


# -- reading ------------------------------------------------------------------------------
def _ipv4_number(part: str) -> int | None:
    """One part of a numeric IPv4 host: decimal, ``0x`` hex or ``0``-prefixed octal."""
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if digits == "":
        return 0
    try:
        return int(digits, base) if digits.isascii() and digits.isalnum() else None
    except ValueError:
        return None


def _ends_in_number(labels: list[str]) -> bool:
    last = labels[-1]
    if last.isascii() and last.isdigit():
        return True
    return last[:2] in ("0x", "0X") and all(c in "0123456789abcdefABCDEF" for c in last[2:])


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """``host`` as an IPv4 address when it is one in any spelling the WHATWG URL standard
    (and the C library's ``inet_aton``) accepts; None for a name; TargetRefused for a host
    that ends in a number but is no valid address (``1.2.3.256``)."""
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    if not labels or not _ends_in_number(labels):
        return None
    numbers = [_ipv4_number(label) for label in labels]
    if len(labels) > 4 or any(n is None for n in numbers):
        raise TargetRefused(f"{host} is neither a valid address nor a name")
    parts = [n for n in numbers if n is not None]
    if any(n > 255 for n in parts[:-1]) or parts[-1] >= 256 ** (5 - len(parts)):
        raise TargetRefused(f"{host} is neither a valid address nor a name")
    value = parts[-1] + sum(n * 256 ** (3 - i) for i, n in enumerate(parts[:-1]))
    return ipaddress.IPv4Address(value)


def _ascii(host: str) -> str:
    """The host in ASCII: IDNA (UTS 46, which also maps full-width digits and dots)."""
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii").lower()
    except idna.IDNAError:
        raise TargetRefused("the host is not a valid name") from None


def _name(host: str) -> str:
    """A DNS name, every label checked."""
    if len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
        raise TargetRefused(f"{host[:100]} is not a valid host name")
    return host


def parse_target(url: str) -> Target:
    """Read a webhook URL; TargetRefused names what is wrong with it."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise TargetRefused("the URL or its port is not valid") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise TargetRefused("the URL must start with http:// or https://")
    raw = unquote(parts.hostname or "")
    bracketed = "[" in parts.netloc
    host = raw.lower().rstrip(".") if not bracketed else raw.lower()
    if not host:
        raise TargetRefused("the URL has no host")
    address: IPAddress | None
    if bracketed or ":" in host:
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            raise TargetRefused(f"{host[:100]} is not a valid IPv6 address") from None
        host = str(address)
    else:
        host = _ascii(host)
        address = parse_ipv4(host)
        host = str(address) if address is not None else _name(host)
    path = parts.path or "/"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    return Target(
        scheme=scheme,
        host=host,
        port=port if port is not None else DEFAULT_PORTS[scheme],
        explicit_port=port is not None,
        address=address,
        raw_path=path + (f"?{parts.query}" if parts.query else ""),
        userinfo=userinfo,
    )


# -- checking -----------------------------------------------------------------------------
def _views(ip: IPAddress) -> Iterator[IPAddress]:
    """The address, and the IPv4 address an IPv6 form carries (mapped, compatible, 6to4,
    Teredo, NAT64): a router may deliver to that one."""
    yield ip
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            yield ip.ipv4_mapped
        if ip.sixtofour is not None:
            yield ip.sixtofour
        if ip.teredo is not None:
            yield from ip.teredo
        if ip in _IPV4_COMPATIBLE or any(ip in net for net in _NAT64):
            yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


def address_refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (loopback, private, link-local, reserved...)."""
    for view in _views(ip):
        if not view.is_global or view.is_multicast:
            return f"{ip} is not a public address"
    return None


def name_refusal(host: str) -> str | None:
    """Why the name ``host`` is local by its form alone (localhost, .local, one label)."""
    if host == "localhost" or host.endswith(LOCAL_SUFFIXES):
        return f"{host} is a local name"
    if "." not in host:
        return f"{host} is not a public name (it has one label)"
    return None


def static_refusal(target: Target) -> str | None:
    """Why ``target`` is not public from the URL alone, without DNS: a private address
    literal or a local name. Registration answers with it; delivery checks it first."""
    if target.address is not None:
        return address_refusal(target.address)
    return name_refusal(target.host)


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answer for ``host`` (every address, TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def pin_address(target: Target, *, resolve: Resolver, allow_private: bool) -> IPAddress:
    """The address to connect to: the literal, or the first of what the name resolves to,
    resolved once. TargetRefused unless every address is public (or ``allow_private``);
    OSError when the name does not resolve."""
    if not allow_private and (reason := static_refusal(target)):
        raise TargetRefused(reason)
    if target.address is not None:
        addresses = [target.address]
    else:
        found = await asyncio.to_thread(resolve, target.host, target.port)
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
        except ValueError:
            raise TargetRefused(f"{target.host} resolved to something not an address") from None
        if not addresses:
            raise OSError(f"{target.host} resolved to no address")
    if not allow_private and target.address is None:
        for ip in addresses:
            if reason := address_refusal(ip):
                raise TargetRefused(f"{target.host} resolves to {ip}, which is not public")
    return addresses[0]


def pinned_request(
    http: httpx.AsyncClient,
    target: Target,
    address: IPAddress,
    *,
    content: bytes,
    headers: dict[str, str],
) -> httpx.Request:
    """A POST to ``address`` itself, naming ``target``'s host in ``Host`` and, for https,
    in SNI and certificate verification (httpcore's ``sni_hostname``)."""
    url = httpx.URL(
        scheme=target.scheme,
        host=str(address),
        port=target.port if target.explicit_port else None,
        raw_path=quote(target.raw_path, safe=_PRINTABLE).encode("ascii"),
        userinfo=target.userinfo.encode(),
    )
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return http.build_request(
        "POST",
        url,
        content=content,
        headers={**headers, "host": target.host_header},
        extensions=extensions,
    )
