"""Runbook building blocks: metadata, targets, commands and the builds gate."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from relrun.runbook.base import StrictModel
from relrun.runbook.types import GroupName, Name, Template, TimeoutSeconds


class Contact(StrictModel):
    """A person or team to reach during the release."""

    name: str = Field(description="Who.")
    role: str = Field(description="Their role in the release, e.g. `release-manager`, `on-call`.")
    contact: str = Field(default="", description="How to reach them (e-mail, pager, chat).")


class Metadata(StrictModel):
    """What is being released, and who owns it."""

    name: Name = Field(description="Runbook name; also names reports and the environment lock.")
    version: str = Field(min_length=1, description="The version being released.")
    description: str = Field(default="", description="Free text shown in the plan and reports.")
    owners: list[Contact] = Field(
        default_factory=list, description="Owners and contacts, shown in the rollback handbook."
    )


class Targets(StrictModel):
    """Which inventory group plays each role."""

    build: GroupName = Field(default="build", description="Hosts that scan, build and check.")
    router: GroupName = Field(default="router", description="The load balancer / router host.")
    stable: GroupName = Field(default="stable", description="Hosts running the stable version.")
    canary: GroupName = Field(default="canary", description="Hosts running the new version.")


ScalarVar = str | int | float | bool

# Variables that choose how Ansible reaches a host and with which privileges or programs
# (its docs: play vars override inventory vars). A runbook is data an auditor reviews; it
# must never pick a ProxyCommand, a shell, an interpreter or a become user. These names
# come from the inventory only.
RESERVED_VAR_NAMES = frozenset(
    {
        "become",
        "become_exe",
        "become_flags",
        "become_method",
        "become_user",
        "connection",
        "environment",
        "port",
        "remote_user",
        "hostvars",
        "groups",
        "group_names",
        "inventory_hostname",
        "inventory_hostname_short",
        "omit",
        "playbook_dir",
        "role_path",
        "vars",
    }
)


def reserved_var(name: str) -> str | None:
    """Why a runbook may not set variable ``name``, or None if it may.

    Args:
        name: a key of the runbook's ``vars``.

    Returns:
        The reason, for the error message.
    """
    lowered = name.lower()
    if lowered.startswith("ansible_"):
        return "ansible_* variables configure Ansible itself"
    if lowered.startswith("become_") or lowered in RESERVED_VAR_NAMES:
        return "it is a connection, privilege or Ansible magic variable"
    return None


def _settable_var(name: str) -> str:
    why = reserved_var(name)
    if why is not None:
        raise ValueError(
            f"vars cannot set {name!r}: {why}; connection and privilege settings come "
            "from the inventory only"
        )
    return name


VarName = Annotated[
    str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"), AfterValidator(_settable_var)
]
"""A runbook variable's name: an identifier that is no connection or privilege variable."""


class Command(StrictModel):
    """A command to run: exactly one of ``argv`` (no shell) or ``shell`` (through ``/bin/sh``)."""

    argv: list[str] | None = Field(
        default=None, min_length=1, description="Program and arguments, run without a shell."
    )
    shell: str | None = Field(
        default=None, min_length=1, description="A shell command line, run with `/bin/sh -c`."
    )
    chdir: Template | None = Field(
        default=None,
        description="Working directory on the host (a template: may use `{{ variable }}`).",
    )
    env: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] = Field(
        default_factory=dict, description="Extra environment variables (literal values)."
    )
    timeout: TimeoutSeconds = Field(
        default=1800, description="Kill the command after this long."
    )

    @model_validator(mode="after")
    def _one_form(self) -> Command:
        if (self.argv is None) == (self.shell is None):
            raise ValueError("give exactly one of `argv` (a list) or `shell` (a string)")
        return self


class Build(Command):
    """One build of the builds gate."""

    name: Name = Field(description="Build name, unique in the runbook.")
    artifacts: list[str] = Field(
        default_factory=list,
        description="Glob patterns (relative to `chdir`) of files the build must produce; "
        "each match is recorded with its size and sha256.",
    )
    required: bool = Field(
        default=True, description="A failed required build stops the release; others are reported."
    )
