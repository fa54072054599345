"""Which addresses outbound webhooks may reach (SSRF guard), decided on resolved addresses.

The check runs at connect time on the addresses the name resolves to, and the transport
connects to exactly those addresses, so a name that changes its answer between a check
and the connection (DNS rebinding) cannot reach an internal service.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]


class RefusedAddress(Exception):
    """The target resolves to an address outbound webhooks must not reach."""


# IPv6 forms that carry an IPv4 address (issue 12, item 12): a refused IPv4 address
# must not pass because it is written inside one of them.
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # ::127.0.0.1 (deprecated, RFC 4291)
IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # ::ffff:0:127.0.0.1 (SIIT)
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: never global
ISATAP_IDS = (0x00005EFE, 0x02005EFE)  # interface identifier ::0:5efe:a.b.c.d (RFC 5214)
_LOW32 = 0xFFFFFFFF


def _plain(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return address


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses `address` carries, each with the name of its form (pure)."""
    low = ipaddress.IPv4Address(int(address) & _LOW32)
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if address in IPV4_COMPATIBLE and int(address) > 1:  # not :: or ::1
        found.append(("IPv4-compatible", low))
    if address in IPV4_TRANSLATED:
        found.append(("IPv4-translated", low))
    if address in NAT64_WELL_KNOWN:
        found.append(("NAT64", low))
    if address.sixtofour is not None:
        found.append(("6to4", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo
        found += [("Teredo server", server), ("Teredo client", client)]
    if (int(address) >> 32) & _LOW32 in ISATAP_IDS:
        found.append(("ISATAP", low))
    return found


def _kind(address: Address) -> str:
    return (
        "loopback"
        if address.is_loopback
        else "link-local"
        if address.is_link_local
        else "private"
        if address.is_private
        else "multicast"
        if address.is_multicast
        else "not public"
    )


def _public(address: Address) -> bool:
    return address.is_global and not address.is_multicast


def _listed(address: Address, allowed: Sequence[Network]) -> bool:
    return any(address in net for net in allowed if net.version == address.version)


def why_refused(address: Address, allowed: Sequence[Network]) -> str | None:
    """None when `address` may be reached, else the reason (pure)."""
    address = _plain(address)
    if _listed(address, allowed):
        return None
    setting = "not in TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS"
    if isinstance(address, ipaddress.IPv6Address):
        for form, inner in embedded_ipv4(address):
            if not _listed(inner, allowed) and not _public(inner):
                return f"{address} embeds {inner} ({form}), which is {_kind(inner)} and {setting}"
        if address in NAT64_LOCAL_USE:
            return f"{address} is a local-use NAT64 address and {setting}"
    if _public(address):
        return None
    return f"{address} is {_kind(address)} and {setting}"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, for TCP (the system resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    seen: list[str] = []
    for info in infos:
        addr = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        if addr not in seen:
            seen.append(addr)
    return seen


def checked_addresses(
    host: str, port: int, allowed: Sequence[Network], resolve: Resolver = system_resolver
) -> list[str]:
    """Resolve `host` and return its addresses, or raise RefusedAddress when any of them
    is refused: a name answering with a mix of public and internal addresses is treated
    as hostile."""
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        candidates = [str(literal)]
    else:
        try:
            candidates = resolve(host, port)
        except OSError as exc:
            raise OSError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    if not candidates:
        raise OSError(f"{host} has no address")
    for raw in candidates:
        reason = why_refused(ipaddress.ip_address(raw), allowed)
        if reason is not None:
            raise RefusedAddress(f"refused: {host} resolves to {reason}")
    return candidates
