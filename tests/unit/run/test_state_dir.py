"""State (locks, run markers, history) lives in the project by default (issue 17, item 5).

Two checkouts of one account never share a lock, a run marker or an RTO baseline; the
account-wide directory is used only when asked for, and a project's ``.relrun/`` that
someone else could control is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.errors import InputError
from relrun.paths import relrun_state_dir
from relrun.report.history import default_db_path
from relrun.run.active import mark_active
from relrun.run.lock import environment_lock


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory as the working directory, no state variable set."""
    for name in ("RELRUN_STATE_DIR", "RELRUN_STATE", "RELRUN_HISTORY_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    root = tmp_path / "checkout"
    (root / ".git").mkdir(parents=True)
    (root / "runbooks").mkdir()
    monkeypatch.chdir(root / "runbooks")
    return root


def test_state_goes_to_the_projects_relrun_dir_private_and_ignored_by_git(project: Path) -> None:
    with environment_lock("env", {"kind": "drill"}):
        mark_active("env", {"kind": "drill"})
    state = project / ".relrun"  # the git work tree's top, not the subdirectory run from
    assert relrun_state_dir() == state
    assert list((state / "locks").glob("*.lock")) and list((state / "active").glob("*.json"))
    assert (state.stat().st_mode & 0o777) == 0o700
    assert (state / ".gitignore").read_text().splitlines()[-1] == "*"
    assert default_db_path() == state / "history.db"
    assert not (project.parent / "home" / ".local").exists()  # nothing account-wide


def test_two_checkouts_do_not_share_state(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = project.parent / "other-checkout"
    (other / ".git").mkdir(parents=True)
    first = relrun_state_dir()
    monkeypatch.chdir(other)
    assert relrun_state_dir() == other / ".relrun" != first


def test_without_git_the_working_directory_is_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RELRUN_STATE_DIR", "RELRUN_STATE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert relrun_state_dir() == tmp_path / ".relrun"


def test_the_account_wide_place_only_when_asked(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELRUN_STATE", "user")
    assert relrun_state_dir() == project.parent / "home" / ".local" / "state" / "relrun"
    monkeypatch.setenv("RELRUN_STATE_DIR", str(project.parent / "explicit"))
    assert relrun_state_dir() == project.parent / "explicit"  # the explicit path wins
    monkeypatch.delenv("RELRUN_STATE_DIR")
    monkeypatch.setenv("RELRUN_STATE", "project")
    assert relrun_state_dir() == project / ".relrun"


def test_an_unknown_relrun_state_is_bad_input(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RELRUN_STATE", "everywhere")
    assert run_cli(app, ["history"]) == 2
    assert "RELRUN_STATE='everywhere': use 'project'" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["symlink", "group-writable", "file"])
def test_a_project_state_dir_someone_else_could_control_is_refused(
    project: Path, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = project / ".relrun"
    if how == "symlink":
        (project.parent / "elsewhere").mkdir()
        state.symlink_to(project.parent / "elsewhere")
    elif how == "group-writable":
        state.mkdir()
        state.chmod(0o770)
    else:
        state.write_text("x")
    with pytest.raises(InputError) as caught, environment_lock("env", {"kind": "drill"}):
        pass
    assert caught.value.exit_code == 2
    expected = {"symlink": "is a symlink", "group-writable": "writable by group or others",
                "file": "is not a directory"}[how]
    assert expected in caught.value.message
    assert not list(project.parent.glob("elsewhere/*"))  # nothing written through the link
    assert run_cli(app, ["history"]) == 2
    assert expected in capsys.readouterr().err


def test_tests_never_touch_the_real_state(tmp_path_factory: pytest.TempPathFactory) -> None:
    # The suite's autouse fixture: every test's state is in a temp directory.
    assert relrun_state_dir().is_relative_to(tmp_path_factory.getbasetemp())
