"""Client addresses and the networks they belong to, for limits per origin."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

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
