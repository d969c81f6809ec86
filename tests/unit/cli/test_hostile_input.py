"""Hostile input never crashes relrun: exit 2, one positioned line, nothing run or written.

Each case is one the adversarial run of issue 14 found ending in a traceback, a hang, or
a file replaced that was not relrun's to replace.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.run.inventory import MAX_INVENTORY_BYTES
from relrun.runbook.yamlpos import MAX_INPUT_BYTES
from tests.helpers import ROOT

FLAGSHIP = ROOT / "runbooks" / "release-v2.yml"


def flagship_with(tmp_path: Path, old: str, new: str) -> Path:
    text = FLAGSHIP.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "runbook.yml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if needle in line)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-02-30", "YAML reads '2024-02-30' unquoted as a date, but it is not a valid one"),
        ("0x_", "YAML reads '0x_' unquoted as an integer, but it is not a valid one"),
        ("!!int abc", "'abc' is not an integer (tagged !!int)"),
        ("!!float ''", "'' is not a number (tagged !!float)"),
        ("!!bool maybe", "'maybe' is not a boolean (tagged !!bool)"),
        ("!!timestamp nope", "'nope' is not a date (tagged !!timestamp)"),
    ],
)
def test_a_scalar_yaml_cannot_construct_is_one_positioned_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    runbook = flagship_with(tmp_path, 'version: "2.0.0"', f"version: {value}")
    assert run_cli(app, ["validate", str(runbook)]) == 2
    err = capsys.readouterr().err
    line = line_of(runbook, "  version: ")
    assert err == f"{runbook}:{line}:12: error: invalid value: " + err.split("invalid value: ")[1]
    assert message in err and err.endswith("(at metadata.version)\n")
    assert err.count("\n") == 1, "one problem, not also a type error for the value it lost"


def test_a_valid_date_where_text_is_expected_says_how_to_quote_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runbook = flagship_with(tmp_path, 'version: "2.0.0"', "version: 2024-02-28")
    assert run_cli(app, ["validate", str(runbook)]) == 2
    line = line_of(runbook, "  version: ")
    assert capsys.readouterr().err == (
        f"{runbook}:{line}:3: error: Input should be a valid string: YAML reads 2024-02-28 "
        'unquoted as a date; write "2024-02-28" (at metadata.version)\n'
    )


def test_a_duration_of_more_than_308_digits_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runbook = flagship_with(tmp_path, "timeout: 2m", "timeout: " + "9" * 400)
    assert run_cli(app, ["validate", str(runbook)]) == 2
    err = capsys.readouterr().err
    assert f"{runbook}:{line_of(runbook, '9' * 400)}:" in err
    assert "(this number is too large) (at builds[0].timeout)" in err
    assert "Traceback" not in err


def test_a_fifo_runbook_is_refused_without_blocking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "runbook.yml"
    os.mkfifo(fifo)
    done: list[int] = []
    # In a thread, so a regression shows as a failed assertion, not a hung suite.
    worker = threading.Thread(
        target=lambda: done.append(run_cli(app, ["validate", str(fifo)])), daemon=True
    )
    worker.start()
    worker.join(timeout=30)
    if not done:  # unblock the reader, then fail
        with open(fifo, "w", encoding="utf-8"):  # noqa: PTH123
            pass
    assert done == [2]
    expected = f"{fifo}:1:1: error: is a named pipe (FIFO), expected a YAML file\n"
    assert capsys.readouterr().err == expected


def test_a_device_is_refused_not_read(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(app, ["validate", "/dev/zero"]) == 2
    expected = "/dev/zero:1:1: error: is a character device, expected a YAML file\n"
    assert capsys.readouterr().err == expected


def test_runbooks_and_inventories_have_a_size_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.yml"
    big.write_text("# " + "x" * MAX_INPUT_BYTES + "\n", encoding="utf-8")
    assert run_cli(app, ["validate", str(big)]) == 2
    expected = f"{big}:1:1: error: is larger than 1024 KiB, the most relrun reads\n"
    assert capsys.readouterr().err == expected
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("# " + "x" * MAX_INVENTORY_BYTES + "\nall: {}\n", encoding="utf-8")
    assert run_cli(app, ["validate", str(FLAGSHIP), "-i", str(inventory)]) == 2
    assert "is larger than 4096 KiB" in capsys.readouterr().err


def test_a_too_long_path_name_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    name = "a" * 5000 + ".yml"
    assert run_cli(app, ["validate", name]) == 2
    assert capsys.readouterr().err == f"{name}:1:1: error: cannot read: File name too long\n"


def test_validate_does_not_execute_an_executable_inventory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    witness = tmp_path / "executed"
    script = tmp_path / "inventory.sh"
    script.write_text(
        f"#!/bin/sh\ntouch {witness}\n"
        'echo \'{"router": {"hosts": ["localhost"]}, "_meta": {"hostvars": {}}}\'\n',
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    assert run_cli(app, ["validate", str(FLAGSHIP), "-i", str(script)]) == 2
    assert not witness.exists(), "validate ran the inventory script"
    assert (
        f"{script}:1:1: error: is an executable inventory script: relrun validate does not run it"
        in capsys.readouterr().err
    )


def test_vault_and_unsafe_values_in_an_inventory_are_accepted_as_ansible_accepts_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = tmp_path / "inventory.yml"
    hosts = "      hosts:\n        localhost:\n          ansible_connection: local\n"
    groups = "".join(f"    {g}:\n{hosts}" for g in ("build", "router", "stable", "canary"))
    inventory.write_text(
        "all:\n  vars:\n    db_password: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n"
        "      62313365396662343061393464336163383764373764613633653634306231386433626436\n"
        '    greeting: !unsafe "{{ not templated }}"\n'
        # What the flagship's tasks need from every host (relrun validate -i checks it).
        + "".join(
            f"    {v}: /nonexistent\n"
            for v in (
                "relrun_source_dir", "relrun_sandbox_state_dir", "relrun_service_ctl",
                "relrun_api_credentials_file", "relrun_canary_url", "relrun_stable_url",
            )
        )
        + "  children:\n" + groups,
        encoding="utf-8",
    )
    assert run_cli(app, ["validate", str(FLAGSHIP), "-i", str(inventory)]) == 0
    assert "ok (release-v2 2.0.0)" in capsys.readouterr().out


@pytest.mark.parametrize("heartbeat", ["0", "nan", "-1", "inf"])
def test_sandbox_up_refuses_a_heartbeat_that_is_no_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], heartbeat: str
) -> None:
    args = ["sandbox", "up", "--state-dir", str(tmp_path / "sb"), "--heartbeat", heartbeat]
    assert run_cli(app, args) == 2
    assert capsys.readouterr().err.startswith("relrun: error: --heartbeat: expected a number")
    assert not (tmp_path / "sb").exists(), "nothing was started"


@pytest.mark.parametrize("value", ["\u0660.\u0665", "0.5e0", "0_5", " 0.5"])
def test_a_fault_value_takes_ascii_digits_only(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    assert run_cli(app, ["drill", str(FLAGSHIP), "--fault", f"error_rate={value}"]) == 2
    assert "--fault: " in capsys.readouterr().err


def test_a_report_dir_that_is_a_file_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine\n", encoding="utf-8")
    assert run_cli(app, ["drill", str(FLAGSHIP), "--report-dir", str(taken)]) == 2
    expected = f"relrun: error: --report-dir {taken} exists and is not a directory\n"
    assert capsys.readouterr().err == expected
    assert taken.read_text(encoding="utf-8") == "mine\n"


def test_scan_output_dir_that_is_a_file_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine\n", encoding="utf-8")
    source = tmp_path / "src"
    source.mkdir()
    assert run_cli(app, ["scan", str(source), "--output-dir", str(taken)]) == 2
    assert "--output-dir" in capsys.readouterr().err
    assert taken.read_text(encoding="utf-8") == "mine\n"


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_render_never_replaces_what_is_not_a_regular_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    target = tmp_path / "out.yml"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    assert run_cli(app, ["render", str(FLAGSHIP), "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"relrun: error: cannot write {target}: it is a ")
    assert "for standard output, write -o -" in err
    assert stat.S_ISFIFO(target.stat().st_mode) if kind == "fifo" else target.is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["out.yml"], "no temporary file left behind"


def test_render_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "kept" / "playbook.yml"
    real.parent.mkdir()
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "playbook.yml"
    link.symlink_to(real)
    assert run_cli(app, ["render", str(FLAGSHIP), "-o", str(link)]) == 0
    assert link.is_symlink(), "the link stays a link"
    assert real.read_text(encoding="utf-8").startswith("# Rendered by relrun")


def test_render_to_dash_is_standard_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli(app, ["render", str(FLAGSHIP), "-o", "-"]) == 0
    assert capsys.readouterr().out.startswith("# Rendered by relrun")
    assert list(tmp_path.iterdir()) == []


def test_a_zero_second_bake_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = FLAGSHIP.read_text(encoding="utf-8")
    first = next(line for line in text.splitlines() if line.strip().startswith("bake:"))
    runbook = flagship_with(tmp_path, first, first.split("bake:")[0] + "bake: 0s")
    assert run_cli(app, ["validate", str(runbook)]) == 2
    err = capsys.readouterr().err
    assert f"{runbook}:{line_of(runbook, 'bake: 0s')}:" in err
    assert "(at rollout.stages[0].bake)" in err


def test_a_state_dir_that_is_a_file_is_bad_input_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by bench/bench_chaos.py (state-dir-is-a-file): NotADirectoryError, exit 1.
    from relrun.errors import InputError
    from relrun.run.lock import environment_lock

    taken = tmp_path / "state"
    taken.write_text("not a directory\n", encoding="utf-8")
    monkeypatch.setenv("RELRUN_STATE_DIR", str(taken))
    with pytest.raises(InputError) as caught, environment_lock("env", {"kind": "drill"}):
        pass
    assert caught.value.exit_code == 2
    assert "Not a directory" in caught.value.message
