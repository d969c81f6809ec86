"""Business-metric guards, standard library only: named numbers with limits, every sample.

A guard reads one number per server from a value provider (``traffic_prometheus``'s
PromQL, ``traffic_web``'s JSON path) when its query or URL names ``${server}`` or
``${role}``, else one number for the whole service. The canary's value is its worst
server's (the highest for upper limits, the lowest for ``min``); stable's is the mean of
its servers'. Limits: ``max`` and ``min`` (absolute), ``max_vs_stable`` (the canary at most
stable x ``factor`` + ``delta``; judged only while stable serves traffic beside the canary).

``consecutive`` readings in a row over a limit are a breach (reason ``guard``). A reading
that fails is no data: with ``no_data: fail`` a breach at once, with ``wait`` the bake holds
(it never passes while a guard has no reading) for up to the guard's ``max_outage``, then
it is a breach (reason ``no_data``). These are values a service reports, not counts of
requests, so they are judged against their limits as read, without a statistical test:
the guard's own aggregation (a rate over a minute, a ratio) is its smoothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..traffic.base import MetricsUnavailable, ValueProvider


@dataclass
class Guard:
    """One guard: its limits, its source, and its state over the bake."""

    name: str
    provider: ValueProvider
    per_server: bool
    max: float | None = None
    min: float | None = None
    factor: float | None = None  # max_vs_stable: canary <= stable * factor + delta
    delta: float = 0.0
    consecutive: int = 1
    max_outage: float = 30.0
    timeout: float = 2.0
    streak: int = 0
    outage_since: float | None = None
    readings: int = 0
    worst: float | None = None
    last: dict[str, Any] = field(default_factory=dict)

    def limit_text(self) -> str:
        """The limits in words (``<= 5``, ``>= 1``, ``<= stable x 1.2 + 0``)."""
        parts = []
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.factor is not None:
            relative = f"<= stable x {self.factor:g}"
            if self.delta:
                relative += f" + {self.delta:g}"
            parts.append(relative)
        return " and ".join(parts)


def guard_from(settings: dict[str, Any], provider: ValueProvider) -> Guard:
    """A :class:`Guard` from the analysis module's ``guards`` item and its built provider."""
    relative = settings.get("max_vs_stable") or {}
    template = str(settings.get("query") or settings.get("url") or "")
    return Guard(
        name=str(settings.get("name") or "guard"),
        provider=provider,
        per_server="${server}" in template or "${role}" in template,
        max=_opt(settings.get("max")),
        min=_opt(settings.get("min")),
        factor=_opt(relative.get("factor", 1.0)) if relative else None,
        delta=float(relative.get("delta") or 0.0),
        consecutive=int(settings.get("consecutive") or 1),
        max_outage=float(settings.get("max_outage", 30.0) or 0.0),
        timeout=float(settings.get("timeout") or 2),
    )


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


class GuardWatch:
    """The guards of one bake, read once per sample (see the module docstring)."""

    def __init__(
        self, guards: list[Guard], canary: list[str], stable: list[str], backend: str,
        window: str, no_data: str,
    ) -> None:
        self.guards = guards
        self.canary = canary
        self.stable = stable
        self.backend = backend
        self.window = window
        self.no_data = no_data

    def holding(self) -> bool:
        """Whether a guard's last reading failed: the bake must not end on it."""
        return any(g.outage_since is not None or not g.readings for g in self.guards)

    def _values(self, guard: Guard, servers: list[str], role: str, deadline: float) -> list[float]:
        found = []
        for server in servers:
            values = {"server": server, "role": role, "backend": self.backend,
                      "window": self.window}
            found.append(guard.provider.value(values, deadline - time.monotonic()))
        return found

    def _read(self, guard: Guard, compare: bool) -> dict[str, Any]:
        deadline = time.monotonic() + guard.timeout
        if not guard.per_server:
            one = self._values(guard, ["service"], "canary", deadline)[0]
            return {"canary": one, "canary_low": one, "stable": None}
        canary = self._values(guard, self.canary, "canary", deadline)
        stable = None
        if compare and self.stable and guard.factor is not None:
            values = self._values(guard, self.stable, "stable", deadline)
            stable = sum(values) / len(values)
        return {"canary": max(canary), "canary_low": min(canary), "stable": stable}

    def look(self, compare: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Read every guard once; return the sample's ``guards`` part and the first breach.

        Args:
            compare: whether stable serves beside the canary (relative limits judged).
        """
        shown: dict[str, Any] = {}
        first: dict[str, Any] | None = None
        for guard in self.guards:
            entry, found = self._look_one(guard, compare)
            shown[guard.name] = entry
            first = first or found
        return shown, first

    def _look_one(self, guard: Guard, compare: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
        try:
            read = self._read(guard, compare)
        except MetricsUnavailable as err:
            guard.streak = 0
            now = time.monotonic()
            guard.outage_since = guard.outage_since if guard.outage_since is not None else now
            held = now - guard.outage_since
            gap = {"no_data": str(err), "outage_s": round(held, 3)}
            return gap, _no_data(guard, str(err), self.no_data, held)
        guard.outage_since = None
        guard.readings += 1
        canary, stable = read["canary"], read["stable"]
        entry: dict[str, Any] = {"canary": canary, "limit": guard.limit_text()}
        if stable is not None:
            entry["stable"] = round(stable, 6)
        elif guard.factor is not None:
            entry["note"] = "stable serves no traffic beside the canary: relative limit not judged"
        over = _over(guard, canary, read["canary_low"], stable)
        guard.worst = _worse(guard, guard.worst, canary, read["canary_low"])
        guard.streak = guard.streak + 1 if over else 0
        entry["ok"] = over is None
        guard.last = entry
        if over is None or guard.streak < guard.consecutive:
            return entry, None
        observed, threshold, words = over
        where = "canary" if guard.per_server else "service"
        stable_words = f", stable {stable:g}" if stable is not None else ""
        in_a_row = f", {guard.streak} readings in a row" if guard.consecutive > 1 else ""
        return entry, {
            "reason": "guard",
            "guard": guard.name,
            "test": f"guard {guard.name} {guard.limit_text()}",
            "observed": observed,
            "threshold": threshold,
            **({"stable_value": round(stable, 6)} if stable is not None else {}),
            "message": f"guard {guard.name}: {where} {observed:g} {words}{stable_words}"
            f"{in_a_row} ({guard.provider.source})",
        }

    def summary(self) -> list[dict[str, Any]]:
        """Each guard's limits, source, readings and worst canary value (the method's part)."""
        return [
            {"name": g.name, "limit": g.limit_text(), "source": g.provider.source,
             "readings": g.readings, "worst": g.worst, "per_server": g.per_server}
            for g in self.guards
        ]


def _over(
    guard: Guard, high: float, low: float, stable: float | None
) -> tuple[float, float, str] | None:
    """(observed, threshold, words) of the first limit the reading breaks, if any."""
    if guard.max is not None and high > guard.max:
        return high, guard.max, f"above its limit {guard.max:g}"
    if guard.min is not None and low < guard.min:
        return low, guard.min, f"below its limit {guard.min:g}"
    if guard.factor is not None and stable is not None:
        bound = stable * guard.factor + guard.delta
        if high > bound:
            return high, round(bound, 6), f"above stable x {guard.factor:g} + {guard.delta:g} = {bound:g}"
    return None


def _worse(guard: Guard, worst: float | None, high: float, low: float) -> float:
    """The worst canary value so far: the lowest for a guard with only a ``min``."""
    if guard.min is not None and guard.max is None and guard.factor is None:
        return low if worst is None else min(worst, low)
    return high if worst is None else max(worst, high)


def _no_data(guard: Guard, why: str, no_data: str, held: float) -> dict[str, Any] | None:
    if no_data == "fail":
        return {"reason": "no_data", "guard": guard.name, "observed": None,
                "threshold": f"guard {guard.name}",
                "message": f"no data for guard {guard.name} (no_data: fail): {why}"}
    if held >= guard.max_outage:
        return {"reason": "no_data", "guard": guard.name, "observed": round(held, 3),
                "threshold": guard.max_outage,
                "message": f"no data for guard {guard.name} for {held:.1f}s (the bake holds "
                f"at most {guard.max_outage:g}s, its max_outage): {why}"}
    return None
