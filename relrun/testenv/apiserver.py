"""``python -m relrun.testenv.apiserver ARGS``: the demo API on every address of its host.

The same program as ``python -m relrun.sandbox.api`` (same arguments), except that it
listens on 0.0.0.0 instead of 127.0.0.1: inside a fleet host's namespace that is the
host's own address (where HAProxy reaches it) plus its private loopback (where the drill's
fault module reaches it). Nothing else shares a namespace, so nothing else is exposed.
"""

from __future__ import annotations

from relrun.sandbox import api, serve

ALL_ADDRESSES = "0.0.0.0"


def main() -> None:
    """Serve the demo API on every address of this network namespace."""
    serve.HOST = ALL_ADDRESSES
    api.main()


if __name__ == "__main__":
    main()
