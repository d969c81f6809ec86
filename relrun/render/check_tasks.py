"""The API checks gate as Ansible tasks (``relrun.release.api_check`` or ``.newman``).

Runbook strings reach the module ``!unsafe``: ``${...}`` placeholders are resolved by
the module on the host, never by Ansible. Only ``Template`` fields (plain ``{{ var }}``
references, checked by the schema) and expressions written here stay templatable.
"""

from __future__ import annotations

import re
from typing import Any

from relrun.render.yamlout import unsafe_tree
from relrun.runbook.check_models import ApiChecksSection, Credentials, Phase, Tls
from relrun.runbook.steps import StepRef

COLLECTION = "relrun.release"
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Where relative file paths are resolved: the directory relrun was started in.
BASE_DIR = "{{ relrun_launch_dir | default(playbook_dir) }}"
NEWMAN_PATH = "{{ relrun_newman_path | default(omit) }}"


def render_check_tasks(
    section: ApiChecksSection,
    *,
    phase: str,
    base_url_var: str = "relrun_api_base_url",
    only: Phase | None = None,
) -> list[dict[str, Any]]:
    """Build the tasks that run the API checks once, on the section's host group.

    The base URL always comes from the inventory, because it depends on the phase: the
    gate checks the canary (``relrun_canary_url``), the rollback's verify checks stable
    (``relrun_stable_url``), ``relrun check`` what users reach (``relrun_api_base_url``).

    Args:
        section: the runbook's ``api_checks`` section.
        phase: where they run, e.g. ``gate`` or ``verify``; names the task
            (``API check: <phase>``) and the registered variable (``relrun_checks_<phase>``).
        base_url_var: the inventory variable holding the base URL.
        only: keep only the checks whose ``run_in`` names this phase (None: every check,
            as ``relrun check`` runs them); no task at all when none is left.

    Returns:
        The task dicts, ready for a play's ``tasks``.

    Raises:
        ValueError: for a phase or variable name that is not a plain identifier.
    """
    if not _IDENTIFIER.match(phase):
        raise ValueError(f"phase must be a lower-case identifier, got {phase!r}")
    if not _VARIABLE.match(base_url_var):
        raise ValueError(f"base_url_var must be a variable name, got {base_url_var!r}")
    if only is not None and not section.runs_in(only):
        return []
    args: dict[str, Any] = {"base_url": "{{ " + base_url_var + " }}"}
    if section.engine == "newman":
        module = "newman"
        assert section.collection is not None  # guaranteed by the schema
        args["collection"] = section.collection
        if section.environment is not None:
            args["environment"] = section.environment
        args["newman_path"] = section.newman_path or NEWMAN_PATH
        args["timeout_s"] = section.newman_timeout_s
        if section.tls is not None:
            args.update(tls_args(section.tls))
    else:
        module = "api_check"
        checks = section.checks if only is None else section.checks_in(only)
        args["checks"] = [
            unsafe_tree(
                check.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"run_in"})
            )
            for check in checks
        ]
        if section.tls is not None:
            args.update(tls_args(section.tls))
    if section.credentials is not None:
        args["credentials"] = credentials_args(section.credentials)
    args["base_dir"] = BASE_DIR
    return [
        {
            "name": StepRef.api_check(phase).task,
            f"{COLLECTION}.{module}": args,
            "register": f"relrun_checks_{phase}",
            # The checks probe one API; running them per host would only repeat them.
            "run_once": True,
        }
    ]


def tls_args(tls: Tls) -> dict[str, Any]:
    """Module arguments for the TLS settings: flags as set, paths as the templates they are."""
    args: dict[str, Any] = {"validate_certs": tls.validate_certs, "use_proxy": tls.use_proxy}
    for name in ("ca_path", "client_cert", "client_key"):
        value = getattr(tls, name)
        if value is not None:
            args[name] = value
    return args


def credentials_args(credentials: Credentials) -> dict[str, Any]:
    """Module arguments for a credentials reference.

    Args:
        credentials: the section's credentials.

    Returns:
        ``username``/``username_env``/``password_env`` as literals, file paths as the
        ``Template`` fields they are.
    """
    args: dict[str, Any] = {}
    for name in ("username", "username_env", "password_env"):
        value = getattr(credentials, name)
        if value is not None:
            args[name] = unsafe_tree(value)
    for name in ("password_file", "from_file"):
        value = getattr(credentials, name)
        if value is not None:
            args[name] = value
    return args
