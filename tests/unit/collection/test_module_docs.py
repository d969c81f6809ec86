"""Every module's documentation is what ``ansible-doc`` shows: it must parse, for every module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relrun.run.runner import COLLECTIONS_PATH

COLLECTION_ROOT = COLLECTIONS_PATH / "ansible_collections" / "relrun" / "release"
MODULES_DIR = COLLECTION_ROOT / "plugins" / "modules"
MODULES = sorted(p.stem for p in MODULES_DIR.glob("*.py") if p.stem != "__init__")
ANSIBLE_DOC = Path(sys.executable).with_name("ansible-doc")


def test_the_collection_has_modules() -> None:
    assert {"api_check", "deadman", "traffic", "analysis"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders_the_module(module: str) -> None:
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH)}
    done = subprocess.run(
        [str(ANSIBLE_DOC), "-t", "module", "--json", f"relrun.release.{module}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)[f"relrun.release.{module}"]
    assert doc["doc"]["module"] == module
    assert doc["doc"]["short_description"]
    assert doc["examples"].strip(), "every module carries EXAMPLES"
    assert doc["return"], "every module documents what it returns"


@pytest.mark.parametrize(
    ("module", "fragment_options"),
    [
        ("api_check", {"validate_certs", "ca_path", "client_cert", "client_key", "use_proxy"}),
        ("traffic", {"driver", "connection"}),
    ],
)
def test_shared_options_come_from_doc_fragments(module: str, fragment_options: set[str]) -> None:
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH)}
    done = subprocess.run(
        [str(ANSIBLE_DOC), "-t", "module", "--json", f"relrun.release.{module}"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    options = json.loads(done.stdout)[f"relrun.release.{module}"]["doc"]["options"]
    assert fragment_options <= options.keys()
    source = (MODULES_DIR / f"{module}.py").read_text(encoding="utf-8")
    assert "extends_documentation_fragment" in source
