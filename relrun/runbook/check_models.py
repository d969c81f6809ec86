"""The ``api_checks`` section: the API gate, readable without knowing any tool.

Checks run in order against one base URL. Values captured by one check are used by later
ones through ``${captures.NAME}`` placeholders, which the ``relrun.release.api_check``
module resolves on the host; Ansible never templates them. Credentials are referenced
(an environment variable, a file on the host), never written in the runbook.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetJsonSchemaHandler,
    JsonValue,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema

from relrun.runbook.base import StrictModel
from relrun.runbook.types import GroupName, Name, Seconds, Template, TimeoutSeconds

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
JsonType = Literal["string", "number", "integer", "boolean", "object", "array", "null"]
RefusalCase = Literal["missing", "malformed", "wrong_key", "alg_none", "tampered"]
Status = Annotated[int, Field(ge=100, le=599)]
# Where a check runs: the gate (against the canary, before traffic moves) or the rollback's
# verify step (against stable alone).
Phase = Literal["gate", "verify"]
PHASES: tuple[Phase, ...] = ("gate", "verify")
VarName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
CaptureName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
JsonPath = Annotated[
    str,
    Field(
        pattern=r'^\$?(\.?([^.\[\]"]+|\[-?\d+\]|\["([^"\\]|\\.)*"\]))*$',
        description='Dotted keys with [N] indexes, e.g. `data.items[0].id`; `["a.b"]` for '
        "keys holding dots.",
    ),
]

# Same grammar as the module's http_placeholders (the runbook layer must not import the
# collection); tests/unit/checks pins the two together.
_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([^{}]*)\}")
_REFERENCE = re.compile(r"^(captures|credentials|run)\.([A-Za-z_][A-Za-z0-9_]*)$")
_CREDENTIAL_NAMES = ("username", "password")
_SECRETISH = re.compile(r"auth|token|login|session|secret|passw|cookie|key", re.IGNORECASE)

REFUSAL_CASES: tuple[RefusalCase, ...] = (
    "missing",
    "malformed",
    "wrong_key",
    "alg_none",
    "tampered",
)


def _compiles(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regex: {exc}") from None
    return value


def _status_list(value: Any) -> Any:
    return [value] if isinstance(value, int) and not isinstance(value, bool) else value


class _OneOrListJsonSchema:
    """The JSON Schema of a list that also takes a single item, as ``_status_list`` does."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        array = handler(schema)
        return {"anyOf": [array["items"], array]}


Regex = Annotated[str, AfterValidator(_compiles)]
StatusList = Annotated[
    list[Status], BeforeValidator(_status_list), Field(min_length=1), _OneOrListJsonSchema()
]


class HttpRequest(StrictModel):
    """One HTTP request; strings may hold ``${...}`` placeholders."""

    method: HttpMethod = Field(default="GET", description="HTTP method.")
    path: str = Field(
        pattern=r"^/",
        description="Path relative to the base URL, starting with `/` (e.g. `/messages`).",
    )
    query: dict[str, str] = Field(default_factory=dict, description="Query parameters.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Request headers, e.g. `Authorization: Bearer ${captures.token}`.",
    )
    body: JsonValue = Field(default=None, alias="json", description="JSON body to send.")
    timeout_s: TimeoutSeconds = Field(
        default=10.0, description="Seconds to wait for the connection and each read."
    )


class FieldExpectation(StrictModel):
    """What one JSON field of the response must look like; every key set is checked."""

    present: bool | None = Field(default=None, description="The field must (not) exist.")
    equals: JsonValue = Field(
        default=None,
        description="Exact value (a string may be a `${captures.NAME}` placeholder). "
        "To require null, use `type: null`.",
    )
    type: JsonType | None = Field(default=None, description="JSON type of the value.")
    regex: Regex | None = Field(default=None, description="Python regex searched in the value.")

    @model_validator(mode="after")
    def _something(self) -> FieldExpectation:
        if self.present is None and self.equals is None and self.type is None and not self.regex:
            raise ValueError("give at least one of present, equals, type, regex")
        return self


class HeaderExpectation(StrictModel):
    """What one response header must look like."""

    present: bool | None = Field(default=None, description="The header must (not) exist.")
    equals: str | None = Field(default=None, description="Exact value.")
    regex: Regex | None = Field(default=None, description="Python regex searched in the value.")

    @model_validator(mode="after")
    def _something(self) -> HeaderExpectation:
        if self.present is None and self.equals is None and not self.regex:
            raise ValueError("give at least one of present, equals, regex")
        return self


class Expectation(StrictModel):
    """What the response must be."""

    status: StatusList | None = Field(
        default=None,
        description="Accepted status code, or list of codes; default any 2xx.",
    )
    json_fields: dict[JsonPath, FieldExpectation] = Field(
        default_factory=dict, alias="json", description="JSON fields by path."
    )
    headers: dict[str, HeaderExpectation] = Field(
        default_factory=dict, description="Response headers by name (case-insensitive)."
    )
    max_latency_ms: float | None = Field(
        default=None,
        gt=0,
        description="Upper bound of the latency in ms (the p95 when `repeat` > 1).",
    )


class Capture(StrictModel):
    """Where a captured value comes from: a JSON field or a header of the response."""

    json_path: JsonPath | None = Field(default=None, alias="json", description="JSON path.")
    header: str | None = Field(default=None, description="Header name.")
    secret: bool | None = Field(
        default=None,
        description="Mask the value as `***` in every result. Default: true when the "
        "request or the capture looks like authentication (auth, token, login, session, "
        "secret, password, cookie, key), else false.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Capture:
        if (self.json_path is None) == (self.header is None):
            raise ValueError("give exactly one of json, header")
        return self


class _CheckBase(StrictModel):
    name: Name = Field(description="Unique name; appears in results and JUnit.")
    description: str | None = Field(default=None, description="Why this check exists.")
    required: bool = Field(
        default=True, description="A failed required check fails the gate; others are reported."
    )
    run_in: list[Phase] | None = Field(
        default=None,
        min_length=1,
        description="Where it runs: `gate` (against the canary before traffic moves), "
        "`verify` (against stable in the rollback's verify step), or both; default the "
        "section's `run_in`. A check of something only the new version has is `[gate]`.",
    )

    @field_validator("run_in")
    @classmethod
    def _distinct(cls, value: list[Phase] | None) -> list[Phase] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("name each phase once")
        return value


def _resolve_secrets(
    captures: dict[str, Capture], info: ValidationInfo, default_path: str = ""
) -> dict[str, Capture]:
    request = info.data.get("request")
    path = request.path if isinstance(request, HttpRequest) else default_path
    resolved: dict[str, Capture] = {}
    for name, capture in captures.items():
        if capture.secret is None:
            source = capture.json_path or capture.header or ""
            secret = any(_SECRETISH.search(text) for text in (path, name, source))
            capture = capture.model_copy(update={"secret": secret})
        resolved[name] = capture
    return resolved


class HttpCheck(_CheckBase):
    """A plain request with expectations."""

    kind: Literal["http"] = Field(description="`http`: one request (maybe repeated).")
    request: HttpRequest = Field(description="The request.")
    expect: Expectation = Field(default_factory=Expectation, description="Expectations.")
    repeat: int = Field(
        default=1, ge=1, le=1000, description="Send it N times; latency p50/p95 over them."
    )
    capture: dict[CaptureName, Capture] = Field(
        default_factory=dict, description="Values for later checks: `${captures.NAME}`."
    )

    _secrets = field_validator("capture")(_resolve_secrets)


def _health_expect() -> Expectation:
    return Expectation(status=[200], json_fields={"status": FieldExpectation(equals="ok")})


class HealthCheck(_CheckBase):
    """The health endpoint answers 200 with ``status: ok`` (and the expected version)."""

    kind: Literal["health"] = Field(description="`health`: GET /health.")
    request: HttpRequest = Field(
        default_factory=lambda: HttpRequest(path="/health"), description="The request."
    )
    expect: Expectation = Field(
        default_factory=_health_expect,
        description="Expectations; default status 200 and `status` equals `ok`.",
    )
    version: str | None = Field(default=None, description="The JSON `version` must equal this.")
    repeat: int = Field(default=1, ge=1, le=1000, description="Send it N times.")
    capture: dict[CaptureName, Capture] = Field(default_factory=dict, description="Captures.")

    _secrets = field_validator("capture")(_resolve_secrets)


def _login() -> HttpRequest:
    return HttpRequest(
        method="POST",
        path="/auth/token",
        body={"username": "${credentials.username}", "password": "${credentials.password}"},
    )


def _probe(text: str) -> HttpRequest:
    return HttpRequest(method="POST", path="/messages", body={"text": text + " ${run.id}"})


class JwtAuthCheck(_CheckBase):
    """Log in, use the token, and prove missing or forged tokens are refused."""

    kind: Literal["jwt_auth"] = Field(
        description="`jwt_auth`: token issued, used, forgeries refused."
    )
    login: HttpRequest = Field(
        default_factory=_login,
        description="The login request; default POST /auth/token with the credentials.",
    )
    login_status: StatusList = Field(
        default_factory=lambda: [200], description="Accepted login status codes."
    )
    token_field: JsonPath = Field(
        default="access_token", description="JSON path of the token in the login response."
    )
    capture_as: CaptureName = Field(
        default="token", description="Capture name of the token (always secret)."
    )
    protected: HttpRequest = Field(
        default_factory=lambda: _probe("relrun auth probe"),
        description="A protected request: must be 2xx with the token. Its Authorization "
        "header is set by the check.",
    )
    refuse: list[RefusalCase] = Field(
        default_factory=lambda: list(REFUSAL_CASES),
        description="Tokens that must be refused: none at all, garbage, signed with a wrong "
        "key, `alg: none`, claims altered under the original signature.",
    )
    refusal_status: Status = Field(default=401, description="Status a refusal must have.")
    www_authenticate: bool = Field(
        default=True, description="Refusals must carry `WWW-Authenticate: Bearer`."
    )


class RateLimitCheck(_CheckBase):
    """A burst must be throttled: some 429 with Retry-After, and never a 5xx."""

    kind: Literal["rate_limit"] = Field(description="`rate_limit`: burst, expect throttling.")
    request: HttpRequest = Field(description="The request sent in the burst.")
    burst: int = Field(default=50, ge=2, le=10_000, description="Requests in the burst.")
    concurrency: int = Field(default=10, ge=1, le=100, description="Requests in flight at once.")
    limited_status: Status = Field(default=429, description="Status of a throttled request.")


class SseCheck(_CheckBase):
    """A message created through the API arrives on the event stream."""

    kind: Literal["sse"] = Field(description="`sse`: stream, trigger, matching event.")
    stream: HttpRequest = Field(
        default_factory=lambda: HttpRequest(path="/events"), description="The GET stream request."
    )
    trigger: HttpRequest = Field(
        default_factory=lambda: _probe("relrun sse probe"),
        description="The request that must cause the event (its JSON response is matched).",
    )
    event: str = Field(default="message", description="The event type expected.")
    match: list[JsonPath] = Field(
        default_factory=lambda: ["id", "text"],
        min_length=1,
        description="Paths that must be equal in the trigger's response and the event data.",
    )
    timeout_s: TimeoutSeconds = Field(default=10.0, description="Seconds to wait for the event.")
    ready_timeout_s: Seconds = Field(
        default=2.0,
        description="Seconds to wait for the stream's first line before triggering (0: no wait).",
    )

    @field_validator("stream")
    @classmethod
    def _get(cls, value: HttpRequest) -> HttpRequest:
        if value.method != "GET":
            raise ValueError("the event stream is opened with GET")
        return value


AnyCheck = HttpCheck | HealthCheck | JwtAuthCheck | RateLimitCheck | SseCheck
ApiCheck = Annotated[AnyCheck, Field(discriminator="kind")]


class Credentials(StrictModel):
    """Where the API credentials are on the host running the checks (never the secrets)."""

    username: str | None = Field(default=None, description="The user name (not a secret).")
    username_env: VarName | None = Field(
        default=None, description="Environment variable holding the user name."
    )
    password_env: VarName | None = Field(
        default=None, description="Environment variable holding the password."
    )
    password_file: Template | None = Field(
        default=None, description="File whose content is the password (`{{ var }}` allowed)."
    )
    from_file: Template | None = Field(
        default=None,
        description='JSON file with `{"username", "password"}` or `{"users": [...]}` (the '
        "sandbox's `secrets/users.json`); `username` picks the entry. `{{ var }}` allowed.",
    )

    @model_validator(mode="after")
    def _sources(self) -> Credentials:
        if self.username is not None and self.username_env is not None:
            raise ValueError("give at most one of username, username_env")
        sources = [self.password_env, self.password_file, self.from_file]
        if sum(s is not None for s in sources) != 1:
            raise ValueError("give exactly one of password_env, password_file, from_file")
        return self


class Tls(StrictModel):
    """How the checks reach the API over HTTPS (passed to ``ansible.module_utils.urls``)."""

    validate_certs: bool = Field(
        default=True,
        description="Check the server's certificate and host name; off only for a test service.",
    )
    ca_path: Template | None = Field(
        default=None, description="PEM bundle of CAs to trust instead of the system's."
    )
    client_cert: Template | None = Field(
        default=None, description="PEM client certificate to present (may hold the key)."
    )
    client_key: Template | None = Field(
        default=None, description="PEM key of `client_cert`, when in a file of its own."
    )
    use_proxy: bool = Field(
        default=True,
        description="Honour `https_proxy` / `http_proxy` / `no_proxy` on the checking host.",
    )

    @model_validator(mode="after")
    def _key_needs_cert(self) -> Tls:
        if self.client_key is not None and self.client_cert is None:
            raise ValueError("client_key needs client_cert")
        return self


class ApiChecksSection(StrictModel):
    """The API gate: checks run before traffic moves, and again in the rollback's verify."""

    engine: Literal["native", "newman"] = Field(
        default="native",
        description="`native`: the `checks` below, run by relrun's module; `newman`: a "
        "Postman collection run by the newman CLI.",
    )
    host_group: GroupName = Field(default="build", description="Hosts that run the checks (once).")
    run_in: list[Phase] = Field(
        default_factory=lambda: list(PHASES),
        min_length=1,
        description="Where the checks run by default (a check's own `run_in` wins; for "
        "engine newman, where the collection runs): `gate`, `verify` or both.",
    )
    credentials: Credentials | None = Field(
        default=None,
        description="Credentials references for `${credentials.username}` / "
        "`${credentials.password}` (and the Postman `username` / `password` variables).",
    )
    checks: list[ApiCheck] = Field(
        default_factory=list, description="Native checks, run in order (engine `native`)."
    )
    tls: Tls | None = Field(
        default=None,
        description="TLS and proxy settings of the checks, native or newman (certificates are "
        "checked by default; newman trusts `ca_path` besides its own CAs, not instead).",
    )
    collection: Template | None = Field(
        default=None, description="Postman collection file (engine `newman`)."
    )
    environment: Template | None = Field(
        default=None,
        description="Postman environment file (engine `newman`); `baseUrl`, `username` and "
        "`password` are set by relrun on top of it.",
    )
    newman_path: Template | None = Field(
        default=None,
        description="The newman executable (or its directory); default `newman` on PATH.",
    )
    newman_timeout_s: TimeoutSeconds = Field(
        default=300.0, description="Seconds the whole newman run may take."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ApiChecksSection:
        if self.engine == "newman":
            if self.collection is None:
                raise ValueError("engine newman needs `collection`")
            if self.checks:
                raise ValueError("engine newman runs the collection; remove `checks`")
            return self
        for field in ("collection", "environment", "newman_path"):
            if getattr(self, field) is not None:
                raise ValueError(f"`{field}` is only for engine newman")
        if not self.checks:
            raise ValueError("engine native needs at least one check")
        self._check_names_and_references()
        return self

    def phases_of(self, check: AnyCheck) -> list[Phase]:
        """Where one of this section's checks runs: its own ``run_in``, else the section's."""
        return list(check.run_in if check.run_in is not None else self.run_in)

    def runs_in(self, phase: Phase) -> bool:
        """Whether anything of this section runs in ``phase``."""
        if self.engine == "newman":
            return phase in self.run_in
        return any(phase in self.phases_of(check) for check in self.checks)

    def checks_in(self, phase: Phase) -> list[AnyCheck]:
        """The native checks that run in ``phase``, in order."""
        return [check for check in self.checks if phase in self.phases_of(check)]

    def _check_names_and_references(self) -> None:
        seen: set[str] = set()
        # Captures per phase: a check may only use what an earlier check of the same
        # phase captured (a gate-only check captures nothing for the verify step).
        captured: dict[Phase, set[str]] = {phase: set() for phase in PHASES}
        for index, check in enumerate(self.checks):
            if check.name in seen:
                raise ValueError(f"checks[{index}]: duplicate check name {check.name!r}")
            seen.add(check.name)
            phases = self.phases_of(check)
            for text in _strings(check.model_dump(by_alias=True, exclude={"run_in"})):
                for namespace, name in _references(text, index):
                    missing = [p for p in phases if name not in captured[p]]
                    if namespace == "captures" and missing:
                        anywhere = any(name in captured[p] for p in PHASES)
                        where = " that runs in " + " and ".join(missing) if anywhere else ""
                        raise ValueError(
                            f"checks[{index}] ({check.name}): ${{captures.{name}}} is not "
                            f"captured by an earlier check{where}"
                        )
                    if namespace == "credentials":
                        if name not in _CREDENTIAL_NAMES:
                            raise ValueError(
                                f"checks[{index}] ({check.name}): unknown ${{credentials.{name}}}"
                                " (username or password)"
                            )
                        if self.credentials is None:
                            raise ValueError(
                                f"checks[{index}] ({check.name}) uses ${{credentials.{name}}}: "
                                "add a `credentials` section"
                            )
                    if namespace == "run" and name != "id":
                        raise ValueError(f"checks[{index}] ({check.name}): unknown ${{run.{name}}}")
            for phase in phases:
                captured[phase].update(captures_of(check))


def captures_of(
    check: HttpCheck | HealthCheck | JwtAuthCheck | RateLimitCheck | SseCheck,
) -> list[str]:
    """Names a check captures for later checks.

    Args:
        check: any check.

    Returns:
        The capture names, in order.
    """
    if isinstance(check, JwtAuthCheck):
        return [check.capture_as]
    if isinstance(check, HttpCheck | HealthCheck):
        return list(check.capture)
    return []


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _references(text: str, index: int) -> Iterator[tuple[str, str]]:
    for match in _PLACEHOLDER.finditer(text):
        if match.group(0) == "$${":
            continue
        named = _REFERENCE.match(match.group(1).strip())
        if named is None:
            raise ValueError(
                f"checks[{index}]: bad placeholder ${{{match.group(1)}}}: expected "
                "${captures.NAME}, ${credentials.username}, ${credentials.password} or ${run.id}"
            )
        yield named.group(1), named.group(2)
