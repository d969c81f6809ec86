"""The HAProxy configuration fragment that lets relrun inject traffic faults (pure).

Shared by the local HAProxy (:mod:`relrun.sandbox.haproxy`), the fleet's load balancer
(:mod:`relrun.testenv.lb`) and docs/haproxy.md. It needs HAProxy built with Lua
(``haproxy -vv | grep -i lua``; Debian's is). What it does, per response from a server:

1. look up ``backend/server`` in ``relrun-faults.map`` (empty: no fault anywhere);
2. ``relrun_fault`` (Lua) sleeps the fault's latency and decides whether this request
   fails (error share, abort share);
3. a failing request is counted in the ``relrun_faults`` stick table (``gpc0`` per
   ``backend/server``), which the metric provider adds to the server's errors, because
   HAProxy's own counters saw the server's real answer; a delayed one in ``gpc1``, which
   tells the provider to read latency from ``ttime`` (it includes the delay; ``rtime``,
   measured up to the server's answer, does not);
4. ``relrun_reply`` (Lua) answers the fault's status with ``X-Fault: injected``, or
   closes the connection without an answer.

relrun changes the map through the runtime API (``add map`` / ``del map``): no reload.
"""

from __future__ import annotations

from pathlib import Path

LUA_FILE = Path(__file__).resolve().parent / "relrun-faults.lua"
MAP_NAME = "relrun-faults.map"
TABLE = "relrun_faults"

GLOBAL = "    lua-load {lua}\n"
TABLE_SECTION = """\
backend {table}
    stick-table type string len 128 size 1k store gpc0,gpc1
"""
BACKEND_RULES = """\
    # relrun traffic faults: see docs/haproxy.md ("Traffic faults")
    http-response set-var(txn.relrun_key) be_name,concat(/,txn.relrun_srv)
    http-response set-var(txn.relrun_fault) var(txn.relrun_key),map({map})
    http-response lua.relrun_fault if {{ var(txn.relrun_fault) -m found }}
    acl relrun_hit var(txn.relrun_hit) -m found
    acl relrun_delayed var(txn.relrun_delayed) -m found
    http-response track-sc2 var(txn.relrun_key) table {table} if relrun_hit || relrun_delayed
    http-response sc-inc-gpc0(2) if relrun_hit
    http-response sc-inc-gpc1(2) if relrun_delayed
    http-response lua.relrun_reply if relrun_hit
"""
# HAProxy's concat() takes a variable, not a fetch: the server name goes there first.
SERVER_VAR = "    http-response set-var(txn.relrun_srv) srv_name\n"
# An application that does not say which version answered: name the server, so the
# traffic log still tells stable's answers from the canary's (as the sandbox router does).
SERVED_BY = (
    "    http-response set-header X-Served-By %[srv_name]"
    " unless { res.hdr(X-Served-By) -m found }\n"
)


def global_lines(lua: Path = LUA_FILE) -> str:
    """The ``global`` section's line loading the Lua actions."""
    return GLOBAL.format(lua=lua)


def table_section() -> str:
    """The stick-table section counting injected failures."""
    return TABLE_SECTION.format(table=TABLE)


def backend_rules(map_file: Path) -> str:
    """The rules of a backend whose servers may be faulted."""
    return SERVED_BY + SERVER_VAR + BACKEND_RULES.format(map=map_file, table=TABLE)


def ensure_map(map_file: Path) -> None:
    """Create the (empty) fault map HAProxy loads at start; keep an existing one."""
    map_file.parent.mkdir(parents=True, exist_ok=True)
    if not map_file.exists():
        map_file.write_text("# relrun traffic faults: backend/server error:status:ms:abort\n")
