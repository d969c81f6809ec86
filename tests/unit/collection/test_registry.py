"""One registry of routers and metric providers, read by the schema, the modules and render."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.fault import (
    registry as fault_registry,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic import (
    drivers as traffic_drivers,
)
from relrun.render.rollout import CONNECTION_VARS
from relrun.runbook.rollout_models import Traffic
from tests.helpers import ROOT

UTILS = ROOT / "relrun/collection/ansible_collections/relrun/release/plugins/module_utils"
MODULES = UTILS.parent / "modules"


def _name(path: Path) -> str:
    """``traffic/base.py`` → ``traffic.base``: a module util by its dotted place."""
    return ".".join(path.relative_to(UTILS).with_suffix("").parts)


def _imports(path: Path) -> set[str]:
    """The module utils ``path`` imports relatively (``.x``, ``..pkg.x``), by dotted place."""
    package = path.relative_to(UTILS).parent.parts
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = list(package[: len(package) - (node.level - 1)])
            if node.module:
                found.add(".".join([*base, node.module]))
            else:
                found |= {".".join([*base, a.name]) for a in node.names}
    return found


def test_no_module_util_of_the_traffic_layer_imports_in_a_circle() -> None:
    graph = {_name(p): _imports(p) for p in UTILS.rglob("*.py") if p.stem != "__init__"}
    assert "traffic.base" in graph and "traffic.drivers" in graph

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, set()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [m for m in graph if reaches(m, m, {m})] == []
    assert graph["traffic.base"] == set()  # the interfaces know no implementation


def test_module_utils_live_in_sub_packages() -> None:
    flat = sorted(p.name for p in UTILS.glob("*.py") if p.name != "__init__.py")
    assert flat == []


def test_the_schema_modules_and_render_read_the_registry() -> None:
    names = list(traffic_drivers.ROUTER_NAMES)
    assert names == ["sandbox", "haproxy"]
    assert Traffic.model_json_schema()["properties"]["driver"]["enum"] == names
    fragment = MODULES.parent / "doc_fragments" / "router.py"
    for module in (fragment, MODULES / "analysis.py"):
        text = module.read_text()
        docs = re.search(r'DOCUMENTATION = r"""\n(.*?)"""', text, re.S)  # traffic's fragment
        assert docs is not None
        # The driver option's block (its own line, or the indented lines under it).
        option = re.search(r"\n  driver:(.*?)\n  [a-z_]+:", docs[1], re.S)
        assert option is not None, module
        choices = re.search(r"choices: \[([^\]]*)\]", option[1])
        assert choices is not None, module
        assert [c.strip() for c in choices[1].split(",")] == names, module  # ansible-doc
    assert set(CONNECTION_VARS) == set(traffic_drivers.inventory_vars())


def test_an_unknown_router_is_named_with_the_known_ones() -> None:
    try:
        traffic_drivers.make_driver("nginx", {})
    except traffic_drivers.DriverError as err:
        assert "unknown traffic driver 'nginx' (one of sandbox, haproxy)" in str(err)
    else:
        raise AssertionError("no error")


def test_every_router_has_a_fault_injector_in_the_registry() -> None:
    assert set(fault_registry.INJECTOR_NAMES) == set(traffic_drivers.ROUTER_NAMES)
    try:
        fault_registry.make_injector("nginx", {})
    except traffic_drivers.DriverError as err:
        assert "no fault injector for traffic driver 'nginx' (one of sandbox, haproxy)" in str(err)
    else:
        raise AssertionError("no error")
