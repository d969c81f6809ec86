"""Where relrun writes when its run directory is gone or its disk is full."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from relrun.run import rescue
from relrun.run.rescue import usable, working_dir


def test_a_writable_run_directory_is_used_itself(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "release-1"
    run_dir.mkdir(parents=True)
    assert working_dir(run_dir) == run_dir
    assert list(run_dir.iterdir()) == [], "the probe leaves nothing behind"


def test_a_deleted_run_directory_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELRUN_FALLBACK_DIR", str(tmp_path / "fallback"))
    gone = tmp_path / "runs" / "release-1"
    assert working_dir(gone) == tmp_path / "fallback" / "release-1"


def test_a_full_disk_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = tmp_path / "runs" / "release-1"
    run_dir.mkdir(parents=True)
    monkeypatch.setenv("RELRUN_FALLBACK_DIR", str(tmp_path / "fallback"))
    real_write = os.write

    def write(fd: int, data: bytes) -> int:  # ENOSPC on the run's filesystem only
        if str(run_dir) in str(Path(f"/proc/self/fd/{fd}").readlink()):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(rescue.os, "write", write)
    assert not usable(run_dir)
    assert working_dir(run_dir) == tmp_path / "fallback" / "release-1"
    assert list(run_dir.iterdir()) == []


def test_nothing_writable_keeps_the_run_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rescue, "usable", lambda directory: False)
    assert working_dir(tmp_path / "release-1") == tmp_path / "release-1"
