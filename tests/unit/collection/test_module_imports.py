"""The rollback's modules start without what only some runbooks use.

Every module run is a new Python process that compiles its module_utils from the AnsiballZ
zip, so each import is paid on every task: the traffic module (every rollback step and
stage shift) must not load the Prometheus and web sources, nor ansible.module_utils.urls
they bring in (about 50 ms per task). They load when a runbook's metrics or guards ask.
"""

from __future__ import annotations

import subprocess
import sys

from relrun.run.runner import COLLECTIONS_PATH

HEAVY = ("ansible.module_utils.urls", "ansible_collections.relrun.release.plugins."
         "module_utils.traffic.prometheus", "ansible_collections.relrun.release.plugins."
         "module_utils.traffic.web")


def loaded_after(module: str, then: str = "pass") -> list[str]:
    """Which of HEAVY a fresh Python has loaded after importing ``module`` and ``then``."""
    code = (
        f"import sys; sys.path.insert(0, {str(COLLECTIONS_PATH)!r}); import {module}; {then}; "
        f"print(' '.join(name for name in {HEAVY!r} if name in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    return done.stdout.split()


def test_the_traffic_and_analysis_modules_do_not_load_the_metric_sources() -> None:
    for name in ("traffic", "analysis"):
        assert loaded_after(f"ansible_collections.relrun.release.plugins.modules.{name}") == []


def test_a_guard_loads_its_source_when_built() -> None:
    drivers = "ansible_collections.relrun.release.plugins.module_utils.traffic.drivers"
    loaded = loaded_after(
        drivers,
        f"from {drivers} import make_guard; "
        "make_guard({'provider': 'web', 'url': 'http://127.0.0.1:1/x', 'field': 'a'})",
    )
    assert "ansible_collections.relrun.release.plugins.module_utils.traffic.web" in loaded
