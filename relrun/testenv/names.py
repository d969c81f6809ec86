"""Names and addresses of one environment: everything it creates carries its prefix.

Interface names are at most 15 characters, so an environment is ``rrt`` + 4 hex digits;
its bridge, namespaces and veth ends all start with that, which is how
:func:`relrun.testenv.registry.cleanup_stale` finds leftovers of killed runs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

PREFIX = "rrt"
#: The private test range: 10.231.N.0/24, one /24 per environment, only on our bridges.
NETWORK = "10.231"
LB_HOST = "lb-1"
CLIENT = "client"
HTTP_PORT = 80
ADMIN_PORT = 9999
SSH_PORT = 22


def new_id() -> str:
    """A fresh environment id: the prefix and 4 hex digits (``rrt3fa9``)."""
    return PREFIX + secrets.token_hex(2)


@dataclass(frozen=True)
class Names:
    """Every name and address of one environment.

    Attributes:
        env_id: ``rrtXXXX``.
        subnet: N of 10.231.N.0/24.
    """

    env_id: str
    subnet: int

    @property
    def bridge(self) -> str:
        """The bridge in the root namespace."""
        return f"{self.env_id}br"

    @property
    def gateway(self) -> str:
        """The bridge's own address (the root namespace's side)."""
        return self.address(1)

    def address(self, last: int) -> str:
        """10.231.N.last."""
        return f"{NETWORK}.{self.subnet}.{last}"

    def namespace(self, host: str) -> str:
        """The network namespace of ``host`` (``lb-1``, ``app-3``, ``client``)."""
        return f"{self.env_id}-{host}"

    def veth(self, index: int) -> str:
        """The root-namespace end of host number ``index``'s veth pair."""
        return f"{self.env_id}v{index}"


def app_host(index: int) -> str:
    """Inventory name of app host ``index`` (1-based)."""
    return f"app-{index}"


def app_number(host: str) -> int:
    """The number of app host ``app-i``: i."""
    return int(host.rsplit("-", 1)[1])


def host_last_octet(host: str) -> int:
    """The last address octet of a host: the LB .2, the client .3, app-i .(10+i)."""
    if host == LB_HOST:
        return 2
    if host == CLIENT:
        return 3
    return 10 + app_number(host)
