"""The private-network guard's rules: which addresses liseuse may connect to.

A feed URL is chosen by whoever subscribes, so without a guard anyone with an account could make
the server fetch its own admin pages, the router, or the cloud metadata service at
169.254.169.254 and read the answer back as a "feed". Only public unicast addresses are allowed.

Pure functions, no I/O and no DNS: `fetch` applies them to every address it is about to connect
to, on every redirect hop. This module does not resolve names and does not know about aiohttp.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from liseuse.pipeline import reasons

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "LISEUSE_ALLOW_PRIVATE_NETWORKS"
NETWORKS_SETTING = "LISEUSE_ALLOWED_NETWORKS"

# Cloud providers' metadata services, which hand out the machine's credentials to whoever asks
# from it. They stay refused when private networks are allowed (an intranet has feeds, these
# never do), unless an allowed network names them: lifting the guard to read one intranet feed
# must not turn a feed URL into a way to the machine's keys. Clouds put them in IPv4's
# link-local range, each at its own address (AWS, GCP, Azure, OpenStack, DigitalOcean…
# 169.254.169.254; AWS's containers 169.254.170.2 and .23; Scaleway 169.254.42.42), so the
# whole range stays closed: a list of addresses missed the next cloud's. Elsewhere, the known
# ones: Alibaba Cloud 100.100.100.200, AWS fd00:ec2::254 and ::23, Scaleway fd00:42::42.
_METADATA = frozenset(
    ipaddress.ip_address(address)
    for address in (
        *("169.254.169.254", "169.254.170.2", "169.254.170.23", "169.254.42.42"),
        *("100.100.100.200", "fd00:ec2::254", "fd00:ec2::23", "fd00:42::42"),
    )
)
_LINK_LOCAL_V4 = ipaddress.IPv4Network("169.254.0.0/16")

# Every range that is not a public unicast destination, with how to call it in an error message
# (the first match names it, so a narrow range comes before a wider one holding it).
# The standard library's `is_global` is consulted as well, but its lists change between Python
# versions; this table is the part a reader can check against the IANA registries.
_NON_PUBLIC: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(network), kind)
    for network, kind in (
        # IPv4
        ("0.0.0.0/8", reasons.UNSPECIFIED),  # 0.0.0.0 reaches the local host on Linux
        ("10.0.0.0/8", reasons.PRIVATE),  # RFC 1918
        ("100.64.0.0/10", reasons.CARRIER_NAT),  # RFC 6598, often the provider's own boxes
        ("127.0.0.0/8", reasons.LOOPBACK),
        ("169.254.0.0/16", reasons.LINK_LOCAL),  # includes the cloud metadata service
        ("172.16.0.0/12", reasons.PRIVATE),  # RFC 1918
        ("192.0.0.0/24", reasons.RESERVED),  # IETF protocol assignments
        ("192.0.2.0/24", reasons.DOCUMENTATION),
        ("192.88.99.0/24", reasons.RESERVED),  # deprecated 6to4 relay anycast
        ("192.168.0.0/16", reasons.PRIVATE),  # RFC 1918
        ("198.18.0.0/15", reasons.RESERVED),  # benchmarking
        ("198.51.100.0/24", reasons.DOCUMENTATION),
        ("203.0.113.0/24", reasons.DOCUMENTATION),
        ("224.0.0.0/4", reasons.MULTICAST),
        ("240.0.0.0/4", reasons.RESERVED),  # includes the broadcast address 255.255.255.255
        # IPv6 (IPv4 embedded in IPv6 is unwrapped before this table is read, see below)
        ("::/128", reasons.UNSPECIFIED),
        ("::1/128", reasons.LOOPBACK),
        ("::/96", reasons.RESERVED),  # the deprecated IPv4-compatible form, ::127.0.0.1
        ("100::/64", reasons.RESERVED),  # discard-only
        ("2001::/23", reasons.RESERVED),  # IETF protocol assignments, including Teredo
        ("2001:db8::/32", reasons.DOCUMENTATION),
        ("3fff::/20", reasons.DOCUMENTATION),  # RFC 9637, the second documentation block
        ("5f00::/16", reasons.RESERVED),  # RFC 9602, segment routing identifiers
        ("fc00::/7", reasons.PRIVATE),  # unique local addresses
        ("fe80::/10", reasons.LINK_LOCAL),
        ("fec0::/10", reasons.PRIVATE),  # deprecated site-local
        ("ff00::/8", reasons.MULTICAST),
    )
)

# IPv6 ranges whose last 32 bits are an IPv4 address that the packet ends up going to.
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215, a network's own translator


def parse_host_as_ip(host: str) -> IPAddress | None:
    """The address a URL host denotes if it is an IP literal, in any spelling; None for a name.

    Besides the usual forms, this reads the IPv4 spellings that the C library (inet_aton) and
    browsers accept: one to four parts, each decimal, octal (leading 0) or hexadecimal (0x),
    the last part filling the remaining bytes, so 2130706433, 0177.0.0.1, 0x7f.0.0.1 and 127.1
    all mean 127.0.0.1. A host that the resolver would read as an address must be checked as one.
    """
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            return None
    return _parse_loose_ipv4(host)


def _parse_loose_ipv4(host: str) -> ipaddress.IPv4Address | None:
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # the trailing dot of a fully qualified name: "127.0.0.1." is still an IP
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_parse_ipv4_number(part) for part in parts]
    if any(number is None for number in numbers):
        return None
    *leading, last = [number for number in numbers if number is not None]
    if any(number > 0xFF for number in leading) or last >= 256 ** (4 - len(leading)):
        return None
    value = last
    for position, number in enumerate(leading):
        value += number << (8 * (3 - position))
    return ipaddress.IPv4Address(value)


def _parse_ipv4_number(part: str) -> int | None:
    text = part.lower()
    if not text.isascii() or not text:
        return None
    if text.startswith("0x"):
        digits, base, allowed = text[2:], 16, "0123456789abcdef"
    elif len(text) > 1 and text.startswith("0"):
        digits, base, allowed = text[1:], 8, "01234567"
    else:
        digits, base, allowed = text, 10, "0123456789"
    if not digits:
        return (
            0  # a bare "0x" counts as zero for browsers; reading it as an address is the safe side
        )
    if any(char not in allowed for char in digits):
        return None
    return int(digits, base)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address really leads to (IPv4-mapped, NAT64, 6to4), if any."""
    if ip in _IPV4_MAPPED or ip in _NAT64 or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(ip.packed[-4:])
    return ip.sixtofour


def non_public_kind(ip: IPAddress) -> str | None:
    """How to name a refused address ("a loopback address"…), or None if it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return non_public_kind(inner)
    for network, kind in _NON_PUBLIC:
        if ip.version == network.version and ip in network:
            return kind
    if not ip.is_global:  # pragma: no cover - only if a later Python knows more than the table
        return reasons.NON_PUBLIC
    return None


def is_public_address(ip: IPAddress) -> bool:
    """True when `ip` is a public unicast address that the guard lets liseuse connect to."""
    return non_public_kind(ip) is None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """The guard as configured: off entirely, or on with a few private networks let through."""

    allow_private_networks: bool = False
    # Private networks allowed anyway, e.g. ("192.168.1.10/32",) for a feed bridge on the LAN.
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def build(
        cls, *, allow_private_networks: bool, allowed_networks: Iterable[str]
    ) -> AddressPolicy:
        networks = tuple(
            ipaddress.ip_network(network, strict=False) for network in allowed_networks
        )
        return cls(allow_private_networks=allow_private_networks, allowed_networks=networks)

    def refusal(self, ip: IPAddress, *, host: str | None = None) -> str | None:
        """Why connecting to `ip` is refused, in words for the feed-health page; None if allowed.

        `host` is the name or spelling the URL used, quoted when it differs from the address.
        """
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and (inner := embedded_ipv4(ip)) is not None:
            candidates.append(inner)
        if any(
            c.version == n.version and c in n for c in candidates for n in self.allowed_networks
        ):
            return None
        setting = ALLOW_SETTING
        if any(c in _METADATA for c in candidates):
            kind: str | None = reasons.METADATA
            setting = NETWORKS_SETTING
        elif any(c.version == 4 and c in _LINK_LOCAL_V4 for c in candidates):
            kind = reasons.LINK_LOCAL  # where clouds put their metadata services
            setting = NETWORKS_SETTING
        elif self.allow_private_networks:
            return None
        else:
            kind = non_public_kind(ip)
        if kind is None:
            return None
        shown = str(ip)
        if isinstance(ip, ipaddress.IPv6Address) and (inner := embedded_ipv4(ip)) is not None:
            shown = reasons.MAPPED_ADDRESS.format(address=ip, inner=inner)
        if host is None or host.strip("[]") == str(ip):
            template = reasons.REFUSED_ADDRESS
        elif parse_host_as_ip(host) is not None:
            template = reasons.REFUSED_SPELLING
        else:
            template = reasons.REFUSED_NAME
        return template.format(host=host, address=shown, kind=kind, setting=setting)
