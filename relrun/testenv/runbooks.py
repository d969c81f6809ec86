"""A fleet runbook for N app hosts, derived from a template runbook (tests/data/fleet.yml).

Only ``traffic.stable_servers`` and ``traffic.canary_servers`` change: ``stable-1`` …
``stable-N`` and ``canary-1`` … ``canary-N``, the HAProxy servers of the fleet.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from relrun.testenv.servicectl import instance_name


def fleet_runbook(template: Path, app_hosts: int, dest: Path) -> Path:
    """Write the template with the server lists of ``app_hosts`` hosts.

    Args:
        template: a runbook with a ``traffic`` section.
        app_hosts: how many app hosts.
        dest: where to write it.

    Returns:
        ``dest``.
    """
    data = yaml.safe_load(template.read_text(encoding="utf-8"))
    numbers = range(1, app_hosts + 1)
    data["traffic"]["stable_servers"] = [instance_name("stable", i) for i in numbers]
    data["traffic"]["canary_servers"] = [instance_name("canary", i) for i in numbers]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(
        f"# Generated from {template.name} for {app_hosts} app hosts.\n"
        + yaml.safe_dump(data, sort_keys=False),
        encoding="utf-8",
    )
    return dest
