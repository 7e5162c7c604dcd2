"""Client addresses and the networks they belong to, for limits per origin."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Networks = Sequence[IPv4Network | IPv6Network]

# One customer or one attacker usually holds a whole /24 of IPv4 (a small provider
# block) or a /64 of IPv6 (what a single home or server is given): limits per network
# catch an attacker rotating addresses inside it.
IPV4_PREFIX = 24
IPV6_PREFIX = 64


def network_of(address: str | None) -> str | None:
    """The /24 (IPv4) or /64 (IPv6) network of an address, as "a.b.c.0/24"; None for
    no address or one that does not parse."""
    if not address:
        return None
    try:
        parsed = ip_address(address)
    except ValueError:
        return None
    prefix = IPV4_PREFIX if parsed.version == 4 else IPV6_PREFIX
    return str(ip_network(f"{parsed}/{prefix}", strict=False))


def client_key(address: str | None) -> str | None:
    """What the limits count as one client: an IPv4 address as it is, an IPv6 address by
    its /64 (one home or one server holds a whole /64 and can use any address in it)."""
    if not address:
        return None
    try:
        parsed = ip_address(address)
    except ValueError:
        return None
    if parsed.version == 6:
        return str(ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


def client_address_from(
    remote: str | None, forwarded_for: Sequence[str], trusted_proxies: Networks
) -> str | None:
    """The customer's network address: the peer, or, when the peer is one of our
    trusted proxies (CSKH_TRUSTED_PROXIES), the nearest address in X-Forwarded-For that
    is not ours. Anybody can write X-Forwarded-For, so it is read only from a proxy
    we trust and only as far back as our own proxies reach (issue 12, point 1)."""
    peer = _parse_address(remote)
    if peer is None or not _within(peer, trusted_proxies):
        return str(peer) if peer is not None else None
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    client = peer
    for hop in reversed(hops):
        address = _parse_address(hop)
        if address is None:
            break  # garbage in the header: trust nothing before it
        client = address
        if not _within(address, trusted_proxies):
            break
    return str(client)


def _parse_address(value: str | None) -> IPv4Address | IPv6Address | None:
    if not value:
        return None
    try:
        address = ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(address: IPv4Address | IPv6Address, networks: Networks) -> bool:
    return any(address.version == net.version and address in net for net in networks)
