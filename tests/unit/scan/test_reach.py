"""Issue 19: provider keys, git history and .gitignore, line-pinned baselines; SARIF."""

from __future__ import annotations

import datetime
import json
import random
import shutil
import subprocess
import zlib
from pathlib import Path

import jsonschema
import pytest

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan import (
    findings as scan_findings,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan import (
    providers as scan_providers,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.engine import (
    Policy,
    scan,
)
from relrun.scan import run_scan
from relrun.scan.reports import scan_sarif
from tests.unit.scan.helpers import make_jwt, make_password

SCHEMA = json.loads((Path(__file__).parent / "data/sarif-schema-2.1.0.json").read_text())
_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _checksummed(prefix: str, seed: int) -> str:
    rnd = random.Random(seed)
    body = "".join(rnd.choice(_ALNUM) for _ in range(30))
    crc, out = zlib.crc32(body.encode()), ""
    while crc:
        crc, rem = divmod(crc, 62)
        out = _B62[rem] + out
    return prefix + body + out.rjust(6, "0")


def _rules(text: str, name: str = "f.txt") -> list[str]:
    return [f.rule for f in scan_providers.scan_providers(name, text)]


def test_github_and_npm_tokens_need_a_valid_checksum() -> None:
    for prefix, rule in (("ghp_", "github-token"), ("gho_", "github-token"), ("npm_", "npm-token")):
        token = _checksummed(prefix, 7)
        assert _rules(f"t = {token}\n") == [rule]
        broken = token[:-1] + ("A" if token[-1] != "A" else "B")
        assert _rules(f"t = {broken}\n") == []
    assert _rules("t = ghp_" + "x" * 36 + "\n") == []


def test_provider_example_values_are_not_findings() -> None:
    assert _rules("AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n") == []
    assert _rules('key = "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx"\n') == []
    rnd = random.Random(3)
    assert _rules('key = "sk_test_' + "".join(rnd.choice(_ALNUM) for _ in range(26)) + '"\n') == []
    assert _rules("-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----\n") == []


def test_authorization_schemes(tmp_path: Path) -> None:
    import base64

    basic = base64.b64encode(f"deploy:{make_password()}".encode()).decode()
    doc_basic = base64.b64encode(b"user:password").decode()
    (tmp_path / "c.sh").write_text(
        f'curl -H "Authorization: Basic {basic}" x\n'
        f'curl -H "Authorization: Basic {doc_basic}" x\n'
        'curl -H "Authorization: token $GITHUB_TOKEN" x\n')
    found = [(f["rule"], f["line"]) for f in scan(str(tmp_path))["findings"]]
    assert found == [("authorization-literal", 1)]


def test_pinned_fingerprints_new_import_is_new_finding(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("import firebase_admin\n")
    baseline = tmp_path / "baseline.json"
    assert run_cli(app, ["scan", str(src), "--write-baseline", str(baseline)]) == 0
    assert json.loads(baseline.read_text())["version"] == 2
    assert run_cli(app, ["scan", str(src), "--baseline", str(baseline)]) == 0
    (src / "a.py").write_text("\n\nimport firebase_admin\n"  # moved: still accepted
                              "import firebase_admin\n"  # a second identical import: new
                              "def f():\n    import firebase_admin.auth\n"
                              "from firebase_admin import credentials\n")
    result = run_scan(src, baseline=baseline)
    assert [f.line for f in result.findings] == [4, 6, 7]
    assert [s.line for s in result.suppressed] == [3]
    assert run_cli(app, ["scan", str(src), "--baseline", str(baseline)]) == 1
    fps = [f.fingerprint for f in result.findings] + [s.fingerprint for s in result.suppressed]
    assert len(set(fps)) == len(fps)


def test_version_1_baseline_accepts_one_finding_with_a_notice(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import firebase_admin\nimport firebase_admin\n")
    legacy = scan_findings.fingerprint("forbidden-import", "a.py", "firebase_admin")
    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps({"version": 1, "entries": [
        {"fingerprint": legacy, "rule": "forbidden-import", "path": "a.py", "reason": "shim"}]}))
    result = run_scan(tmp_path, baseline=baseline)
    assert [f.line for f in result.findings] == [2]
    assert [s.line for s in result.suppressed] == [1]
    assert any("version 1" in n.message and "--write-baseline" in n.message
               for n in result.notices)


def test_bad_yaml_baseline_message_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = tmp_path / "b.yml"
    baseline.write_text("entries:\n  - fingerprint: [\n")
    assert run_cli(app, ["scan", str(tmp_path), "--baseline", str(baseline)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{baseline}:1:1: error: ") and err.count("\n") == 1
    assert "\\n" not in err


def test_package_pin_is_not_redacted() -> None:
    assert scan_findings.excerpt("firebase-admin==6.5.0", None) == "firebase-admin==6.5.0"
    rnd = random.Random(5)
    token = "rrtest" + "".join(rnd.choice(_ALNUM) for _ in range(30))
    assert token not in scan_findings.excerpt(f"x = {token}", None)


def _git(repo: Path, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin", "HOME": str(repo)}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / ".gitignore").write_text("build/\n")
    (repo / "app" / "client.py").write_text(f'TOKEN = "{make_jwt(seed=11)}"\n')
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "one")
    (repo / "app" / "client.py").write_text('TOKEN = os.environ["TOKEN"]\n')
    _git(repo, "commit", "-qam", "two: the JWT is gone from the tree")
    (repo / "build").mkdir()
    (repo / "build" / "out.js").write_text(f'const t = "{make_jwt(seed=12)}";\n')
    return repo


@needs_git
def test_gitignore_is_honoured_unless_no_ignore(repo: Path) -> None:
    result = scan(str(repo))
    assert result["findings"] == [] and result["gitignore"] is True
    assert {"path": "build/", "reason": "gitignored"} in result["skipped_files"]
    found = scan(str(repo), Policy(gitignore=False))["findings"]
    assert [(f["path"], f["rule"]) for f in found] == [("build/out.js", "jwt-literal")]


@needs_git
def test_history_reports_a_deleted_secret_with_its_commit(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(app, ["scan", str(repo)]) == 0
    capsys.readouterr()
    assert run_cli(app, ["scan", str(repo), "--history"]) == 1
    out = capsys.readouterr().out
    first = subprocess.run(["git", "-C", str(repo), "rev-list", "--max-parents=0", "HEAD"],
                           check=True, capture_output=True, text=True).stdout.strip()
    assert "app/client.py:1:10: critical jwt-literal" in out and first[:12] in out
    assert make_jwt(seed=11) not in out
    result = scan(str(repo), Policy(history=True))
    assert [f["meta"]["commit"] for f in result["findings"]] == [first]
    # New blobs only: the first commit's .gitignore is still in HEAD (the tree scan sees it).
    assert result["history"]["blobs"] == 1
    # Bounded by --since: commits made today are not after the day after tomorrow.
    later = (datetime.date.today() + datetime.timedelta(days=2)).isoformat()
    assert scan(str(repo), Policy(history=True, since=later))["findings"] == []


@needs_git
def test_sarif_is_valid_and_repository_relative(repo: Path) -> None:
    (repo / "app" / "auth.py").write_text("import firebase_admin\nimport firebase_admin\n")
    result = run_scan(repo / "app", history=True)
    sarif = scan_sarif(result)
    jsonschema.Draft4Validator(SCHEMA).validate(sarif)
    run = sarif["runs"][0]
    driver = run["tool"]["driver"]
    # relrun declares no public home (no project URL): no address is made up for it.
    assert "informationUri" not in driver
    assert all("helpUri" not in rule for rule in driver["rules"])
    for rule in driver["rules"]:
        assert rule["fullDescription"]["text"] and rule["help"]["text"]
        assert "security" in rule["properties"]["tags"]
        assert 0.0 < float(rule["properties"]["security-severity"]) <= 10.0
    uris = sorted(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                  for r in run["results"])
    assert uris == ["app/auth.py", "app/auth.py", "app/client.py"]
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == repo.resolve().as_uri() + "/"
    fps = [r["partialFingerprints"]["relrunFingerprint/v1"] for r in run["results"]]
    assert len(set(fps)) == len(fps) == 3


def test_sarif_outside_git_is_relative_to_the_scan_root(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(f'T = "{make_jwt()}"\n')
    sarif = scan_sarif(run_scan(tmp_path))
    jsonschema.Draft4Validator(SCHEMA).validate(sarif)
    location = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "a.py", "uriBaseId": "SCANROOT"}


def test_sarif_links_the_rules_where_the_package_says_its_docs_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib import metadata

    real = metadata.metadata

    class _Meta:
        def get_all(self, name: str) -> list[str] | None:
            if name == "Project-URL":
                return ["Repository, https://git.example.org/ops/relrun/"]
            return None

    monkeypatch.setattr(
        metadata, "metadata", lambda name: _Meta() if name == "relrun" else real(name)
    )
    (tmp_path / "a.py").write_text("import firebase_admin\n")
    sarif = scan_sarif(run_scan(tmp_path))
    jsonschema.Draft4Validator(SCHEMA).validate(sarif)
    driver = sarif["runs"][0]["tool"]["driver"]
    docs = "https://git.example.org/ops/relrun/blob/main/docs/scan.md"
    assert driver["informationUri"] == docs
    assert all(rule["helpUri"].startswith(docs + "#") for rule in driver["rules"])
