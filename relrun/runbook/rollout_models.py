"""Runbook sections for moving traffic: deploy, traffic, analysis, rollout, rollback, drill."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, WithJsonSchema, field_validator, model_validator

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.http.jsonpath import (  # noqa: E501
    JsonPathError,
    parse_path,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.drivers import (  # noqa: E501
    GUARD_SOURCE_NAMES,
    METRIC_SOURCE_NAMES,
    ROUTER_NAMES,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.prometheus import (  # noqa: E501
    TEMPLATE_VARS,
    template_vars,
)
from relrun.runbook.base import StrictModel
from relrun.runbook.check_models import Tls
from relrun.runbook.models import Command
from relrun.runbook.types import Name, SampleInterval, Template, TimeoutSeconds, WatchSeconds

EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
VarName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]

class Step(Command):
    """A named command run on hosts (deploy, cleanup, hooks)."""

    name: Name = Field(description="Step name, shown in the plan and reports.")
    env_from_vars: dict[EnvName, VarName] = Field(
        default_factory=dict,
        description="Environment variables whose values come from inventory variables "
        "(name → variable), so one runbook serves every environment.",
    )


class Readiness(StrictModel):
    """How to know the new version is up: an HTTP GET on each canary server."""

    path: str = Field(default="/health", pattern=r"^/", description="Path to GET.")
    status: int = Field(default=200, ge=100, le=599, description="Expected status.")
    timeout: WatchSeconds = Field(default=30, description="Give up after this long.")


class Deploy(StrictModel):
    """How the canary is started on its hosts before the first stage."""

    steps: list[Step] = Field(default_factory=list, description="Run in order on canary hosts.")
    readiness: Readiness = Field(default_factory=Readiness)


def one_of(kind: str, names: Sequence[str]) -> AfterValidator:
    """The check that a name is one of a registry's ``names`` (its error lists them)."""

    def known(name: str) -> str:
        if name not in names:
            raise ValueError(f"unknown {kind} {name!r}; one of {', '.join(names)}")
        return name

    return AfterValidator(known)


def enum(names: Sequence[str]) -> WithJsonSchema:
    """The schema of a registry name: one of ``names``."""
    return WithJsonSchema({"type": "string", "enum": list(names)})


# The names come from the collection's registries: an implementation added there is valid here.
RouterName = Annotated[str, one_of("router", ROUTER_NAMES), enum(ROUTER_NAMES)]


class Traffic(StrictModel):
    """Who moves traffic, and between which servers."""

    driver: RouterName = Field(
        default="sandbox", description="The router's kind; its connection comes from inventory."
    )
    backend: Name = Field(default="api", description="The router backend serving the API.")
    stable_servers: list[Name] = Field(
        default_factory=lambda: ["stable"], min_length=1, description="Servers of the old version."
    )
    canary_servers: list[Name] = Field(
        default_factory=lambda: ["canary"], min_length=1, description="Servers of the new version."
    )


MetricSourceName = Annotated[
    str, one_of("metric provider", METRIC_SOURCE_NAMES), enum(METRIC_SOURCE_NAMES)
]


def _query_vars(text: str) -> str:
    unknown = sorted(set(template_vars(text)) - set(TEMPLATE_VARS))
    if unknown:
        known = ", ".join("${" + v + "}" for v in TEMPLATE_VARS)
        raise ValueError(f"unknown query variable ${{{unknown[0]}}} (known: {known})")
    if len(template_vars(text)) != text.count("${"):
        raise ValueError("a `${` in a query starts a variable: write ${name}")
    return text


PromQL = Annotated[
    str,
    Field(min_length=1),
    AfterValidator(_query_vars),
]


class MetricQueries(StrictModel):
    """PromQL queries, one server at a time, each returning a **cumulative** count.

    Variables: `${server}` (the server's name, as in `traffic`), `${role}` (`canary` or
    `stable`), `${backend}` (`traffic.backend`) and `${window}` (the analysis window as a
    PromQL duration, e.g. `5s`); values are escaped for a PromQL string. The analysis takes
    the deltas between its readings itself, so write counters, not `rate()`.
    """

    requests: PromQL = Field(
        description="The server's requests so far, one number (e.g. `sum(...)`); no series "
        "is no data (append `or vector(0)` when none means zero)."
    )
    errors: PromQL = Field(
        description="The server's failed requests so far (5xx, connection errors); no "
        "series counts as zero."
    )
    latency_buckets: PromQL | None = Field(
        default=None,
        description="The server's latency histogram so far, one series per `le` (e.g. "
        "`sum by (le) (..._bucket{...})`); without it latency is not judged.",
    )


class MetricsAuth(StrictModel):
    """Where the credentials for the metric provider are on the analysing host (never values)."""

    token_env: EnvName | None = Field(
        default=None, description="Environment variable holding a bearer token."
    )
    token_file: Template | None = Field(
        default=None, description="File whose content is a bearer token (`{{ var }}` allowed)."
    )
    username: str | None = Field(default=None, description="Basic auth user name (not a secret).")
    username_env: EnvName | None = Field(
        default=None, description="Environment variable holding the basic auth user name."
    )
    password_env: EnvName | None = Field(
        default=None, description="Environment variable holding the basic auth password."
    )
    password_file: Template | None = Field(
        default=None, description="File whose content is the basic auth password."
    )

    @model_validator(mode="after")
    def _one_source(self) -> MetricsAuth:
        secrets = [self.token_env, self.token_file, self.password_env, self.password_file]
        if sum(s is not None for s in secrets) != 1:
            raise ValueError(
                "give exactly one of token_env, token_file, password_env, password_file"
            )
        if self.username is not None and self.username_env is not None:
            raise ValueError("give at most one of username, username_env")
        bearer = self.token_env is not None or self.token_file is not None
        if bearer and (self.username is not None or self.username_env is not None):
            raise ValueError("a bearer token takes no username; basic auth uses password_*")
        return self


class MetricsSource(StrictModel):
    """Where the analysis reads counts and latencies when not from the router (docs/metrics.md).

    Weights, states, health probes and the reaction to a breach stay with the router; the
    rollback's `verify` reads the router's own counters, so a monitoring outage cannot
    fail a rollback.
    """

    provider: MetricSourceName = Field(description="The metric provider's kind.")
    url: Template = Field(
        description="Base URL of its HTTP API, e.g. `http://127.0.0.1:9090` or "
        "`{{ relrun_prometheus_url }}` from the inventory."
    )
    queries: MetricQueries
    latency_unit: Literal["seconds", "milliseconds"] = Field(
        default="seconds", description="Unit of the histogram's `le` bounds."
    )
    timeout: TimeoutSeconds = Field(
        default=2, description="Bound on one reading (all its queries)."
    )
    max_outage: WatchSeconds = Field(
        default=30,
        description="With `no_data: wait`, how long a bake holds while the provider gives "
        "no reading before that is a breach (`no_data`); with `fail`, the first missing "
        "reading is one. A bake never passes on a missing reading.",
    )
    auth: MetricsAuth | None = Field(default=None, description="Bearer or basic auth.")
    tls: Tls | None = Field(default=None, description="HTTPS options.")


GuardSourceName = Annotated[
    str, one_of("guard provider", GUARD_SOURCE_NAMES), enum(GUARD_SOURCE_NAMES)
]


def _json_path(text: str) -> str:
    try:
        parse_path(text)
    except JsonPathError as err:
        raise ValueError(str(err)) from None
    return text


def _guard_url(text: str) -> str:
    _query_vars(text)
    if not text.startswith(("http://", "https://", "{{")):
        raise ValueError("a guard's URL starts with http:// or https:// (or is a {{ variable }})")
    if "@" in urlsplit(text).netloc:
        raise ValueError("credentials go in `auth` (a reference), never in the URL")
    return text


GuardUrl = Annotated[Template, AfterValidator(_guard_url)]
HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")]
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


class RelativeLimit(StrictModel):
    """The canary at most stable's value * `factor` + `delta`, read at the same moment."""

    factor: float = Field(default=1.0, gt=0, description="Multiplies stable's value.")
    delta: float = Field(default=0.0, ge=0, description="Added to it.")


class Guard(StrictModel):
    """A business metric with a limit, read at every sample of a bake (docs/metrics.md).

    The query or URL is a template like the `metrics` queries (`${server}`, `${role}`,
    `${backend}`, `${window}`): with `${server}` or `${role}` it is read per server (the
    canary's worst server against the limit, stable's mean for `max_vs_stable`), without,
    once for the whole service (absolute limits only).
    """

    name: Name = Field(description="The metric's name, shown in the plan, the journal and reports.")
    provider: GuardSourceName = Field(
        description="`prometheus` (a PromQL `query` returning one number) or `web` (GET "
        "`url`, a JSON `path` to the number)."
    )
    url: GuardUrl = Field(
        description="Prometheus' base URL, or the JSON document's URL (`${...}` variables "
        "URL-quoted; `{{ var }}` from the inventory)."
    )
    query: PromQL | None = Field(default=None, description="prometheus: the PromQL (one number).")
    path: Annotated[str, AfterValidator(_json_path)] | None = Field(
        default=None, description="web: where the number is, e.g. `payments.failed_per_min`."
    )
    headers: dict[HeaderName, str] = Field(
        default_factory=dict, description="web: literal request headers (no secrets)."
    )
    headers_env: dict[HeaderName, EnvName] = Field(
        default_factory=dict,
        description="web: headers whose values are environment variables on the analysing "
        "host (an API key), never logged.",
    )
    max: float | None = Field(default=None, description="Breach above this (absolute).")
    min: float | None = Field(default=None, description="Breach below this (absolute).")
    max_vs_stable: RelativeLimit | None = Field(
        default=None,
        description="Breach when the canary is above stable * factor + delta (judged while "
        "stable serves beside the canary; needs `${server}` or `${role}`).",
    )
    consecutive: int = Field(
        default=1, ge=1, description="Readings over a limit in a row that are a breach."
    )
    timeout: TimeoutSeconds = Field(default=2, description="Bound on one reading (all servers).")
    max_outage: WatchSeconds = Field(
        default=30,
        description="With `no_data: wait`, how long a bake holds while this guard gives no "
        "reading before that is a breach (`no_data`).",
    )
    auth: MetricsAuth | None = Field(default=None, description="Bearer or basic auth.")
    tls: Tls | None = Field(default=None, description="HTTPS options.")

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for header in value:
            if header.lower() in SECRET_HEADERS:
                raise ValueError(
                    f"header {header} carries a secret: use `auth` or `headers_env`, "
                    "never a value in the runbook"
                )
        return value

    @model_validator(mode="after")
    def _fits_provider(self) -> Guard:
        if self.provider == "prometheus":
            if self.query is None:
                raise ValueError("a prometheus guard needs a `query`")
            if self.path is not None or self.headers or self.headers_env:
                raise ValueError("`path`, `headers` and `headers_env` belong to a web guard")
            if "${" in self.url:
                raise ValueError("a prometheus guard's `url` is Prometheus' base URL: put "
                                 "${...} variables in its `query`")
        else:
            if self.path is None:
                raise ValueError("a web guard needs a JSON `path` to its number")
            if self.query is not None:
                raise ValueError("`query` belongs to a prometheus guard")
        if self.max is None and self.min is None and self.max_vs_stable is None:
            raise ValueError("a guard needs a limit: `max`, `min` or `max_vs_stable`")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"`min` ({self.min:g}) is above `max` ({self.max:g})")
        template = self.query if self.provider == "prometheus" else self.url
        if self.max_vs_stable is not None and not (
            "${server}" in (template or "") or "${role}" in (template or "")
        ):
            raise ValueError(
                "`max_vs_stable` compares the canary with stable: the "
                + ("query" if self.provider == "prometheus" else "url")
                + " must name ${server} or ${role}, or both would read the same number"
            )
        return self

    @property
    def per_server(self) -> bool:
        """Whether it is read per server (its template names the server or the role)."""
        template = (self.query if self.provider == "prometheus" else self.url) or ""
        return "${server}" in template or "${role}" in template


class Analysis(StrictModel):
    """How the canary is judged during a bake."""

    interval: SampleInterval = Field(default=1, description="Time between two samples.")
    window: WatchSeconds = Field(default=5, description="Each sample covers this recent window.")
    min_requests: int = Field(
        default=5, ge=0, description="Fewer canary requests in the window is 'no data'."
    )
    max_error_rate: float = Field(
        default=0.05, ge=0, le=1, description="Breach above this share of 5xx / failed requests."
    )
    max_p95_ms: float = Field(default=5000, gt=0, description="Breach above this p95 latency.")
    no_data: Literal["fail", "wait"] = Field(
        default="wait",
        description="`wait`: a sample without enough requests is skipped; `fail`: it is a "
        "breach. With `metrics`, a reading the provider cannot give is no data too: `fail` "
        "breaches at once, `wait` holds the bake for up to `metrics.max_outage`.",
    )
    consecutive_breaches: int = Field(
        default=1,
        ge=1,
        description="How many failed health probes in a row trigger the rollback (error "
        "and latency evidence accumulates in the sequential tests instead).",
    )
    alpha: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="Bound on the chance that a bake rolls back a canary no worse than its "
        "tolerances and limits, however often it is looked at (the bake's tests are "
        "combined by the average of their e-values; see docs/analysis.md). Smaller is "
        "surer and slower to detect.",
    )
    error_tolerance: float = Field(
        default=1.0,
        ge=0,
        le=100,
        description="Relative tolerance: the canary is worse than stable only when its odds "
        "of an error exceed (1 + this) times stable's, both served at the same time.",
    )
    latency_tolerance: float = Field(
        default=1.0,
        ge=0,
        le=100,
        description="Relative tolerance for latency: the canary is slower than stable only "
        "when its odds of a request above stable's p95 exceed (1 + this) times stable's.",
    )
    health_path: str | None = Field(
        default=None,
        pattern=r"^/",
        description="Path the analysis probes on each server; default the deploy's "
        "readiness path. A 4xx answer is not healthy.",
    )
    metrics: MetricsSource | None = Field(
        default=None,
        description="Read counts and latencies from a metric provider (Prometheus) instead "
        "of the router's own counters; judged exactly the same way.",
    )
    guards: list[Guard] = Field(
        default_factory=list,
        description="Business metrics with limits (Prometheus or web/JSON), read at every "
        "sample of a bake; one over its limit rolls back like any breach (trigger `guard`).",
    )

    @field_validator("guards")
    @classmethod
    def _unique_guards(cls, value: list[Guard]) -> list[Guard]:
        seen: set[str] = set()
        for guard in value:
            if guard.name in seen:
                raise ValueError(f"two guards are named {guard.name!r}")
            seen.add(guard.name)
        return value


class AnalysisOverride(StrictModel):
    """Per-stage changes to the analysis defaults (unset fields keep the default)."""

    interval: SampleInterval | None = None
    window: WatchSeconds | None = None
    min_requests: int | None = Field(default=None, ge=0)
    max_error_rate: float | None = Field(default=None, ge=0, le=1)
    max_p95_ms: float | None = Field(default=None, gt=0)
    no_data: Literal["fail", "wait"] | None = None
    consecutive_breaches: int | None = Field(default=None, ge=1)
    alpha: float | None = Field(default=None, gt=0, lt=1)
    error_tolerance: float | None = Field(default=None, ge=0, le=100)
    latency_tolerance: float | None = Field(default=None, ge=0, le=100)


class Pause(StrictModel):
    """A manual gate: after its bake the stage holds its weight until an operator promotes.

    While it holds, the analysis keeps judging the canary (a breach still rolls back) and
    the dead man's switch keeps being renewed. `relrun promote` ends it (`--full` skips the
    remaining stages); `relrun abort` rolls back. With a `timeout`, its `default` action is
    taken when the timeout expires.
    """

    timeout: WatchSeconds | None = Field(
        default=None,
        description="How long to wait for an operator; unset waits indefinitely.",
    )
    default: Literal["promote", "rollback"] | None = Field(
        default=None,
        description="What happens when the `timeout` expires: `promote` goes on with the "
        "next stage, `rollback` rolls back (exit 1). Required with a `timeout`.",
    )

    @model_validator(mode="after")
    def _default_with_timeout(self) -> Pause:
        if self.timeout is not None and self.default is None:
            raise ValueError("a pause with a `timeout` needs its `default` (promote or rollback)")
        if self.timeout is None and self.default is not None:
            raise ValueError("a pause's `default` is taken when its `timeout` expires: set one")
        return self


class Stage(StrictModel):
    """One step of the traffic shift."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.%/+-]{0,63}$",
        description="Stage name, e.g. `Canary 5%` (letters, digits, spaces and `_.%/+-`).",
    )
    weight: int = Field(ge=0, le=100, description="Share of traffic (percent) on the canary.")
    bake: WatchSeconds = Field(
        description="How long to watch the canary at this weight (at least 1s: a stage "
        "nobody watched is no evidence).",
    )
    analysis: AnalysisOverride | None = Field(default=None, description="Per-stage thresholds.")
    pause: Pause | None = Field(
        default=None,
        description="Hold after the bake for an operator (`pause: {}` waits indefinitely; "
        "`{timeout: 10m, default: promote}`).",
    )


class Rollout(StrictModel):
    """The staged traffic shift."""

    stages: list[Stage] = Field(min_length=1, description="In order; weights must not decrease.")
    approval: Literal["required", "none"] = Field(
        default="none",
        description="`required`: before the last stage's shift (the final promotion) the "
        "release holds at the stage before it, judged as ever, until `relrun promote`; "
        "needs at least two stages, and that stage's own pause (if any) takes no timeout.",
    )


def stage_pause(rollout: Rollout, index: int) -> tuple[Pause | None, str]:
    """The gate after stage ``index`` (0-based): its pause, and why (``pause``, ``approval``).

    ``approval: required`` holds, indefinitely, after the stage before the last.
    """
    stage = rollout.stages[index]
    if rollout.approval == "required" and index == len(rollout.stages) - 2:
        return Pause(), "approval"
    return stage.pause, "pause"


class DrainOptions(StrictModel):
    """The rollback's `drain` step."""

    timeout: WatchSeconds = Field(
        default=30, description="Bound on waiting for in-flight requests."
    )


class VerifyOptions(StrictModel):
    """The rollback's `verify` step: the stable version alone must be healthy."""

    api_checks: bool = Field(default=True, description="Run the runbook's API checks on stable.")
    analysis_window: WatchSeconds = Field(default=3, description="Watch stable this long.")
    max_error_rate: float = Field(default=0.05, ge=0, le=1, description="Stable's error bound.")


class CleanupOptions(StrictModel):
    """The rollback's `cleanup` step."""

    steps: list[Step] = Field(
        default_factory=list, description="Commands on canary hosts that stop the new version."
    )


class Rollback(StrictModel):
    """The five-step rollback: stop_deployment, drain, switch_traffic, verify, cleanup."""

    rto_budget: WatchSeconds = Field(
        default=60, description="Fault → all traffic on stable must fit in this."
    )
    lease: WatchSeconds = Field(
        default=15,
        description="Dead man's switch: if relrun stops renewing its lease on the router host "
        "for this long (it was killed, or lost the host), the router host itself drains the "
        "canary and puts all traffic back on stable. relrun renews it once per analysis "
        "sample, so it must be longer than the longest gap between two samples of any stage: "
        "the stage's `interval`, plus the canary servers' health probes (up to 16 at once, "
        "each of up to `max_p95_ms`, at least 0.5s: one round per 16 servers), plus a 1s "
        "margin to read the router and write the lease. A shorter lease is an error: it would "
        "revert traffic while relrun is alive. Between stages, relrun also pings every app "
        "host over SSH, which this check cannot know: on a large fleet, leave room for it.",
    )
    drain: DrainOptions = Field(default_factory=DrainOptions)
    verify: VerifyOptions = Field(default_factory=VerifyOptions)
    cleanup: CleanupOptions = Field(default_factory=CleanupOptions)
    hooks: dict[
        Literal[
            "before_stop_deployment",
            "after_stop_deployment",
            "before_drain",
            "after_drain",
            "before_switch_traffic",
            "after_switch_traffic",
            "before_verify",
            "after_verify",
            "before_cleanup",
            "after_cleanup",
        ],
        list[Step],
    ] = Field(default_factory=dict, description="Commands run on the router host around a step.")


FaultKind = Literal["error_rate", "latency", "abort", "crash", "command", "none"]
FAULT_KINDS: tuple[FaultKind, ...] = ("error_rate", "latency", "abort", "crash", "command", "none")
MAX_LATENCY_MS = 600_000.0


def fault_value_problem(kind: str, value: float) -> str | None:
    """What is wrong with a fault's value for its kind, if anything (runbook and ``--fault``).

    Args:
        kind: the fault kind.
        value: its value (a share for ``error_rate``, milliseconds for ``latency``).

    Returns:
        The problem in words, or None when the value fits.
    """
    if kind in {"error_rate", "abort"} and not 0 < value <= 1:
        return f"an {kind} fault's value is a share between 0 and 1, e.g. 0.5"
    if kind == "latency" and not 0 < value <= MAX_LATENCY_MS:
        return f"a latency fault's value is milliseconds, above 0 and at most {MAX_LATENCY_MS:g}"
    return None


class Fault(StrictModel):
    """The fault a drill injects into the canary.

    `error_rate`, `latency` and `abort` are injected at the traffic layer by default
    (the router in front of the canary: the sandbox router, or HAProxy through its runtime
    API), so any application can be drilled without changing it; `via: app` asks relrun's
    demo API to fail instead. `crash` kills the canary through the environment's service
    control (`relrun_service_ctl … crash SERVICE`). `command` runs the runbook's own
    `inject` steps, and its `revert` steps on every way out of the drill.
    """

    kind: FaultKind = Field(default="error_rate", description="What breaks.")
    value: float = Field(
        default=0.5,
        ge=0,
        description="Share of requests (0 to 1) for `error_rate` and `abort`, milliseconds "
        "for `latency`; unused for `crash`, `command` and `none`.",
    )
    status: int = Field(
        default=503, ge=500, le=599, description="HTTP status of an `error_rate` fault's answers."
    )
    via: Literal["traffic", "app"] = Field(
        default="traffic",
        description="Where `error_rate` and `latency` are injected: `traffic` (the router in "
        "front of the canary servers; any application) or `app` (relrun's demo API's own "
        "fault endpoint). `abort` is always `traffic`.",
    )
    service: Name = Field(
        default="canary",
        description="For `crash`: the name given to the service control, as in your deploy "
        "steps (`relrun_service_ctl crash canary`).",
    )
    run_on: Literal["canary", "router"] = Field(
        default="canary",
        description="For `command`: run the steps on every canary host, or on the router host.",
    )
    inject: list[Step] = Field(
        default_factory=list, description="For `command`: the steps that inject the fault."
    )
    revert: list[Step] = Field(
        default_factory=list,
        description="For `command`: the steps that undo it. They run on every way out of the "
        "drill (promoted, rolled back, interrupted), so they must be safe to run when the "
        "fault was never injected.",
    )
    stage: str | None = Field(default=None, description="Stage name; default the second stage.")

    @model_validator(mode="after")
    def _fits_kind(self) -> Fault:
        if self.kind == "command" and not self.inject:
            raise ValueError("a command fault needs `inject` steps (and usually `revert` ones)")
        if self.kind != "command" and (self.inject or self.revert):
            raise ValueError("`inject` and `revert` steps belong to a `command` fault")
        return self


class DrillExpect(StrictModel):
    """What a drill must show to pass."""

    trigger: Literal["error_rate", "latency", "health_check", "guard", "any"] = Field(
        default="any", description="The rollback's reason; `any` accepts the fault's natural one."
    )
    within_rto: bool = Field(default=True, description="Rollback completes within rto_budget.")
    max_lost_requests: int = Field(default=0, ge=0, description="Lost user requests allowed.")


class Drill(StrictModel):
    """The default drill of this runbook."""

    fault: Fault = Field(default_factory=Fault)
    expect: DrillExpect = Field(default_factory=DrillExpect)

    @model_validator(mode="after")
    def _value_fits(self) -> Drill:
        problem = fault_value_problem(self.fault.kind, self.fault.value)
        if problem is not None:
            raise ValueError(problem)
        return self


def merged_analysis(defaults: Analysis, stage: Stage) -> Analysis:
    """The stage's analysis: the defaults with the stage's overrides applied."""
    if stage.analysis is None:
        return defaults
    changes = stage.analysis.model_dump(exclude_none=True)
    return defaults.model_copy(update=changes)
