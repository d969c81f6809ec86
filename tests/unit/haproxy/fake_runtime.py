"""A fake HAProxy runtime API on a UNIX socket: canned answers, one command per connection."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

STAT_HEADER = (
    "# pxname,svname,qcur,scur,stot,econ,eresp,status,weight,hrsp_1xx,hrsp_2xx,hrsp_3xx,"
    "hrsp_4xx,hrsp_5xx,hrsp_other,rtime,ttime,addr,"
)
STATE_HEADER = (
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
    "srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
    "srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr "
    "srv_agent_port\n"
)


def stat_row(backend: str, name: str, *, scur: int = 0, stot: int = 0, h2: int = 0,
             h5: int = 0, econ: int = 0, eresp: int = 0, rtime: int = 0,
             ttime: int | None = None) -> str:
    total = rtime if ttime is None else ttime
    return (f"{backend},{name},0,{scur},{stot},{econ},{eresp},no check,1,0,{h2},0,0,{h5},0,"
            f"{rtime},{total},127.0.0.1:1,")


def state_row(backend: str, sid: int, name: str, *, addr: str = "127.0.0.1", port: int = 8000,
              admin: int = 0, weight: int = 1) -> str:
    return (f"3 {backend} {sid} {name} {addr} 2 {admin} {weight} 1 1 1 0 2 0 0 0 0 - {port} - "
            "0 0 - - 0")


class FakeRuntime:
    """Answers commands with ``handler(command) -> text`` and records what it was sent."""

    def __init__(self, path: Path, handler: Callable[[str], str], *, close: bool = True) -> None:
        self.path = str(path)
        self.handler = handler
        self.close = close
        self.commands: list[str] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(8)
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            command = data.decode().strip()
            self.commands.append(command)
            conn.sendall(self.handler(command).encode())
            if self.close:
                conn.close()
            else:
                self._held.append(conn)  # a stuck HAProxy: answers, never closes

    def stop(self) -> None:
        self._server.close()
        for conn in self._held:
            conn.close()
