"""Human documents from a runbook (the plan, the rollback handbook), via Jinja2.

One factory makes every environment: sandboxed, ``StrictUndefined``, and with ``[[ ]]`` /
``[% %]`` delimiters so templates never collide with Ansible's ``{{ }}`` that may appear
in the text they show.
"""

from __future__ import annotations

from typing import Any

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from relrun.errors import printable
from relrun.render.plan import ms, percent, plan_context, seconds
from relrun.runbook.loader import LoadedRunbook
from relrun.runbook.models import Command


def jinja_env(autoescape: bool = False) -> SandboxedEnvironment:
    """The one Jinja environment factory of relrun.

    Args:
        autoescape: True for HTML output.

    Returns:
        A sandboxed environment loading ``relrun/render/templates``.
    """
    env = SandboxedEnvironment(
        loader=PackageLoader("relrun.render", "templates"),
        undefined=StrictUndefined,
        autoescape=autoescape,
        block_start_string="[%",
        block_end_string="%]",
        variable_start_string="[[",
        variable_end_string="]]",
        comment_start_string="[#",
        comment_end_string="#]",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["command"] = describe_command
    env.filters["seconds"] = seconds
    env.filters["percent"] = percent
    env.filters["ms"] = ms
    return env


def describe_command(command: Command) -> str:
    """A command as a person would type it."""
    if command.argv is not None:
        import shlex

        return shlex.join(command.argv)
    return str(command.shell)


def render_plan(loaded: LoadedRunbook, extra: dict[str, Any] | None = None) -> str:
    """What a release of this runbook will do, in order, in plain words.

    Args:
        loaded: the runbook.
        extra: more template context (e.g. the inventory's hosts).

    Returns:
        Markdown-ish plain text.
    """
    template = jinja_env().get_template("plan.txt.j2")
    text = template.render(**plan_context(loaded), **(extra or {}))
    # Runbook strings (a description, a check's path) may hold terminal escapes.
    return printable(text.rstrip("\n") + "\n", keep_newlines=True)
