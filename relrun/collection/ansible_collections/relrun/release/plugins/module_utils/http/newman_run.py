"""Find newman, write its environment (0600, deleted after), run it, read its report.

Secrets never go on newman's command line (which any local user can read in the process
list): the password travels in a temporary environment file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from typing import Any

INSTALL_HINT = (
    "install it with `npm install -g newman`, or run `npm ci` in the relrun checkout "
    "(installs node_modules/.bin/newman) and pass its path as newman_path "
    "(inventory variable relrun_newman_path)"
)


class NewmanMissing(Exception):
    """newman (or node, which runs it) is not installed where we looked."""


class NewmanFailed(Exception):
    """newman ran but produced no report (bad collection, crash, timeout)."""


def find_newman(newman_path: str | None, base_dir: str | None) -> str:
    """Locate the newman executable.

    Looks at ``newman_path`` (a file, or a directory holding ``newman``), then ``newman``
    on PATH, then ``node_modules/.bin/newman`` under ``base_dir`` (a relrun checkout
    after ``npm ci``).

    Returns:
        The executable's path.

    Raises:
        NewmanMissing: with the places looked at and how to install it.
    """
    looked: list[str] = []
    candidates: list[str] = []
    if newman_path:
        path = os.path.expanduser(newman_path)
        candidates.append(os.path.join(path, "newman") if os.path.isdir(path) else path)
    on_path = shutil.which("newman")
    looked.append("PATH")
    if on_path:
        candidates.append(on_path)
    if base_dir:
        candidates.append(os.path.join(base_dir, "node_modules", ".bin", "newman"))
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    looked = [c for c in candidates if c != on_path] + looked
    raise NewmanMissing(f"newman not found (looked in: {', '.join(looked)}); {INSTALL_HINT}")


def environment_document(
    template: dict[str, Any] | None, variables: dict[str, str], secret_keys: set[str]
) -> dict[str, Any]:
    """A Postman environment: ``template``'s values, overridden by ``variables``.

    Args:
        template: a Postman environment (``{"values": [...]}``) or None.
        variables: values relrun sets (``baseUrl``, ``username``, ``password``).
        secret_keys: keys marked ``type: secret``.

    Returns:
        The environment document.
    """
    values = [
        dict(v)
        for v in (template or {}).get("values") or []
        if isinstance(v, dict) and v.get("key") not in variables
    ]
    for key, value in variables.items():
        values.append(
            {
                "key": key,
                "value": value,
                "type": "secret" if key in secret_keys else "default",
                "enabled": True,
            }
        )
    return {
        "id": (template or {}).get("id", "relrun"),
        "name": (template or {}).get("name", "relrun"),
        "values": values,
        "_postman_variable_scope": "environment",
    }


PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def tls_flags(
    validate_certs: bool = True,
    ca_path: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
) -> list[str]:
    """The newman command-line flags for the TLS settings api_check takes.

    Args:
        validate_certs: False adds ``--insecure``.
        ca_path: CAs trusted besides newman's own (``--ssl-extra-ca-certs``).
        client_cert: client certificate (``--ssl-client-cert``).
        client_key: its key; a certificate file that holds the key too is given as both.

    Returns:
        The flags (paths only: no secret goes on the command line).
    """
    flags: list[str] = [] if validate_certs else ["--insecure"]
    if ca_path:
        flags += ["--ssl-extra-ca-certs", ca_path]
    if client_cert:
        flags += ["--ssl-client-cert", client_cert, "--ssl-client-key", client_key or client_cert]
    return flags


def newman_environ(use_proxy: bool, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The newman process environment: the host's, without proxies unless they are wanted."""
    env = dict(os.environ if environ is None else environ)
    if not use_proxy:
        for name in PROXY_VARIABLES:
            env.pop(name, None)
    return env


def run_newman(
    executable: str,
    collection: str,
    environment: dict[str, Any],
    *,
    timeout_s: float,
    request_timeout_s: float,
    flags: list[str] | None = None,
    environ: dict[str, str] | None = None,
) -> tuple[dict[str, Any], int, str]:
    """Run ``newman run`` with the JSON reporter in a private temporary directory.

    ``flags`` go after relrun's own (see :func:`tls_flags`); ``environ`` is newman's process
    environment (default the host's, see :func:`newman_environ`).

    Returns:
        ``(report, exit_code, stderr_tail)``; newman exits 1 when assertions failed, and
        still writes the report.

    Raises:
        NewmanMissing: when node (newman's interpreter) cannot be started.
        NewmanFailed: when no report was written.
    """
    # mkdtemp is 0700 and mkstemp 0600: the environment holds the password, the report
    # the tokens; both disappear with the directory.
    workdir = tempfile.mkdtemp(prefix="relrun-newman-")
    try:
        fd, env_file = tempfile.mkstemp(suffix=".json", dir=workdir)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(environment, handle)
        report_file = os.path.join(workdir, "report.json")
        argv = [
            executable, "run", collection,
            "--environment", env_file,
            "--reporters", "json",
            "--reporter-json-export", report_file,
            "--timeout-request", str(int(request_timeout_s * 1000)),
            "--timeout", str(int(timeout_s * 1000)),
            "--disable-unicode", "--color", "off",
            *(flags or []),
        ]  # fmt: skip
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout_s + 30,
                check=False,
                cwd=workdir,
                env=environ,
            )
        except FileNotFoundError as exc:
            raise NewmanMissing(
                f"cannot start {executable}: {exc.strerror}; {INSTALL_HINT}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise NewmanFailed(f"newman did not finish within {timeout_s:g}s") from exc
        tail = (proc.stderr or proc.stdout or "").strip()[-2000:]
        if proc.returncode == 127 or ("env: " in tail and "node" in tail):
            raise NewmanMissing(
                f"newman could not start (is node installed?): {tail}; {INSTALL_HINT}"
            )
        try:
            with open(report_file, encoding="utf-8") as handle:
                report = json.load(handle)
        except (OSError, ValueError) as exc:
            raise NewmanFailed(f"newman exited {proc.returncode} without a report: {tail}") from exc
        return report, proc.returncode, tail
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
