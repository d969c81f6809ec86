from __future__ import annotations

import os
from pathlib import Path

import pytest

from relrun.errors import InputError
from relrun.run.retention import DEFAULT_KEEP, keep_runs, prune_runs
from relrun.workflows.context import new_run_dir


def make_runs(base: Path, names: list[str]) -> None:
    for index, name in enumerate(names):
        path = base / name
        (path / "ansible").mkdir(parents=True)
        (path / "journal.jsonl").write_text("{}\n")
        # Same-second runs are ordered by mtime: set it, never sleep.
        os.utime(path, ns=(1_000_000_000 * (index + 1),) * 2)


def test_keeps_the_newest_and_leaves_foreign_entries(tmp_path: Path) -> None:
    names = [
        "20250101T000000Z-drill-a",
        "20250102T000000Z-release-a",
        "20250103T000000Z-drill-a",
        "20250103T000000Z-drill-a-2",
    ]
    make_runs(tmp_path, names)
    (tmp_path / "notes").mkdir()
    (tmp_path / "20240101T000000Z-drill-a.txt").write_text("a file, not a run")
    (tmp_path / "20240101T000000Z-link").symlink_to(tmp_path / "notes")

    removed = prune_runs(tmp_path, keep=2)

    assert [p.name for p in removed] == names[:2]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*names[2:], "notes", "20240101T000000Z-drill-a.txt", "20240101T000000Z-link"]
    )
    assert (tmp_path / "notes").is_dir()


def test_same_second_runs_are_ordered_by_mtime(tmp_path: Path) -> None:
    make_runs(tmp_path, ["20250103T000000Z-drill-a-2", "20250103T000000Z-drill-a"])
    assert [p.name for p in prune_runs(tmp_path, keep=1)] == ["20250103T000000Z-drill-a-2"]


@pytest.mark.parametrize("keep", [0, -1, 10])
def test_nothing_to_prune(tmp_path: Path, keep: int) -> None:
    make_runs(tmp_path, ["20250101T000000Z-drill-a", "20250102T000000Z-drill-a"])
    assert prune_runs(tmp_path, keep=keep) == []
    assert prune_runs(tmp_path / "missing", keep=1) == []


def test_keep_from_environment() -> None:
    assert keep_runs({}) == DEFAULT_KEEP == 50
    assert keep_runs({"RELRUN_KEEP_RUNS": " 3 "}) == 3
    assert keep_runs({"RELRUN_KEEP_RUNS": "0"}) == 0
    with pytest.raises(InputError, match="RELRUN_KEEP_RUNS='many'"):
        keep_runs({"RELRUN_KEEP_RUNS": "many"})


def test_new_default_run_dir_prunes_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RELRUN_KEEP_RUNS", "2")
    make_runs(tmp_path / "runs", ["20000101T000000Z-drill-a", "20000102T000000Z-drill-a"])
    explicit = new_run_dir(tmp_path / "mine", "drill", "a")
    assert len(list((tmp_path / "runs").iterdir())) == 2  # an explicit dir prunes nothing
    created = new_run_dir(None, "drill", "a")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "20000102T000000Z-drill-a",
        created.name,
    ]
    assert explicit.is_dir()
