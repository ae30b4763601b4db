"""Which addresses a data source may make Ladder fetch.

A member must not be able to point the bot at arbitrary internal URLs. Link-local and cloud
metadata addresses (169.254.169.254 and friends) are refused always; private, loopback and
other non-global addresses only for a host on the workspace's allow-list. The check runs on
every address a host name resolves to, before each request (redirects included) and again
when a connection is opened, so DNS answers that change between the two (rebinding) are
caught as well.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services that are not link-local: never fetched, allow-list or not.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack (also link-local)
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
    )
)


class ForbiddenAddress(Exception):
    """A source's URL leads to an address Ladder may not fetch; the message says why."""


def normalize_host(host: str) -> str:
    """The form hosts are compared in: lower case, no trailing dot, no IPv6 brackets."""
    return host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")


def address_problem(address: str, *, host_allowed: bool) -> str | None:
    """Why `address` may not be fetched, or None if it may."""
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 dressed as IPv6 is judged as the IPv4 address it reaches.
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    if ip in METADATA_ADDRESSES or ip.is_link_local:
        return f"{ip} is a link-local or cloud metadata address, which Ladder never fetches"
    if ip.is_multicast or ip.is_unspecified:
        return f"{ip} is not a host address"
    if not ip.is_global and not host_allowed:
        return (
            f"{ip} is a private address; an admin must add the host to the data source "
            "allow-list first"
        )
    return None


def host_allowed(host: str, allowed_hosts: Collection[str]) -> bool:
    return normalize_host(host) in allowed_hosts


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(normalize_host(host), port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ForbiddenAddress(f"cannot resolve {host}: {error.strerror}") from error
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(host: str, port: int, *, allowed_hosts: Collection[str]) -> list[str]:
    """The addresses of `host`, all of them permitted, or ForbiddenAddress. One refused
    address refuses the host: a name that answers both public and private is suspect."""
    allowed = host_allowed(host, allowed_hosts)
    addresses = resolve(host, port)
    for address in addresses:
        problem = address_problem(address, host_allowed=allowed)
        if problem:
            raise ForbiddenAddress(f"{normalize_host(host)}: {problem}")
    return addresses
