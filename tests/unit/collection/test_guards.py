"""Business-metric guards: limits, the relative limit, streaks and no data."""

from __future__ import annotations

from typing import Any

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.analysis.guards import (  # noqa: E501
    GuardWatch,
    guard_from,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.base import (
    MetricsUnavailable,
)


class Numbers:
    """A value provider answering from a table (server -> number, or an exception)."""

    source = "test numbers"

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table
        self.asked: list[dict[str, str]] = []

    def shown(self, values: dict[str, str]) -> str:
        return values["server"]

    def value(self, values: dict[str, str], timeout: float) -> float:
        self.asked.append(values)
        found = self.table[values["server"]]
        if isinstance(found, Exception):
            raise found
        return float(found)


def watch(
    table: dict[str, Any], no_data: str = "wait", **settings: Any
) -> tuple[GuardWatch, Numbers]:
    numbers = Numbers(table)
    settings = {"name": "failed", "url": "http://x/?s=${server}", **settings}
    guard = guard_from(settings, numbers)
    return GuardWatch([guard], ["c1", "c2"], ["s1"], "api", "5s", no_data), numbers


def test_the_worst_canary_server_against_an_absolute_limit() -> None:
    guards, numbers = watch({"c1": 2, "c2": 9, "s1": 1}, max=5)
    shown, breach = guards.look(compare=True)
    assert breach is not None
    assert (breach["reason"], breach["guard"], breach["observed"], breach["threshold"]) == (
        "guard", "failed", 9, 5)
    assert "canary 9 above its limit 5" in breach["message"]
    assert shown["failed"]["ok"] is False
    # Stable is not read for an absolute limit alone.
    assert [v["server"] for v in numbers.asked] == ["c1", "c2"]


def test_relative_to_stable_and_only_while_stable_serves() -> None:
    guards, _ = watch({"c1": 3, "c2": 3, "s1": 1}, max_vs_stable={"factor": 2, "delta": 0.5})
    _, breach = guards.look(compare=True)
    assert breach is not None and breach["threshold"] == 2.5 and breach["stable_value"] == 1
    guards, _ = watch({"c1": 3, "c2": 3, "s1": 1}, max_vs_stable={"factor": 2, "delta": 0.5})
    shown, breach = guards.look(compare=False)  # the 100% stage: nothing to compare with
    assert breach is None and "not judged" in shown["failed"]["note"]


def test_a_min_limit_and_a_streak() -> None:
    guards, _ = watch({"c1": 10, "c2": 0.5, "s1": 10}, min=1, consecutive=2)
    assert guards.look(compare=True)[1] is None
    _, breach = guards.look(compare=True)
    assert breach is not None and breach["observed"] == 0.5 and "2 readings in a row" in (
        breach["message"])


def test_no_data_fails_at_once_or_holds_the_bake() -> None:
    down = MetricsUnavailable("GET http://x: no answer")
    guards, _ = watch({"c1": down, "c2": 1, "s1": 1}, no_data="fail", max=5)
    shown, breach = guards.look(compare=True)
    assert breach is not None and breach["reason"] == "no_data"
    assert "no answer" in shown["failed"]["no_data"]
    guards, numbers = watch({"c1": down, "c2": 1, "s1": 1}, max=5, max_outage=60)
    assert guards.look(compare=True)[1] is None
    assert guards.holding()  # the bake may not end on it
    numbers.table["c1"] = 1
    assert guards.look(compare=True)[1] is None and not guards.holding()
    guards, _ = watch({"c1": down, "c2": 1, "s1": 1}, max=5, max_outage=0)
    breach = guards.look(compare=True)[1]
    assert breach is not None and "holds at most 0s" in breach["message"]


def test_a_service_wide_guard_is_read_once() -> None:
    numbers = Numbers({"service": 3})
    guard = guard_from({"name": "signups", "url": "http://x/signups", "min": 5}, numbers)
    guards = GuardWatch([guard], ["c1", "c2"], ["s1"], "api", "5s", "wait")
    _, breach = guards.look(compare=True)
    assert breach is not None and "service 3 below its limit 5" in breach["message"]
    assert len(numbers.asked) == 1


class Router:
    """Two ready servers whose counters never move: only the guards can decide."""

    def __init__(self) -> None:
        self.drained: list[str] = []

    def servers(self, window: float) -> dict[str, Any]:
        return {
            name: {"name": name, "address": None, "state": "ready", "weight": 1,
                   "in_flight": 0, "requests": 0, "errors": 0, "total_requests": 0,
                   "total_errors": 0}
            for name in ("c1", "s1")
        }

    def set_state(self, name: str, state: str) -> None:
        self.drained.append(name)

    def set_weight(self, name: str, weight: int) -> None:
        pass


class Flaky(Numbers):
    """Fails its first ``down`` readings, then answers."""

    def __init__(self, table: dict[str, Any], down: int) -> None:
        super().__init__(table)
        self.down = down

    def value(self, values: dict[str, str], timeout: float) -> float:
        if self.down > 0:
            self.down -= 1
            raise MetricsUnavailable("connection refused")
        return super().value(values, timeout)


def bake(numbers: Numbers, duration: float, **settings: Any) -> tuple[dict[str, Any], Router]:
    from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.analysis.core import (  # noqa: E501
        Policy,
        watch,
    )

    guard = guard_from({"name": "failed", "url": "http://x/?s=${server}", **settings}, numbers)
    guards = GuardWatch([guard], ["c1"], ["s1"], "api", "5s", "wait")
    router = Router()
    outcome = watch(router, ["c1"], Policy(), duration, 0.01, 5, "", baseline=["s1"],
                    react=True, guards=guards)
    return outcome, router


def test_a_guard_breach_ends_the_bake_and_drains_the_canary() -> None:
    outcome, router = bake(Numbers({"c1": 9, "s1": 1}), 5, max=5)
    assert outcome["breach"]["reason"] == "guard" and outcome["decision"] == "breach"
    assert router.drained == ["c1"]
    assert outcome["method"]["guards"][0]["worst"] == 9
    assert outcome["samples"][0]["guards"]["failed"]["ok"] is False


def test_a_bake_never_passes_while_its_guard_has_no_reading() -> None:
    numbers = Flaky({"c1": 1, "s1": 1}, down=30)
    outcome, _ = bake(numbers, 0.05, max=5)
    # The bake was 50 ms; it held until the guard answered, and passed on a real reading.
    assert outcome["decision"] == "pass"
    gaps = [s for s in outcome["samples"] if "no_data" in s.get("guards", {}).get("failed", {})]
    assert len(gaps) == 30 and outcome["samples"][-1]["guards"]["failed"]["ok"] is True
    outcome, _ = bake(Flaky({"c1": 1, "s1": 1}, down=10**6), 0.05, max=5, max_outage=0.2)
    assert outcome["breach"]["reason"] == "no_data" and outcome["breach"]["guard"] == "failed"
