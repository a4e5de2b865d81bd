"""The private-network guard: its rules, then the fetcher with the guard ON against a real server
on 127.0.0.1 that must hear nothing. No test here sets allow_private_networks, save the one that
proves the setting lifts the guard."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable

import pytest

from liseuse.pipeline.fetch import FetchConfig
from liseuse.pipeline.fetch import Fetcher
from liseuse.pipeline.fetch import GuardedResolver
from liseuse.pipeline.fetch import _guarded_socket_factory
from liseuse.pipeline.netguard import AddressPolicy
from liseuse.pipeline.netguard import is_public_address
from liseuse.pipeline.netguard import parse_host_as_ip
from liseuse.pipeline.types import BlockedAddressError
from liseuse.pipeline.types import FetchResult
from tests.httpserver import FakeResolver
from tests.httpserver import LocalServer
from tests.httpserver import Reply

GUARDED = FetchConfig()  # the default: guard on
OPEN = FetchConfig(allow_private_networks=True)
RSS = b'<rss version="2.0"><channel><title>t</title></channel></rss>'
HINT = "(set LISEUSE_ALLOW_PRIVATE_NETWORKS to allow)"


def fetch(
    url: str, config: FetchConfig = GUARDED, resolver: FakeResolver | None = None
) -> FetchResult:
    async def run() -> FetchResult:
        async with Fetcher(config, resolver=resolver) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(run())


def refusal(url: str, config: FetchConfig = GUARDED, resolver: FakeResolver | None = None) -> str:
    with pytest.raises(BlockedAddressError) as caught:
        fetch(url, config, resolver)
    return caught.value.reason


# The rules, as pure functions


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",  # decimal
        "0177.0.0.1",  # octal
        "0x7f.0.0.1",  # hexadecimal
        "0x7F000001",
        "017700000001",
        "127.1",  # short forms
        "127.0.1",
        "0x7f.1",
        "127.0.0.1.",  # fully qualified
    ],
)
def test_odd_ipv4_spellings_are_read_as_the_address_they_mean(host: str) -> None:
    assert parse_host_as_ip(host) == ipaddress.IPv4Address("127.0.0.1")


@pytest.mark.parametrize(
    ("host", "address"),
    [("[::1]", "::1"), ("::ffff:127.0.0.1", "::ffff:7f00:1"), ("[fe80::1%eth0]", "fe80::1%eth0")],
)
def test_ipv6_literals_are_read(host: str, address: str) -> None:
    assert parse_host_as_ip(host) == ipaddress.IPv6Address(address)


def test_a_bare_hex_prefix_reads_as_zero_as_browsers_do() -> None:
    assert parse_host_as_ip("0x.0x.0x.0x") == ipaddress.IPv4Address("0.0.0.0")


@pytest.mark.parametrize(
    "host",
    ["example.com", "1.2.3.4.5", "08.0.0.1", "256.0.0.1", "4294967296", "127.0.0.x", "", "[::zz]"],
)
def test_names_and_impossible_numbers_are_not_addresses(host: str) -> None:
    assert parse_host_as_ip(host) is None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.0.9",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",  # multicast
        "255.255.255.255",
        "240.0.0.1",
        "192.0.2.1",
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "fd12:3456::1",  # unique local
        "fec0::1",  # old site-local
        "ff02::1",  # multicast
        "2001:db8::1",
        "3fff::1",  # the second documentation block (RFC 9637)
        "5f00::1",  # segment routing (RFC 9602)
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",  # IPv4-compatible
        "64:ff9b::10.0.0.1",  # NAT64
        "2002:a00:1::1",  # 6to4 around 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "93.184.216.34",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "2002:808:808::1",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


def test_a_refusal_says_what_the_address_is_and_how_to_allow_it() -> None:
    policy = AddressPolicy()
    assert (
        policy.refusal(ipaddress.ip_address("10.0.0.1"))
        == f"refused: 10.0.0.1 is a private address {HINT}"
    )
    assert policy.refusal(ipaddress.ip_address("8.8.8.8")) is None


def test_allowed_networks_let_a_few_private_addresses_through() -> None:
    policy = AddressPolicy.build(allow_private_networks=False, allowed_networks=["192.168.1.0/24"])
    assert policy.refusal(ipaddress.ip_address("192.168.1.20")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:192.168.1.20")) is None
    assert policy.refusal(ipaddress.ip_address("192.168.2.20")) is not None


# The fetcher with the guard on: nothing may reach the local server


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("2130706433", "2130706433 means 127.0.0.1, which is a loopback address"),
        ("0177.0.0.1", "0177.0.0.1 means 127.0.0.1, which is a loopback address"),
        ("0x7f.0.0.1", "0x7f.0.0.1 means 127.0.0.1, which is a loopback address"),
        ("127.1", "127.1 means 127.0.0.1, which is a loopback address"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1 (that is 127.0.0.1) is a loopback address"),
        ("[::1]", "::1 is a loopback address"),
        ("0.0.0.0", "0.0.0.0 is an unspecified address"),
    ],
)
def test_loopback_in_any_spelling_is_refused_and_the_server_hears_nothing(
    host: str, reason: str
) -> None:
    with LocalServer({"/feed": Reply(body=RSS)}) as server:
        assert refusal(server.url("/feed", host=host)) == f"refused: {reason} {HINT}"
    assert server.requests == []


def test_the_cloud_metadata_address_is_refused() -> None:
    reason = refusal("http://169.254.169.254/latest/meta-data/")
    hint = "(set LISEUSE_ALLOWED_NETWORKS to allow)"
    assert reason == f"refused: 169.254.169.254 is a cloud metadata service {hint}"


@pytest.mark.parametrize(
    "host",
    ["169.254.169.254", "[::ffff:169.254.169.254]", "2852039166", "[fd00:ec2::254]", "metadata"],
)
def test_cloud_metadata_stays_refused_when_private_networks_are_allowed(host: str) -> None:
    # Lifting the guard to read an intranet feed must not open the machine's credentials.
    resolver = FakeResolver({"metadata": ["169.254.170.2"]})
    reason = refusal(f"http://{host}/latest/meta-data/", OPEN, resolver)
    assert "a cloud metadata service (set LISEUSE_ALLOWED_NETWORKS to allow)" in reason


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("169.254.42.42", "a cloud metadata service"),  # Scaleway
        ("fd00:42::42", "a cloud metadata service"),  # Scaleway, IPv6
        ("169.254.0.23", "a link-local address"),  # another cloud's, in the same range
        ("64:ff9b::169.254.0.23", "a link-local address"),
    ],
)
def test_every_clouds_metadata_service_stays_refused_not_only_the_best_known(
    address: str, kind: str
) -> None:
    # Clouds put these services in IPv4's link-local range, each at an address of its own: a
    # list of the known ones left the others open as soon as private networks were allowed.
    # (The rules alone: a test never connects anywhere but to loopback.)
    opened = AddressPolicy(allow_private_networks=True)
    reason = opened.refusal(ipaddress.ip_address(address))
    assert reason is not None and f"{kind} (set LISEUSE_ALLOWED_NETWORKS to allow)" in reason
    hint = "(set LISEUSE_ALLOWED_NETWORKS to allow)"
    guarded = AddressPolicy().refusal(ipaddress.ip_address("169.254.1.1"))
    assert guarded == f"refused: 169.254.1.1 is a link-local address {hint}"
    lan = AddressPolicy.build(allow_private_networks=True, allowed_networks=["169.254.7.0/24"])
    assert lan.refusal(ipaddress.ip_address("169.254.7.9")) is None, "named, it is let through"


def test_a_metadata_address_named_in_the_allowed_networks_is_let_through() -> None:
    policy = AddressPolicy.build(
        allow_private_networks=True, allowed_networks=["169.254.169.254/32"]
    )
    assert policy.refusal(ipaddress.ip_address("169.254.169.254")) is None
    assert policy.refusal(ipaddress.ip_address("169.254.170.2")) is not None


def test_a_public_looking_name_resolving_to_a_private_address_is_refused() -> None:
    resolver = FakeResolver({"feeds.example": ["10.0.0.1"]})
    reason = refusal("https://feeds.example/rss", resolver=resolver)
    assert (
        reason == f"refused: feeds.example resolves to 10.0.0.1, which is a private address {HINT}"
    )


def test_a_name_resolving_to_loopback_never_reaches_the_server() -> None:
    resolver = FakeResolver({"feeds.example": ["127.0.0.1"]})
    with LocalServer({"/feed": Reply(body=RSS)}) as server:
        refusal(server.url("/feed", host="feeds.example"), resolver=resolver)
    assert server.requests == []


def test_a_name_resolving_to_ipv4_mapped_loopback_is_refused() -> None:
    resolver = FakeResolver({"feeds.example": ["::ffff:127.0.0.1"]})
    assert "(that is 127.0.0.1), which is a loopback" in refusal(
        "http://feeds.example/", resolver=resolver
    )


def test_only_the_public_answers_of_a_mixed_lookup_are_kept() -> None:
    async def run() -> list[str]:
        inner = FakeResolver({"mixed.example": ["10.0.0.1", "93.184.216.34", "::1"]})
        answers = await GuardedResolver(inner, AddressPolicy()).resolve("mixed.example", 443)
        return [answer["host"] for answer in answers]

    assert asyncio.run(run()) == ["93.184.216.34"]


def test_the_resolver_reads_odd_spellings_itself_rather_than_asking_dns() -> None:
    async def run(host: str) -> list[str]:
        inner = FakeResolver({})
        answers = await GuardedResolver(inner, AddressPolicy()).resolve(host, 80)
        assert inner.lookups == []
        return [answer["host"] for answer in answers]

    assert asyncio.run(run("134744072")) == ["8.8.8.8"]
    with pytest.raises(BlockedAddressError, match=r"0x7f\.1 means 127\.0\.0\.1"):
        asyncio.run(run("0x7f.1"))


# Redirects and rebinding: an allowed first server (127.0.0.1 let through by name) leads elsewhere

FIRST_ONLY = FetchConfig(allowed_networks=("127.0.0.1/32",))


def test_the_allowed_network_setting_lets_the_first_server_answer() -> None:
    with LocalServer({"/feed": Reply(body=RSS)}) as server:
        assert fetch(server.url("/feed"), FIRST_ONLY).body == RSS


def test_a_redirect_to_another_loopback_address_is_refused() -> None:
    with LocalServer({"/feed": Reply(body=RSS)}, host="127.0.0.2") as private:
        routes = {"/feed": Reply(302, {"Location": private.url("/feed")})}
        with LocalServer(routes) as public:
            reason = refusal(public.url("/feed"), FIRST_ONLY)
    assert reason == f"refused: 127.0.0.2 is a loopback address {HINT}"
    assert public.paths() == ["/feed"]
    assert private.requests == []


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:10.0.0.1]/",
        "http://167772161/",  # 10.0.0.1 in decimal
        "http://internal.example/",  # a name the fake DNS sends to 192.168.0.10
    ],
)
def test_a_redirect_to_a_private_address_is_refused(location: str) -> None:
    resolver = FakeResolver({"internal.example": ["192.168.0.10"]})
    with LocalServer({"/feed": Reply(301, {"Location": location})}) as server:
        refusal(server.url("/feed"), FIRST_ONLY, resolver)
    assert server.paths() == ["/feed"]


def test_dns_rebinding_is_checked_on_the_answer_used_to_connect() -> None:
    # The name first answers the allowed server, then a private one: each connection uses the
    # answer that was checked, and the private server never hears a thing.
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])
    resolver = FakeResolver({"rebind.example": lambda: next(answers)})
    with (
        LocalServer({"/feed": Reply(body=RSS)}, host="127.0.0.2") as private,
        LocalServer({"/feed": Reply(body=RSS)}) as allowed,
    ):
        url = allowed.url("/feed", host="rebind.example")
        assert fetch(url, FIRST_ONLY, resolver).body == RSS
        reason = refusal(url, FIRST_ONLY, resolver)  # a new batch: a new lookup
    assert reason.startswith("refused: rebind.example resolves to 127.0.0.2")
    assert resolver.lookups == ["rebind.example", "rebind.example"]
    assert len(allowed.requests) == 1
    assert private.requests == []


def test_the_socket_factory_refuses_a_private_address_as_a_last_line() -> None:
    make_socket: Callable[..., socket.socket] = _guarded_socket_factory(AddressPolicy())
    with pytest.raises(OSError, match=r"refused: 127\.0\.0\.1 is a loopback address"):
        make_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)))
    make_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80))).close()


def test_the_socket_factory_still_refuses_if_the_earlier_checks_are_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Remove the IP-literal check: the address reaches aiohttp, which connects without asking
    # the resolver, and only the socket factory stands in the way.
    monkeypatch.setattr(Fetcher, "_check_ip_literal", lambda self, url: None)
    with LocalServer({"/feed": Reply(body=RSS)}) as server:
        reason = refusal(server.url("/feed"))
    assert reason == f"refused: 127.0.0.1 is a loopback address {HINT}"
    assert server.requests == []


def test_allow_private_networks_lifts_the_guard() -> None:
    with LocalServer({"/feed": Reply(body=RSS)}) as server:
        assert fetch(server.url("/feed"), FetchConfig(allow_private_networks=True)).body == RSS
