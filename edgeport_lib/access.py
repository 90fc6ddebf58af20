"""Source address allow/deny lists (CIDR), checked by the transports before anything is parsed.

Sans-I/O: ``AccessList.allows(ip)`` answers from the address text alone.

* No rules at all: every source is allowed (the check is one attribute test).
* ``deny`` wins over ``allow``: a source in a denied network is refused even when an allowed
  network also holds it.
* A non-empty ``allow`` list admits only the sources inside one of its networks.
* ``exempt`` addresses (exact IPs) are always allowed: EdgePort's own health probes, which send
  from the listener's address, must reach it whatever the lists say.
* IPv4-mapped IPv6 sources (``::ffff:192.0.2.1``, as a dual-stack socket reports them) are
  checked as the IPv4 address; an IPv6 zone (``fe80::1%eth0``) is ignored. A source that is not
  an IP address at all is refused when any rule exists.

Answers are cached per source text (bounded), so a flood from a few addresses costs one dict
look-up per packet. Refusals are counted (``denied``) and logged once per burst: the first, then
one line per ``LOG_EVERY`` refusals, never one line per packet.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
CACHE_SIZE = 4096
LOG_EVERY = 10000


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """The networks of CIDR texts (``10.0.0.0/8``, ``2001:db8::/32``); host bits are allowed.

    Raises ValueError naming the first entry that is not a CIDR network.
    """
    out = []
    for text in cidrs:
        text = text.strip()
        if "/" not in text:
            raise ValueError(f"{text!r} is not a CIDR network (e.g. 10.0.0.0/8)")
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"{text!r} is not a CIDR network (e.g. 10.0.0.0/8)") from None
    return tuple(out)


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(ip.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    rule: str  # the network that decided, "default" or "not an IP address"


class AccessList:
    """Allow/deny CIDR lists for source addresses; see the module docstring for the rules."""

    def __init__(
        self, allow: Iterable[str] = (), deny: Iterable[str] = (), exempt: Iterable[str] = ()
    ) -> None:
        self.allow = parse_networks(allow)
        self.deny = parse_networks(deny)
        self.exempt = frozenset(filter(None, map(_address, exempt)))
        self.enabled = bool(self.allow or self.deny)
        self.denied = 0  # refusals so far
        self._cache: dict[str, bool] = {}

    def __repr__(self) -> str:
        allow = ", ".join(map(str, self.allow)) or "any"
        deny = ", ".join(map(str, self.deny)) or "none"
        return f"AccessList(allow: {allow}; deny: {deny})"

    def decide(self, ip: str) -> Decision:
        """Whether ``ip`` is allowed, and which rule said so (uncached, not counted)."""
        if not self.enabled:
            return Decision(True, "default")
        address = _address(ip)
        if address is None:
            return Decision(False, "not an IP address")
        if address in self.exempt:
            return Decision(True, "exempt (health probe)")
        for network in self.deny:
            if address.version == network.version and address in network:
                return Decision(False, f"deny {network}")
        if not self.allow:
            return Decision(True, "default")
        for network in self.allow:
            if address.version == network.version and address in network:
                return Decision(True, f"allow {network}")
        return Decision(False, "not in the allow list")

    def allows(self, ip: str) -> bool:
        """True when a packet or connection from ``ip`` may be handled; counts and logs refusals."""
        if not self.enabled:
            return True
        allowed = self._cache.get(ip)
        if allowed is None:
            allowed = self.decide(ip).allowed
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()  # a spoofed-source flood must not grow the cache without end
            self._cache[ip] = allowed
        if not allowed:
            self.denied += 1
            if self.denied == 1 or self.denied % LOG_EVERY == 0:
                log.warning(
                    "dropped traffic from %s: source address denied by access control (%d denied so far)",
                    ip,
                    self.denied,
                )
        return allowed


ALLOW_ALL = AccessList()
