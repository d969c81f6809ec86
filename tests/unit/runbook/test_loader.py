from __future__ import annotations

from pathlib import Path

import pytest

from relrun.errors import InputError
from relrun.runbook.loader import load_runbook

GOOD = """\
apiVersion: relrun/v1
kind: Runbook
metadata:
  name: demo
  version: "1.0"
builds:
  - name: dev
    argv: [make, dev]
"""


def write(tmp_path: Path, text: str, name: str = "rb.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, groups: list[str] | None = None) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_runbook(path, groups)
    return str(caught.value).splitlines()


def test_good_runbook_loads_with_defaults(tmp_path: Path) -> None:
    loaded = load_runbook(write(tmp_path, GOOD))
    build = loaded.runbook.builds[0]
    assert build.required is True
    assert build.timeout == 1800
    assert loaded.runbook.targets.build == "build"
    assert len(loaded.sha256) == 64


def test_every_mistake_reported_once_with_position(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
apiVersion: relrun/v2
kind: Runbook
metadata:
  name: demo
  colour: blue
builds:
  - name: dev
    argv: [make]
    timeout: soon
  - name: all
    shell: make all
    argv: [make]
  - name: bad name!
    argv: [make]
    requird: false
""",
    )
    f = str(path)
    assert problems(path) == [
        f"{f}:1:1: error: Input should be 'relrun/v1', got 'relrun/v2' (at apiVersion)",
        f"{f}:3:1: error: missing required field 'version' (at metadata.version)",
        f"{f}:5:3: error: unknown field 'colour' (at metadata.colour)",
        f"{f}:9:5: error: expected a duration such as 30, 30s, 500ms, 5m or 1h "
        "(at builds[0].timeout)",
        f"{f}:10:5: error: give exactly one of `argv` (a list) or `shell` (a string) "
        "(at builds[1])",
        f"{f}:13:5: error: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]{{0,63}}$' "
        "(at builds[2].name)",
        f"{f}:15:5: error: unknown field 'requird' (at builds[2].requird)",
    ]


def test_duplicate_yaml_keys_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('  version: "1.0"\n', '  version: "1.0"\n  version: "2"\n'))
    assert problems(path) == [
        f"{path}:6:3: error: duplicate key 'version' (first defined at line 5) "
        "(at metadata.version)"
    ]


def test_duplicate_build_names(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "  - name: dev\n    shell: make\n")
    assert problems(path) == [
        f"{path}:9:5: error: duplicate build name 'dev' (first used by builds[0]) "
        "(at builds[1].name)"
    ]


def test_target_group_missing_from_inventory(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    assert problems(path, ["all", "web"]) == [
        f"{path}:1:1: error: inventory has no group 'build' for role 'build' (at targets.build)"
    ]


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "apiVersion: relrun/v1\nmetadata: [oops\n")
    (line,) = problems(path)
    assert line.startswith(f"{path}:3:1: error: YAML syntax:")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"# only a comment\n", "the file is empty"),
        (b"- a\n- b\n", "expected a mapping at the top of the runbook"),
        (b"kind: Runbook\nname: caf\xe9\n", "not valid UTF-8 (byte 0xe9)"),
    ],
)
def test_unusable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "rb.yml"
    path.write_bytes(content)
    (line,) = problems(path)
    assert message in line
    assert line.startswith(f"{path}:")


def test_non_utf8_position(tmp_path: Path) -> None:
    path = tmp_path / "rb.yml"
    path.write_bytes(b"kind: Runbook\nname: caf\xe9\n")
    assert problems(path) == [f"{path}:2:10: error: not valid UTF-8 (byte 0xe9)"]


def test_directory_and_missing_file(tmp_path: Path) -> None:
    assert problems(tmp_path) == [f"{tmp_path}:1:1: error: is a directory, expected a YAML file"]
    missing = tmp_path / "nope.yml"
    assert problems(missing) == [f"{missing}:1:1: error: no such file"]


def test_template_fields_only_take_plain_variables(tmp_path: Path) -> None:
    ok = GOOD + '    chdir: "{{ source_dir }}/app"\n'
    assert load_runbook(write(tmp_path, ok)).runbook.builds[0].chdir == "{{ source_dir }}/app"
    bad = GOOD + "    chdir: \"{{ lookup('pipe', 'id') }}\"\n"
    (line,) = problems(write(tmp_path, bad, "bad.yml"))
    assert "template fields may only reference variables as {{ name }}" in line
    assert "(at builds[0].chdir)" in line


def test_durations(tmp_path: Path) -> None:
    text = GOOD + "    timeout: 1m30s\n"
    (line,) = problems(write(tmp_path, text))
    assert "expected a duration" in line
    loaded = load_runbook(write(tmp_path, GOOD + "    timeout: 90s\n", "b.yml"))
    assert loaded.runbook.builds[0].timeout == 90
    loaded = load_runbook(write(tmp_path, GOOD + "    timeout: 500ms\n", "c.yml"))
    assert loaded.runbook.builds[0].timeout == 0.5


def test_hostile_nesting_and_alias_bombs_are_positioned_errors(tmp_path: Path) -> None:
    deep = write(tmp_path, "a: " + "[" * 2000 + "]" * 2000 + "\n", "deep.yml")
    assert problems(deep) == [f"{deep}:1:1: error: nesting deeper than 64 levels"]
    rows = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcde", "bcdef", strict=True):
        rows.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    bomb = write(tmp_path, "\n".join(rows) + "\n", "bomb.yml")
    (line,) = problems(bomb)
    assert "expands to more than 100000 values" in line
