"""Running one aiohttp program: bind port 0, announce the port, stop on SIGTERM.

Shared by the API server and the router (the ``__main__`` side of both).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from relrun.sandbox.layout import write_json

HOST = "127.0.0.1"


async def start_site(
    app: web.Application, *, shutdown_timeout: float = 5.0, host: str = HOST
) -> tuple[web.AppRunner, int]:
    """Start ``app`` on ``host`` (default 127.0.0.1) with an OS-chosen port.

    Access logs are off: request lines may carry ``?access_token=``.

    Returns:
        The runner (for cleanup) and the port actually bound.
    """
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    # Binding the socket ourselves is how we learn the OS-chosen port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    site = web.SockSite(runner, sock, backlog=512)
    await site.start()
    return runner, int(sock.getsockname()[1])


async def wait_for_stop() -> None:
    """Return when SIGTERM or SIGINT arrives."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def announce(path: Path, **fields: Any) -> None:
    """Write the announcement file once the program is listening.

    Args:
        path: the announcement file in the state directory.
        **fields: ports, version and the like; pid and start time are added.
    """
    write_json(path, {"pid": os.getpid(), "started_at": time.time(), **fields})


def run_program(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run an async program main with plain logging to standard error (the log file)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
