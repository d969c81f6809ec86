"""Test data made at run time, so no secret-looking literal lives in this repository."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random

ENGINE = "relrun.collection.ansible_collections.relrun.release.plugins.module_utils"
_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict[str, object] | None = None, key: bytes = b"", alg: str = "HS256",
             seed: int = 1) -> str:
    rnd = random.Random(seed)
    key = key or bytes(rnd.randrange(256) for _ in range(32))
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims or {"sub": "unit-test", "exp": 1893456000}).encode())
    if alg == "none":
        return f"{header}.{payload}."
    sig = b64(hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{sig}"


def make_token(length: int = 40, seed: int = 2) -> str:
    rnd = random.Random(seed)
    return "rrtest" + "".join(rnd.choice(_ALNUM) for _ in range(length - 6))


def make_password(seed: int = 3) -> str:
    rnd = random.Random(seed)
    return "Rr" + "".join(rnd.choice(_ALNUM + "!#%") for _ in range(16))
