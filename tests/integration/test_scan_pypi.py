"""Scan clean real-world projects' sdists: zero findings expected.

The sdists are fetched at setup, not by the test (`.ci/run` downloads them into
`.ci/.sdists/`; elsewhere: `uvx pip download --no-deps --no-binary :all: -d .ci/.sdists
flask==3.1.0 requests==2.32.3 django==5.1.4`, or point RELRUN_SCAN_SDISTS at a directory
holding them).
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from relrun.scan import run_scan
from tests.helpers import ROOT

# Clean real-world trees: the issue 19 rules (provider keys, config formats, hard-coded
# settings) must not turn their tests, docs and examples into findings. (PyJWT is not one:
# its docs and tests hold sample JWTs the jwt-literal rule reports.) .ci/run lists the same.
PROJECTS = ["flask-3.1.0", "requests-2.32.3", "Django-5.1.4"]
SDISTS = Path(os.environ.get("RELRUN_SCAN_SDISTS") or ROOT / ".ci" / ".sdists")


@pytest.mark.parametrize("project", PROJECTS)
def test_clean_sdists_have_no_findings(tmp_path: Path, project: str) -> None:
    sdist = SDISTS / f"{project}.tar.gz"
    if not sdist.is_file():
        pytest.skip(f"{sdist} is missing: fetch it as this file's docstring says")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "src", filter="data")
    result = run_scan(tmp_path / "src")
    assert result.stats.files > 50
    assert [(f.path, f.line, f.rule) for f in result.findings] == []
