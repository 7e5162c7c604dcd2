"""Which address a request comes from: X-Forwarded-For is believed only from our own
proxies (CSKH_TRUSTED_PROXIES), and only as far back as they reach (issue 12)."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from aiohttp.test_utils import make_mocked_request

from bot.channels.base import client_address
from bot.core.network import client_key, network_of

PROXIES = [ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32")]


def address(peer: str, forwarded: str | None) -> str | None:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    request = make_mocked_request("GET", "/", headers=headers)
    request._transport_peername = (peer, 1234)  # type: ignore[attr-defined]
    return client_address(request, PROXIES)


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # not our proxy: its header is a lie
        ("10.0.0.5", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.5", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # only our hop is believed
        ("10.0.0.5", "198.51.100.7, 10.0.0.9", "198.51.100.7"),  # through two proxies
        ("10.0.0.5", "not-an-ip, 198.51.100.7", "198.51.100.7"),
        ("10.0.0.5", "198.51.100.7, garbage", "10.0.0.5"),  # trust nothing before garbage
        ("10.0.0.5", None, "10.0.0.5"),
        ("::ffff:203.0.113.9", None, "203.0.113.9"),
        ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_x_forwarded_for_is_believed_only_from_our_proxies(
    peer: str, forwarded: str | None, client: str
) -> None:
    assert address(peer, forwarded) == client


def test_an_ipv6_client_is_counted_by_its_64_and_networks_by_24_or_64() -> None:
    assert (
        client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9") == ("2001:db8:1:2::/64")
    )
    assert client_key("203.0.113.9") == "203.0.113.9"
    assert network_of("203.0.113.9") == "203.0.113.0/24"
    assert client_key("nonsense") is None and network_of(None) is None
