"""Argument specs the HTTP modules share (api_check, newman), standard library only.

Their documentation is the ``relrun.release.http_tls`` fragment (TLS and proxy) and each
module's ``credentials`` suboptions.
"""

from __future__ import annotations

from typing import Any

CREDENTIAL_OPTIONS: dict[str, Any] = {
    "username": {"type": "str"},
    "username_env": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    # References to secrets, not secrets: keep them readable in logs.
    "password_env": {"type": "str", "no_log": False},
    "password_file": {"type": "path", "no_log": False},
    "from_file": {"type": "path"},
}

TLS_OPTIONS: dict[str, Any] = {
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "client_cert": {"type": "path"},
    "client_key": {"type": "path"},
    "use_proxy": {"type": "bool", "default": True},
}
