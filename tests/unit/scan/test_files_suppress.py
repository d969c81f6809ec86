from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan import (
    gitindex as scan_gitindex,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan import (
    manifests as scan_manifests,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.dotenv import (
    is_dotenv,
    scan_dotenv,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.engine import (
    Policy,
    PolicyError,
    ScanInputError,
    load_baseline,
    scan,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.policy import (
    DEFAULT_FORBIDDEN,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.postman import (
    scan_postman,
)
from tests.unit.scan.helpers import make_jwt, make_password, make_token


def test_dotenv_names() -> None:
    assert is_dotenv(".env") and is_dotenv(".env.production") and is_dotenv("prod.env")
    assert not any(is_dotenv(n) for n in (".env.example", ".env.sample", ".env.template", "env.py"))


def test_dotenv_values() -> None:
    pw = make_password()
    text = f"JWT_SECRET={pw}\nJWT_ALGORITHM=HS256\nDB_PASSWORD=\nAPI_KEY=changeme\n"
    assert [(f.rule, f.line) for f in scan_dotenv(".env", text)] == [("dotenv-secret", 1)]


def test_manifests() -> None:
    scanner = scan_manifests.ManifestScanner(DEFAULT_FORBIDDEN)
    found, _ = scanner.scan("requirements", "r.txt", "firebase-admin==6\nfirebase-admin-compat\n")
    assert [f.line for f in found] == [1]
    pkg = json.dumps({"dependencies": {"firebase": "1", "firebase-tools": "1"}}, indent=1)
    found, fallback = scanner.scan("package.json", "package.json", pkg)
    assert [f.value for f in found] == ["firebase"] and fallback is None
    found, fallback = scanner.scan("package.json", "package.json", "{not json")
    assert found == [] and fallback


def test_postman_bare_tokens() -> None:
    tok, jwt = make_token(), make_jwt()
    doc = {"info": {"_postman_id": "x"},
           "auth": {"type": "bearer", "bearer": [{"key": "token", "value": tok}]},
           "variable": [{"key": "jwt", "value": jwt}, {"key": "token", "value": "{{t}}"}]}
    found, error = scan_postman("c.json", json.dumps(doc, indent=2))
    assert error is None and sorted(f.rule for f in found) == ["bearer-literal", "jwt-literal"]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body)


def test_inline_allow_pinned_and_baseline(tmp_path: Path) -> None:
    jwt = make_jwt()
    allow = "# relrun: allow forbidden-import -- shim"
    _write(tmp_path, {"a.py": f'T = "{jwt}"\nimport firebase  {allow}\n'})
    first = scan(str(tmp_path))
    assert [f["rule"] for f in first["findings"]] == ["jwt-literal"]
    fp = first["findings"][0]["fingerprint"]
    # Pinning the allow to the value suppresses it; another value resurfaces.
    _write(tmp_path, {"a.py": f'T = "{jwt}"  # relrun: allow jwt-literal fp={fp[:12]} -- test\n'})
    assert scan(str(tmp_path))["findings"] == []
    other = make_jwt(seed=9)
    _write(tmp_path, {"a.py": f'T = "{other}"  # relrun: allow jwt-literal fp={fp[:12]} -- test\n'})
    assert [f["rule"] for f in scan(str(tmp_path))["findings"]] == ["jwt-literal"]
    # The baseline suppresses by fingerprint, with its reason.
    _write(tmp_path, {"a.py": f'\n\nT = "{jwt}"\n'})
    entries = {fp: {"fingerprint": fp, "reason": "accepted"}}
    result = scan(str(tmp_path), baseline=entries)
    assert result["findings"] == [] and result["suppressed"][0]["reason"] == "accepted"


def test_baseline_errors(tmp_path: Path) -> None:
    with pytest.raises(ScanInputError):
        load_baseline(str(tmp_path / "missing.json"))
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps({"entries": [{"fingerprint": "0" * 32}]}))
    with pytest.raises(ScanInputError, match="reason"):
        load_baseline(str(bad))
    bad.write_text("entries:\n  - fingerprint: '" + "a" * 32 + "'\n    reason: ok\n")
    assert list(load_baseline(str(bad))) == ["a" * 32]


def test_policy_validation() -> None:
    assert Policy.from_dict({"fail_on": "critical"}).fail_on == "critical"
    for bad in ({"fail_on": "urgent"}, {"nope": 1}, {"forbidden_imports": {"cobol": []}},
                {"max_file_size": -1}):
        with pytest.raises(PolicyError):
            Policy.from_dict(bad)


def test_skips_are_counted(tmp_path: Path) -> None:
    _write(tmp_path, {"node_modules/x.js": "", "venv/pyvenv.cfg": "", "yarn.lock": "",
                      "big.py": "#" * 2000, "bin.dat2": "a\0b", "ok.py": "x = 1\n",
                      "gen/skip.py": "", ".relrun-scan-ignore": "gen/\n"})
    result = scan(str(tmp_path), Policy(max_file_size=1000))
    assert result["skipped_counts"] == {"binary": 1, "dependencies": 1, "excluded": 1,
                                        "lock file": 1, "too large": 1, "virtualenv": 1}
    assert result["ignore_patterns"] == ["gen/"]


def test_missing_path_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(ScanInputError):
        scan(str(tmp_path / "nope"))


def test_untracked_env_is_skipped_in_a_git_checkout(tmp_path: Path) -> None:
    pw = make_password()
    _write(tmp_path, {".env": f"JWT_SECRET={pw}\n", "tracked/.env": f"API_KEY={pw}\n"})
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "tracked/.env"], check=True)
    assert scan_gitindex.TrackedFiles(str(tmp_path)).is_tracked(str(tmp_path / "tracked/.env"))
    result = scan(str(tmp_path))
    assert [f["path"] for f in result["findings"]] == ["tracked/.env"]
    assert {"path": ".env", "reason": "untracked .env"} in result["skipped_files"]
