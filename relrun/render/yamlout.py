"""Stable YAML output for rendered playbooks, with ``!unsafe`` literals.

Every string that comes from a runbook is wrapped in :class:`Unsafe`, which dumps as
``!unsafe '…'`` so Ansible never evaluates it as a template. Strings relrun writes itself
(task names it controls, Jinja expressions it means) stay plain.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_.-]*$")


class Unsafe(str):
    """A literal string Ansible must not template."""

    __slots__ = ()


def unsafe(value: str) -> Unsafe:
    """Mark a runbook string as a literal for Ansible.

    Args:
        value: the string as written in the runbook.

    Returns:
        The same text, marked to be dumped with the ``!unsafe`` tag.
    """
    return Unsafe(value)


def unsafe_tree(value: Any) -> Any:
    """Mark every string value inside lists and dicts as unsafe.

    Keys that are plain identifiers stay plain (they cannot hold a template); any other key
    is marked unsafe too.

    Args:
        value: plain data (dict, list, str, numbers, bools, None).

    Returns:
        The same structure with every string wrapped in :class:`Unsafe`.
    """
    if isinstance(value, str):
        return Unsafe(value)
    if isinstance(value, dict):
        return {
            k if not isinstance(k, str) or _PLAIN_KEY.match(k) else Unsafe(k): unsafe_tree(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [unsafe_tree(v) for v in value]
    return value


class _Dumper(yaml.SafeDumper):
    """SafeDumper with stable formatting, ``!unsafe`` strings and indented sequences."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        # Auditors read every play whole; anchors and aliases would make them hunt.
        return True


_RESOLVER = yaml.resolver.Resolver()


def _represent_unsafe(dumper: yaml.SafeDumper, data: Unsafe) -> yaml.Node:
    text = str(data)
    implicit = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    if implicit != "tag:yaml.org,2002:str":
        # ansible-core 2.19 resolves the type of an !unsafe scalar as if it were plain:
        # !unsafe '0123' arrives as the integer 83. A string that looks like a number,
        # boolean or null holds no template markers, so a quoted plain string is safe.
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="'")
    return dumper.represent_scalar("!unsafe", text, style="'" if "\n" not in text else "|")


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(Unsafe, _represent_unsafe)
_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """Dump data as deterministic YAML: insertion order kept, wide lines, unicode as is.

    Args:
        data: the playbook (or any plain data) to dump.

    Returns:
        The YAML text.
    """
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=150,
        explicit_start=True,
    )
