"""HAProxy's runtime API (the stats socket), standard library only.

One command per connection, in HAProxy's non-interactive mode: HAProxy writes the answer
and closes the connection. Every read is bounded by one deadline for the whole exchange,
so a stuck or half-open socket fails the call instead of hanging the Ansible task (the
unbounded ``recv`` loop of ``community.general.haproxy`` is what hangs there).
"""

from __future__ import annotations

import csv
import re
import socket
import time
from typing import Any

from .base import DriverError

# HAProxy splits a command line on ';' and ends it at a newline, so names that reach a
# command line must not contain either (nor spaces, which separate arguments).
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")

# A "show stat" of a large configuration is a few megabytes; more is not an answer.
MAX_REPLY_BYTES = 32 * 1024 * 1024

# srv_admin_state bits (HAProxy's SRV_ADMF_*): forced, inherited, resolution and
# hostname maintenance make a server unusable; CMAINT (0x04) only records that the
# configuration said "disabled" and stays set after the server is made ready again.
ADMIN_MAINT = 0x01 | 0x02 | 0x20 | 0x40
ADMIN_DRAIN = 0x08 | 0x10


def check_name(kind: str, value: str) -> str:
    """Return ``value`` if it can be placed on a runtime API command line.

    Raises:
        DriverError: the name contains characters HAProxy would interpret.
    """
    if not _SAFE_NAME.match(value):
        raise DriverError(f"invalid HAProxy {kind} name {value!r}")
    return value


def parse_address(spec: str) -> tuple[int, Any]:
    """Turn a stats socket setting into a socket family and address.

    Args:
        spec: ``/path/to/admin.sock`` (or ``unix@/path``), or ``host:port``
            (or ``ipv4@host:port``) for a TCP stats socket.

    Returns:
        ``(family, address)`` for :func:`socket.socket` and ``connect``.

    Raises:
        DriverError: empty or malformed setting.
    """
    spec = spec.strip()
    if spec.startswith("unix@"):
        spec = spec[len("unix@") :]
        return socket.AF_UNIX, spec
    for prefix in ("ipv4@", "tcp@", "tcp4@"):
        if spec.startswith(prefix):
            spec = spec[len(prefix) :]
    if not spec:
        raise DriverError("the haproxy driver needs relrun_haproxy_socket")
    if spec.startswith("/") or ":" not in spec:
        return socket.AF_UNIX, spec
    host, _sep, port = spec.rpartition(":")
    if not host or not port.isdigit():
        raise DriverError(f"bad HAProxy stats socket {spec!r}: want a path or host:port")
    return socket.AF_INET, (host.strip("[]"), int(port))


def run_command(spec: str, command: str, timeout: float) -> str:
    """Send one command and read the whole answer, within ``timeout`` seconds in total.

    Args:
        spec: the stats socket (see :func:`parse_address`).
        command: the runtime API command line (no newline).
        timeout: seconds for connect, send and the complete answer together.

    Returns:
        HAProxy's answer, decoded.

    Raises:
        DriverError: cannot connect, no complete answer in time, or an oversized answer.
    """
    if "\n" in command or "\r" in command:
        raise DriverError("a runtime API command is one line")
    family, address = parse_address(spec)
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(address)
        sock.sendall(command.encode("ascii") + b"\n")
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            # Every recv waits at most for what is left of the deadline: never unbounded.
            sock.settimeout(remaining)
            data = sock.recv(65536)
            if not data:
                break  # HAProxy closed the connection: the answer is complete
            size += len(data)
            if size > MAX_REPLY_BYTES:
                raise DriverError(f"HAProxy {spec}: answer to {command!r} is too large")
            chunks.append(data)
    except TimeoutError:
        raise DriverError(
            f"HAProxy {spec}: no complete answer to {command!r} within {timeout:g}s"
        ) from None
    except (OSError, UnicodeError) as err:
        raise DriverError(f"HAProxy {spec}: {command!r} failed: {err}") from None
    finally:
        sock.close()
    return b"".join(chunks).decode("utf-8", "replace")


def parse_stat_csv(text: str) -> list[dict[str, str]]:
    """Parse ``show stat`` CSV by its header names (columns differ between versions).

    Raises:
        DriverError: the answer is not a stats table (an error message instead).
    """
    if not text.startswith("# "):
        raise DriverError(f"unexpected answer to show stat: {text.strip()[:200]!r}")
    lines = [line for line in text[2:].splitlines() if line.strip()]
    rows = list(csv.DictReader(lines))
    return [{k: v for k, v in row.items() if k} for row in rows]


def parse_servers_state(text: str) -> list[dict[str, str]]:
    """Parse ``show servers state`` (format version 1: a header line, space-separated rows).

    Raises:
        DriverError: unknown format, or an error message instead of a table.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or lines[0].strip() != "1" or not lines[1].startswith("# "):
        raise DriverError(f"unexpected answer to show servers state: {text.strip()[:200]!r}")
    header = lines[1][2:].split()
    return [dict(zip(header, line.split(), strict=False)) for line in lines[2:]]


def parse_info(text: str) -> dict[str, str]:
    """Parse ``show info`` (``Key: value`` lines)."""
    info: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def admin_state(bits: int) -> str:
    """The relrun state (``ready``, ``drain``, ``maint``) of an ``srv_admin_state`` value."""
    if bits & ADMIN_MAINT:
        return "maint"
    if bits & ADMIN_DRAIN:
        return "drain"
    return "ready"


def server_address(addr: str, port: str) -> str | None:
    """``host:port`` of a server, or None while it has no usable address yet.

    A server declared as a placeholder (``0.0.0.0:0``, ``127.0.0.1:0`` or
    ``init-addr none``) has port 0 or no address: it is not registered.
    """
    if not addr or addr in ("-", "0.0.0.0", "::") or not port.isdigit() or int(port) == 0:
        return None
    host = f"[{addr}]" if ":" in addr else addr
    return f"{host}:{int(port)}"


def to_int(value: str | None) -> int:
    """A stats field as an integer (HAProxy leaves fields that do not apply empty)."""
    try:
        return int(value or 0)
    except ValueError:
        return 0
