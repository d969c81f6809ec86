"""The canary analysis's samples as typed data, and the peak figures of a set of them.

The ``relrun.release.analysis`` module returns plain dicts on the managed host; the
controller reads them through :class:`Sample`, and both the live console and the run
record take their figures from :func:`peaks`, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Sample(BaseModel):
    """One look at the canary (or stable) servers: the router's window, and health probes."""

    # The module may report more per sample (evidence, per-version counts): kept as is.
    model_config = ConfigDict(extra="allow", frozen=True)

    time: float | None = None
    requests: int = 0
    errors: int = 0
    error_rate: float | None = None
    p95_ms: float | None = None
    unhealthy: dict[str, str] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)
    probe_timeout_ms: float | None = None
    breach: str | None = None

    @property
    def latency_ms(self) -> float | None:
        """The latency this sample shows: its p95, or more when its probe timed out.

        A canary that answers slower than the probe waits has no completed requests to
        measure in the window, so its p95 stays at the few fast ones; the breach it
        triggers says the latency was over the probe's timeout, and that is what it shows.
        """
        if self.breach == "latency" and self.probe_timeout_ms is not None:
            return max(self.p95_ms or 0.0, self.probe_timeout_ms)
        return self.p95_ms


class Peaks(BaseModel):
    """The worst a set of samples showed (observed figures, not the limits)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    samples: int = 0
    peak_error_rate: float | None = None
    peak_p95_ms: float | None = None
    max_window_requests: int = 0


def parse_samples(raw: Iterable[Mapping[str, Any]] | None) -> list[Sample]:
    """The module's samples, typed (items that are not mappings are dropped)."""
    return [Sample.model_validate(dict(item)) for item in raw or [] if isinstance(item, Mapping)]


def peaks(samples: list[Sample]) -> Peaks:
    """The peak error rate, p95 and window size over ``samples``."""
    rates = [s.error_rate for s in samples if s.error_rate is not None]
    p95s = [s.latency_ms for s in samples if s.latency_ms is not None]
    return Peaks(
        samples=len(samples),
        peak_error_rate=max(rates) if rates else None,
        peak_p95_ms=max(p95s) if p95s else None,
        max_window_requests=max((s.requests for s in samples), default=0),
    )
