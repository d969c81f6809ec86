"""Scan a clean real-world project from PyPI: zero findings expected."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from relrun.scan import run_scan

PROJECT = "flask==3.1.0"
# More clean real-world trees: the issue 19 rules (provider keys, config formats,
# hard-coded settings) must not turn their tests, docs and examples into findings.
# (PyJWT is not one: its docs and tests hold sample JWTs the jwt-literal rule reports.)
MORE = ["requests==2.32.3", "django==5.1.4"]


def _pip() -> list[str] | None:
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    found = shutil.which("pip3") or shutil.which("pip")
    if found:
        return [found]
    uvx = shutil.which("uvx")  # uv's venv has no pip; uvx fetches one
    return [uvx, "pip"] if uvx else None


def test_flask_sdist_has_no_findings(tmp_path: Path) -> None:
    _no_findings(tmp_path, PROJECT)


@pytest.mark.parametrize("project", MORE)
def test_more_sdists_have_no_findings(tmp_path: Path, project: str) -> None:
    _no_findings(tmp_path, project)


def _no_findings(tmp_path: Path, project: str) -> None:
    pip = _pip()
    if pip is None:
        pytest.skip("no pip available to download the sdist")
    done = subprocess.run(
        [*pip, "download", "--no-deps", "--no-binary", ":all:", "-d", str(tmp_path), project],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"PyPI unreachable or download failed: {done.stderr.strip()[-300:]}")
    [sdist] = tmp_path.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "src", filter="data")
    result = run_scan(tmp_path / "src")
    assert result.stats.files > 50
    assert [(f.path, f.line, f.rule) for f in result.findings] == []
