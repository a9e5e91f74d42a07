"""Where the bot's own fetches may lead: the public internet, and inside its network only where it is allowed.

A member's link (a start frame) and a result link are fetched from inside the bot's network, so they must not
reach an address there, however it is written: an IPv4 address inside an IPv6 one (mapped, NAT64, 6to4),
Teredo, a legacy IPv4 spelling (``2130706433``, ``0x7f.1``), a trailing-dot ``localhost.``. Literal hosts are
judged before connecting; names are judged by :class:`PublicResolver` on the addresses the connection uses.
Nothing here knows Discord.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection
from dataclasses import dataclass

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

#: IPv6 ranges that are never public, whatever the ``ipaddress`` tables of this Python say.
_NEVER_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::/96",  # IPv4-compatible (deprecated), with :: and ::1
        "::ffff:0:0:0/96",  # SIIT translated IPv4
        "2001::/32",  # Teredo: through a relay to an IPv4 host and port of the address owner's choosing
        "64:ff9b:1::/48",  # local-use NAT64: translated by this network, to anywhere
        "fec0::/10",  # site-local (deprecated)
    )
)
#: The well-known NAT64 prefix: the last 32 bits are the IPv4 address the translator connects to.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
#: Global unicast: every public IPv6 address is in here.
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
#: IETF protocol assignments: not routed on the internet (Python 3.11 lists only parts of it).
_NEVER_PUBLIC_V4 = (ipaddress.IPv4Network("192.0.0.0/24"),)
#: Characters of the legacy IPv4 spellings the C library accepts (decimal, octal, hexadecimal parts).
_NUMERIC_HOST = frozenset("0123456789abcdefx.")


class PrivateAddressError(OSError):
    """A link leads to an address inside the bot's own network."""


def is_public_address(address: str) -> bool:
    """Whether an IP address is clearly on the public internet; an IPv4 address inside an IPv6 one is judged itself.

    Anything else is refused: loopback, private, link-local, site-local, shared, reserved, documentation and
    multicast ranges, IPv4-compatible, SIIT and Teredo forms, local-use NAT64, and anything outside global unicast.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return _public_v4(ip)
    embedded = _embedded_v4(ip)
    if embedded:
        return all(_public_v4(inner) for inner in embedded)
    if ip not in _GLOBAL_UNICAST or any(ip in network for network in _NEVER_PUBLIC_V6):
        return False
    return ip.is_global


def _public_v4(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not ip.is_multicast and not any(ip in network for network in _NEVER_PUBLIC_V4)


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 address that packets to ``ip`` really go to (mapped, well-known NAT64 prefix, 6to4)."""
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip in _NAT64:
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    return ()


def literal_address(host: str) -> str | None:
    """The IP address ``host`` is written as, or None for a name.

    The legacy IPv4 spellings (``2130706433``, ``0x7f.1``, ``017700000001``, ``127.1``) count: the C library
    connects to the address they stand for, so they are judged as that address, never as a name.
    """
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        pass
    numeric = host.lower().rstrip(".")
    if numeric and set(numeric) <= _NUMERIC_HOST:
        try:
            return socket.inet_ntoa(socket.inet_aton(numeric))
        except OSError:
            return None
    return None


def names_this_machine(host: str) -> bool:
    """``localhost`` and its subdomains, with or without the trailing dot of a fully qualified name."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


@dataclass(frozen=True, slots=True)
class Origin:
    """Scheme, host and port of a link: what is allowed inside the network is exactly one service, not a host."""

    scheme: str
    host: str
    port: int | None

    @classmethod
    def of(cls, url: URL) -> Origin:
        host = url.raw_host or ""
        literal = literal_address(host)
        return cls(url.scheme.lower(), literal or host.lower(), url.port)


@dataclass(frozen=True, slots=True)
class PrivateAccess:
    """Where inside the bot's own network a fetch may lead.

    By default nowhere. ``origins``: exactly those (scheme, host and port), the services the bot itself runs
    or talks to there, such as the sandbox emulator. ``anywhere``: any private address, for the operator's own
    tools and an API of the operator's own network, never for what a member chooses.
    """

    origins: frozenset[Origin] = frozenset()
    anywhere: bool = False

    @classmethod
    def to(cls, *urls: str) -> PrivateAccess:
        """Only the origins of ``urls``."""
        return cls(frozenset(Origin.of(URL(url)) for url in urls))

    def allows(self, url: URL) -> bool:
        return self.anywhere or Origin.of(url) in self.origins

    def host_ports(self) -> frozenset[tuple[str, int | None]]:
        """The allowed (host, port) pairs, as the resolver sees a connection."""
        return frozenset((origin.host, origin.port) for origin in self.origins)


NOWHERE = PrivateAccess()
ANYWHERE = PrivateAccess(anywhere=True)


def refused_before_connecting(url: URL, private: PrivateAccess = NOWHERE) -> bool:
    """Whether ``url``'s host is an address (however written) or a name of this machine that is not public,
    and not one of the origins ``private`` allows. Other names are judged by :class:`PublicResolver`."""
    if private.allows(url):
        return False
    host = url.raw_host or ""
    if names_this_machine(host):
        return True
    address = literal_address(host)
    return address is not None and not is_public_address(address)


def reaches_public_internet(url: str) -> bool:
    """Whether a configured service's ``url`` names a host on the public internet (a name other than ``localhost``
    is taken for one: only where it leads is checked when connecting)."""
    host = URL(url).raw_host or ""
    address = literal_address(host)
    return not names_this_machine(host) and (address is None or is_public_address(address))


class PublicResolver(AbstractResolver):
    """Resolves names like the default resolver, but refuses any name that leads into a private network.

    Checking the addresses the connection will actually use (rather than resolving once beforehand)
    also defeats a name that answers differently the second time. ``allowed`` (host, port) pairs, the
    origins a :class:`PrivateAccess` names, may lead anywhere.
    """

    def __init__(self, allowed: Collection[tuple[str, int | None]] = ()) -> None:
        self._inner = DefaultResolver()
        self._allowed = frozenset(allowed)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if (host.lower(), port) in self._allowed:
            return results
        if not results or any(not is_public_address(result["host"]) for result in results):
            raise PrivateAddressError(f"{host} resolves to a non-public address")
        return results

    async def close(self) -> None:
        await self._inner.close()
