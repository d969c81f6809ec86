"""A runbook's vars cannot choose how Ansible connects, which shell runs or who becomes root.

Play vars override inventory vars in Ansible, so a runbook setting
``ansible_ssh_common_args`` (a ProxyCommand) or ``ansible_shell_executable`` ran commands
on the controller during a release (issue 14, item 4).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from relrun.errors import InputError
from relrun.render.playbook import render_playbook_data
from relrun.runbook.loader import load_runbook
from tests.helpers import ROOT

FLAGSHIP = ROOT / "runbooks" / "release-v2.yml"


def with_vars(tmp_path: Path, *lines: str) -> Path:
    text = FLAGSHIP.read_text(encoding="utf-8")
    path = tmp_path / "runbook.yml"
    block = "vars:\n" + "".join(f"  {line}\n" for line in lines)
    path.write_text(text.replace("targets:\n", block + "targets:\n", 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "name",
    [
        "ansible_ssh_common_args",
        "ansible_shell_executable",
        "ansible_python_interpreter",
        "ansible_become_password",
        "ANSIBLE_CONNECTION",
        "become",
        "become_user",
        "become_method",
        "connection",
        "remote_user",
        "environment",
        "hostvars",
    ],
)
def test_a_connection_or_privilege_variable_is_refused_at_its_key(
    tmp_path: Path, name: str
) -> None:
    path = with_vars(tmp_path, "release_note: fine", f'{name}: "-o ProxyCommand=sh -c id"')
    with pytest.raises(InputError) as caught:
        load_runbook(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.startswith(f"  {name}:"))
    [problem] = caught.value.problems
    assert str(problem).startswith(f"{path}:{line}:3: error: vars cannot set {name!r}: ")
    assert str(problem).endswith(
        f"connection and privilege settings come from the inventory only (at vars.{name})"
    )


def test_ordinary_vars_are_still_rendered_as_play_vars(tmp_path: Path) -> None:
    loaded = load_runbook(with_vars(tmp_path, "release_note: fine", "release_ansible: 1"))
    plays = render_playbook_data(loaded.runbook, loaded.sha256)
    assert all(play["vars"]["release_note"] == "fine" for play in plays)
    assert all(play["vars"]["release_ansible"] == 1 for play in plays)


def test_rendering_drops_a_reserved_name_that_bypassed_validation(tmp_path: Path) -> None:
    # Python callers can build a model without validating it; the playbook still never
    # lets a runbook override the inventory's connection settings.
    loaded = load_runbook(with_vars(tmp_path, "release_note: fine"))
    forged = loaded.runbook.model_copy(
        update={"vars": {"release_note": "fine", "ansible_shell_executable": "/tmp/evil"}}
    )
    plays = render_playbook_data(forged, loaded.sha256)
    assert all("ansible_shell_executable" not in play["vars"] for play in plays)
    assert all(play["vars"]["release_note"] == "fine" for play in plays)
