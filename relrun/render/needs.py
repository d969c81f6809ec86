"""Which inventory variables a rendered playbook needs, on which groups' hosts.

Read off the playbook data itself (not a list kept beside it), so a new task that uses a
new variable is checked the day it is written. A variable is needed where a task of a play
uses it with no ``default(...)`` and no ``is defined`` guard; ``hostvars[item]['X']`` in a
task that loops over ``groups['G']`` needs ``X`` on every host of ``G``. Only ``relrun_*``
names are the inventory's contract: Ansible's own variables are Ansible's business.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jinja2 import Environment, nodes

from relrun.render.yamlout import Unsafe

PREFIX = "relrun_"
# Set by relrun for a run (extra vars); a plain ansible-playbook run falls back to defaults.
RUN_VARIABLES = frozenset({"relrun_launch_dir", "relrun_run_id", "relrun_drill"})
_GUARDS = frozenset({"default", "d"})
_DEFINED_TESTS = frozenset({"defined", "undefined"})
_TASK_LISTS = ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers")

Needs = dict[str, dict[str, str]]  # group -> variable -> the first task that needs it


def inventory_needs(plays: list[dict[str, Any]]) -> Needs:
    """Map each group to the inventory variables its hosts must define.

    Args:
        plays: the playbook as data (see :func:`relrun.render.playbook.render_playbook_data`).

    Returns:
        ``{group: {variable: task name}}``, every group and variable sorted.
    """
    env = Environment()
    defined = _defined_by_playbook(plays)
    needs: Needs = {}
    for play in plays:
        group = str(play.get("hosts", ""))
        for task in _tasks(play):
            loop_groups = _groups_in(env, task.get("loop"))
            name = str(task.get("name", "?"))
            for expression in _expressions(task):
                for owner, variable in _uses(env, expression):
                    if variable in defined or variable in RUN_VARIABLES:
                        continue
                    targets = loop_groups if owner == "item" else [owner] if owner else [group]
                    for target in targets:
                        needs.setdefault(target, {}).setdefault(variable, name)
    return {g: dict(sorted(v.items())) for g, v in sorted(needs.items()) if g and v}


def _tasks(container: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in _TASK_LISTS:
        for task in container.get(key) or []:
            if isinstance(task, dict):
                yield task
                yield from _tasks(task)


def _defined_by_playbook(plays: list[dict[str, Any]]) -> set[str]:
    names: set[str] = set()
    for play in plays:
        names.update((play.get("vars") or {}).keys())
        for task in _tasks(play):
            if isinstance(task.get("register"), str):
                names.add(task["register"])
            names.update((task.get("vars") or {}).keys())
            for key in ("ansible.builtin.set_fact", "set_fact"):
                if isinstance(task.get(key), dict):
                    names.update(task[key].keys())
    return names


def _expressions(task: dict[str, Any]) -> Iterator[str]:
    """Every Jinja expression of one task (not of its nested tasks), as expression text."""
    for key, value in task.items():
        if key in _TASK_LISTS:
            continue
        if key in ("when", "failed_when", "changed_when", "until"):
            for condition in value if isinstance(value, list) else [value]:
                if isinstance(condition, str) and not isinstance(condition, Unsafe):
                    yield condition
            continue
        for text in _strings(value):
            yield from _templates(text)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, Unsafe):
        return  # a literal from the runbook: Ansible never templates it
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _templates(text: str) -> Iterator[str]:
    start = text.find("{{")
    while start != -1:
        end = text.find("}}", start)
        if end == -1:
            return
        yield text[start + 2 : end]
        start = text.find("{{", end)


def _parse(env: Environment, expression: str) -> nodes.Node | None:
    try:
        return env.parse("{{ " + expression + " }}")
    except Exception:  # not ours to judge here: ansible-playbook --syntax-check does
        return None


def _uses(env: Environment, expression: str) -> Iterator[tuple[str, str]]:
    """``(owner, variable)`` pairs: owner ``""`` is the task's host, else a group or ``item``."""
    tree = _parse(env, expression)
    if tree is None:
        return
    guarded = _guarded(tree)
    for node in tree.find_all(nodes.Name):
        if node.name.startswith(PREFIX) and node.ctx == "load" and id(node) not in guarded:
            yield "", node.name
    for item in tree.find_all(nodes.Getitem):
        target = _hostvars_of(item)
        if target is not None and id(item) not in guarded:
            key = _const(item.arg)
            if key is not None and key.startswith(PREFIX):
                yield target, key


def _hostvars_of(node: nodes.Getitem) -> str | None:
    """For ``hostvars[X]['v']``: ``item``, or the group G of ``groups['G'][0]``."""
    inner = node.node
    if not (isinstance(inner, nodes.Getitem) and isinstance(inner.node, nodes.Name)):
        return None
    if inner.node.name != "hostvars":
        return None
    host = inner.arg
    if isinstance(host, nodes.Name) and host.name == "item":
        return "item"
    if isinstance(host, nodes.Getitem) and isinstance(host.node, nodes.Getitem):
        groups = host.node
        if isinstance(groups.node, nodes.Name) and groups.node.name == "groups":
            return _const(groups.arg)
    return None


def _guarded(tree: nodes.Node) -> set[int]:
    """Ids of nodes under ``default(...)`` (its subject) or an ``is defined`` test."""
    ids: set[int] = set()
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        names = _GUARDS if isinstance(node, nodes.Filter) else _DEFINED_TESTS
        if node.name in names and node.node is not None:
            ids.update(id(n) for n in node.node.find_all((nodes.Name, nodes.Getitem)))
            ids.add(id(node.node))
    # ``x.y if x is defined else z``: the whole conditional is guarded by its test.
    for cond in tree.find_all(nodes.CondExpr):
        test = cond.test
        if isinstance(test, nodes.Test) and test.name in _DEFINED_TESTS:
            ids.update(id(n) for n in cond.find_all((nodes.Name, nodes.Getitem)))
    return ids


def _groups_in(env: Environment, loop: Any) -> list[str]:
    if not isinstance(loop, str) or isinstance(loop, Unsafe):
        return []
    found: list[str] = []
    for expression in _templates(loop):
        tree = _parse(env, expression)
        if tree is None:
            continue
        for node in tree.find_all(nodes.Getitem):
            if isinstance(node.node, nodes.Name) and node.node.name == "groups":
                group = _const(node.arg)
                if group is not None and group not in found:
                    found.append(group)
    return found


def _const(node: nodes.Node) -> str | None:
    return node.value if isinstance(node, nodes.Const) and isinstance(node.value, str) else None
