"""The collection as plain Ansible gets it: built by ansible-galaxy, installed, and found."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
COLLECTION = ROOT / "relrun" / "collection" / "ansible_collections" / "relrun" / "release"


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_build_install_and_plain_ansible_finds_it(tmp_path: Path) -> None:
    _run([str(BIN / "ansible-galaxy"), "collection", "build", str(COLLECTION),
          "--output-path", str(tmp_path)], cwd=tmp_path)
    version = yaml.safe_load((COLLECTION / "galaxy.yml").read_text())["version"]
    tarball = tmp_path / f"relrun-release-{version}.tar.gz"
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    assert {"MANIFEST.json", "LICENSE", "plugins/modules/api_check.py"} <= names
    assert not any(n.endswith(".pyc") for n in names)

    installed = tmp_path / "collections"
    # As documented: the requirements file AWX and ansible-builder read.
    _run([str(BIN / "ansible-galaxy"), "collection", "install", "-r",
          str(ROOT / "requirements.yml"), "-p", str(installed)], cwd=ROOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_COLLECTIONS_PATH"] = str(installed)
    listing = _run([str(BIN / "ansible-galaxy"), "collection", "list", "relrun.release"],
                   cwd=tmp_path, env=env)
    assert f"relrun.release {version}" in " ".join(listing.split())
    _run([str(BIN / "ansible-doc"), "-t", "module", "relrun.release.api_check"],
         cwd=tmp_path, env=env)
    # The committed playbook parses under plain ansible-playbook with the installed copy.
    _run([str(BIN / "ansible-playbook"), "--syntax-check", "-i",
          str(ROOT / "inventories" / "sandbox.yml"), str(ROOT / "playbooks" / "release-v2.yml")],
         cwd=ROOT, env=env)
