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


def _plain(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return address


def why_refused(address: Address, allowed: Sequence[Network]) -> str | None:
    """None when `address` may be reached, else the reason (pure)."""
    address = _plain(address)
    if any(address in net for net in allowed if net.version == address.version):
        return None
    if address.is_global and not address.is_multicast:
        return None
    kind = (
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
    return f"{address} is {kind} and not in TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS"


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
