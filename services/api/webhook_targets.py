"""Where the service may send a webhook: public addresses, and the networks its settings allow besides.

A caller names the URL, and the service POSTs to it from inside its own network: without a check, a caller could
make it reach the cloud's metadata service (169.254.169.254, which hands out credentials), a database on 10.x, or
Ray's dashboard on the head node (server-side request forgery). So every address a webhook's host resolves to must
be globally routable or inside one of ``ApiSettings.webhook_networks``; by default those are the loopback networks,
so a receiver on the service's own machine (development, the tests) still works. A deployment that should never
call back into its machine sets ``webhook_networks: []``.

Decisions where the contract is silent:

- Checked twice. At intake, a URL whose host is an address (or ``localhost``) is refused with 422 at once; a host
  name is not resolved there (DNS would add its latency, or its outage, to every POST). At delivery, before each
  attempt, the host is resolved and every address it resolves to is checked: a name that points at one private
  address among public ones is refused, as the connection could land on any of them.
- The connection goes to the address that was checked, not to a second lookup (``pinned``): a name that answers a
  public address to the check and a private one to the connection (DNS rebinding) reaches only the public one. For
  ``https``, TLS still verifies the certificate against the URL's host name (``sni_hostname``).
- A refused address fails the delivery at once, not retried: the same name will resolve the same way in a minute.
  A name that does not resolve is retried like a receiver that does not answer.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from cues.schemas.errors import InvalidRequest

DEFAULT_WEBHOOK_NETWORKS = ("127.0.0.0/8", "::1/128")  # this machine: a receiver beside the service
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]  # (host, port) → the addresses it resolves to


class WebhookTargetRefused(InvalidRequest):
    """A webhook's host is, or resolves to, an address the service does not send to."""


class WebhookHostUnresolved(Exception):
    """A webhook's host name did not resolve (now: DNS may answer on a later attempt)."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, by the system's resolver (``getaddrinfo``), in its order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookHostUnresolved(f"{host} does not resolve: {error}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class WebhookTargets:
    """The service's rule for webhook addresses: public ones, and those inside ``networks``."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
        ipaddress.ip_network(n) for n in DEFAULT_WEBHOOK_NETWORKS
    )
    resolve: Resolver = system_resolver

    @classmethod
    def allowing(cls, networks: Sequence[str], resolve: Resolver = system_resolver) -> WebhookTargets:
        """The rule for CIDR ``networks`` (``ApiSettings.webhook_networks``)."""
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks), resolve)

    def permits(self, address: str) -> bool:
        ip = _plain(ipaddress.ip_address(address.split("%", 1)[0]))  # an IPv6 zone (fe80::1%eth0) is not global
        public = ip.is_global and not ip.is_multicast  # Python counts most multicast ranges as global
        return public or any(ip.version == net.version and ip in net for net in self.networks)

    def check_at_intake(self, url: str) -> None:
        """Refuse a URL whose host is an address the service does not send to (``localhost`` counts as its
        loopback addresses); a host name is left to :meth:`pinned`, at delivery."""
        host = urlsplit(url).hostname or ""
        for address in _literal_addresses(host):
            if not self.permits(address):
                raise WebhookTargetRefused(_refusal(host, address))

    def pinned(self, url: str) -> tuple[str, dict[str, str], dict[str, str]]:
        """The URL to connect to (its host replaced by the one checked address), the headers and the request
        extensions that keep the request addressed to the original host (``Host``; TLS's ``sni_hostname``).

        Raises :class:`WebhookTargetRefused` if any address of the host is refused, :class:`WebhookHostUnresolved`
        if it does not resolve."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = _literal_addresses(host) or self.resolve(host, port)
        if not addresses:
            raise WebhookHostUnresolved(f"{host} resolves to no address")
        for address in addresses:
            if not self.permits(address):
                raise WebhookTargetRefused(_refusal(host, address))
        if _is_address(host):
            return url, {}, {}
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        return _with_host(parts, addresses[0].split("%", 1)[0]), {"Host": parts.netloc}, extensions


def _plain(ip: Address) -> Address:
    """An IPv4 address written as IPv6 (``::ffff:10.0.0.1``) is that IPv4 address, for the rule."""
    return ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip


def _literal_addresses(host: str) -> list[str]:
    """The addresses a host stands for without DNS: an IP literal itself, ``localhost`` its loopback ones."""
    if host.lower().rstrip(".") == "localhost" or host.lower().endswith(".localhost"):
        return ["127.0.0.1", "::1"]  # RFC 6761: always loopback, whatever a resolver says
    return [str(ipaddress.ip_address(host.split("%", 1)[0]))] if _is_address(host) else []


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _refusal(host: str, address: str) -> str:
    where = host if host == address else f"{host} resolves to {address}, which"
    return (
        f"webhook host {where} is not a public address, and the service sends webhooks only to public addresses "
        "and the networks of its setting webhook_networks"
    )


def _with_host(parts: SplitResult, address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()
