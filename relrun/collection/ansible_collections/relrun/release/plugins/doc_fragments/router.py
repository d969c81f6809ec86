"""Options every module that drives the router shares (traffic; the driver registry)."""

from __future__ import annotations


class ModuleDocFragment:
    """The traffic driver and its connection settings."""

    DOCUMENTATION = r"""
options:
  driver:
    description: The router kind.
    type: str
    choices: [sandbox, haproxy]
    default: sandbox
  connection:
    description:
      - Driver settings from inventory, one dict for every driver; each reads its keys.
      - For C(sandbox), C(state_dir). For C(haproxy), C(socket) (stats socket path or
        host:port, level admin), C(backend), and optionally C(history_dir) and C(timeout).
    type: dict
    required: true
"""
