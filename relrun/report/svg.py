"""The run's timeline as inline SVG: canary weight, error rate, p95, evidence, traffic, rollback.

Built with ElementTree so every piece of text is escaped by construction; no script and
no external resource, so the chart prints and works offline. Hooks for tests and styling:
``data-series`` on each series, ``data-marker`` on the fault/trigger/switch lines,
``data-step`` on each rollback step.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from relrun.report.record import RunRecord
from relrun.runbook.steps import ROLLBACK_STEPS

WIDTH = 960
LEFT = 72
RIGHT = 20
PANEL = 84  # height of each plot panel
GAP = 26
LANE = 34  # the rollback lane
VERSION_COLOURS = ("#3b6fb6", "#2e9d5b", "#8e6c8a", "#b07d2b")


@dataclass(frozen=True)
class _Axis:
    """Maps epoch seconds to x pixels."""

    t0: float
    t1: float

    def x(self, t: float) -> float:
        span = max(self.t1 - self.t0, 1e-6)
        return LEFT + (min(max(t, self.t0), self.t1) - self.t0) / span * (WIDTH - LEFT - RIGHT)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _r(value: float) -> str:
    return f"{value:.1f}"


def _el(parent: ET.Element, tag: str, title: str | None = None, **attrs: Any) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.rstrip("_").replace("_", "-"): str(v)
                                          for k, v in attrs.items()})
    if title:
        ET.SubElement(element, "title").text = title
    return element


def _text(parent: ET.Element, x: float, y: float, text: str, **attrs: Any) -> None:
    _el(parent, "text", x=_r(x), y=_r(y), **attrs).text = text


def switched_at(run: dict[str, Any]) -> float | None:
    """When all traffic was confirmed on stable: fault (or trigger) + RTO."""
    rto = _num(run.get("rto_seconds"))
    start = _num(run.get("fault_injected_at")) or _num((run.get("trigger") or {}).get("at"))
    return None if rto is None or start is None else start + rto


def step_spans(run: dict[str, Any]) -> list[tuple[str, str, float, float]]:
    """Each rollback step as ``(name, status, start, end)`` in epoch seconds.

    Steps carry only durations unless the report has their start/end; they ran back to
    back, so they are laid out around the moment traffic was confirmed on stable (the end
    of ``switch_traffic``), or after the trigger when that is unknown.
    """
    rollback = run.get("rollback") or {}
    if not rollback.get("ran"):
        return []
    steps = {s.get("name"): s for s in rollback.get("steps") or []}
    ordered = [steps.get(n, {"name": n, "status": "not_run"}) for n in ROLLBACK_STEPS]
    if all(_num(s.get("started")) is not None and _num(s.get("ended")) is not None
           for s in ordered if s.get("status") != "not_run"):
        return [(str(s["name"]), str(s.get("status")), float(s["started"]), float(s["ended"]))
                for s in ordered if s.get("status") != "not_run"]
    durations = [_num(s.get("seconds")) or 0.0 for s in ordered]
    anchor = switched_at(run)
    if anchor is not None:
        cursor = anchor - sum(durations[:3])
    else:
        cursor = _num((run.get("trigger") or {}).get("at")) or _num(run.get("started")) or 0.0
    spans = []
    for step, seconds in zip(ordered, durations, strict=True):
        if step.get("status") != "not_run":
            spans.append((str(step["name"]), str(step.get("status")), cursor, cursor + seconds))
        cursor += seconds
    return spans


def _weight_points(run: dict[str, Any], axis: _Axis) -> list[tuple[float, float]]:
    points = [(axis.t0, 0.0)]
    weight = 0.0
    for stage in run.get("stages") or []:
        start = _num(stage.get("started"))
        if start is None:
            continue
        points.append((start, weight))
        weight = float(stage.get("weight") or weight)
        points.append((start, weight))
    back = switched_at(run)
    if back is not None:
        points += [(back, weight), (back, 0.0)]
        weight = 0.0
    points.append((axis.t1, weight))
    return points


def _canary_samples(run: dict[str, Any], key: str) -> list[list[tuple[float, float]]]:
    """Per stage, the (time, value) samples that have a value (gaps split the line)."""
    runs: list[list[tuple[float, float]]] = []
    for stage in run.get("stages") or []:
        current: list[tuple[float, float]] = []
        for sample in stage.get("samples") or []:
            t, v = _num(sample.get("time")), _num(sample.get(key))
            if t is None or v is None:
                if current:
                    runs.append(current)
                current = []
                continue
            current.append((t, v))
        if current:
            runs.append(current)
    return runs


def _evidence_samples(run: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """Per stage, the strongest test's evidence as a share of its bound, on a log scale.

    ``log(e) / log(1/alpha')``: 0 is no evidence, 100% the bound the analysis breaches at.
    """
    runs: list[list[tuple[float, float]]] = []
    for stage in run.get("stages") or []:
        current: list[tuple[float, float]] = []
        for sample in stage.get("samples") or []:
            t = _num(sample.get("time"))
            shares = [
                math.log(max(float(e["e_value"]), 1.0)) / math.log(float(e["bound"]))
                for e in (sample.get("evidence") or {}).values()
                if _num(e.get("e_value")) is not None and (_num(e.get("bound")) or 0) > 1
            ]
            if t is not None and shares:
                current.append((t, min(max(shares), 1.2) * 100))
        if current:
            runs.append(current)
    return runs


class _Panel:
    """One horizontal plot panel with its own y scale."""

    def __init__(self, svg: ET.Element, top: float, label: str, ymax: float, unit: str) -> None:
        self.top, self.ymax = top, max(ymax, 1e-9)
        group = _el(svg, "g", class_="panel", data_panel=label)
        _el(group, "rect", x=LEFT, y=_r(top), width=WIDTH - LEFT - RIGHT, height=PANEL,
            class_="frame")
        _text(group, LEFT + 4, top + 12, label, class_="panel-label")
        for frac in (0.0, 0.5, 1.0):
            y = self.y(self.ymax * frac)
            _el(group, "line", x1=LEFT, x2=WIDTH - RIGHT, y1=_r(y), y2=_r(y), class_="grid")
            _text(group, LEFT - 4, y + 3, f"{self.ymax * frac:.3g}{unit}", class_="tick",
                  text_anchor="end")
        self.group = group

    def y(self, value: float) -> float:
        return self.top + PANEL - min(max(value, 0.0), self.ymax) / self.ymax * PANEL

    def path(self, series: str, runs: list[list[tuple[float, float]]], axis: _Axis,
             title: str, dots: bool = False) -> None:
        d = " ".join(
            "M" + " L".join(f"{_r(axis.x(t))},{_r(self.y(v))}" for t, v in run) for run in runs
        )
        group = _el(self.group, "g", data_series=series, class_=f"series {series}")
        _el(group, "path", title, d=d or "M0,0", class_="line")
        if dots:
            for run in runs:
                for t, v in run:
                    _el(group, "circle", f"{title}: {v:.4g}", cx=_r(axis.x(t)),
                        cy=_r(self.y(v)), r=2.5, class_="dot")

    def limit(self, value: float | None, text: str) -> None:
        if value is None:
            return
        if value > self.ymax:
            _text(self.group, WIDTH - RIGHT - 4, self.top + 12, f"{text} (off scale)",
                  class_="limit-label", text_anchor="end")
            return
        y = self.y(value)
        _el(self.group, "line", text, x1=LEFT, x2=WIDTH - RIGHT, y1=_r(y), y2=_r(y),
            class_="limit", data_limit=text)
        _text(self.group, WIDTH - RIGHT - 4, y - 3, text, class_="limit-label",
              text_anchor="end")


def _limits(thresholds: dict[str, dict[str, float]], key: str) -> float | None:
    values = [t[key] for t in thresholds.values() if key in t]
    return max(values) if values else None


def _traffic(svg: ET.Element, top: float, run: dict[str, Any], axis: _Axis) -> None:
    seconds = [s for s in (run.get("traffic") or {}).get("per_second") or []
               if _num(s.get("second")) is not None]
    versions = sorted({v for s in seconds for v in (s.get("served_by") or {})})
    peak = max((int(s.get("requests") or 0) for s in seconds), default=0)
    panel = _Panel(svg, top, "requests/s", max(peak * 1.15, 1.0), "")
    width = max(axis.x(axis.t0 + 1) - axis.x(axis.t0) - 1, 1.0)
    for i, version in enumerate(versions):
        group = _el(panel.group, "g", data_series=f"traffic:{version}",
                    class_="series traffic", fill=VERSION_COLOURS[i % len(VERSION_COLOURS)])
        for s in seconds:
            below = sum(int((s.get("served_by") or {}).get(v) or 0) for v in versions[:i])
            count = int((s.get("served_by") or {}).get(version) or 0)
            if count:
                y, x = panel.y(below + count), axis.x(s["second"])
                _el(group, "rect", f"v{version}: {count} requests", x=_r(x), y=_r(y),
                    width=_r(max(min(width, WIDTH - RIGHT - x), 0.0)),
                    height=_r(panel.y(below) - y))
    for series, key in (("injected", "injected"), ("lost", "lost")):
        runs = [[(float(s["second"]) + 0.5, float(s.get(key) or 0)) for s in seconds]]
        panel.path(series, runs if seconds else [], axis, f"{key} per second", dots=True)


def _rollback_lane(svg: ET.Element, top: float, run: dict[str, Any], axis: _Axis) -> None:
    group = _el(svg, "g", class_="lane rollback", data_series="rollback")
    _text(group, 4, top + 21, "rollback", class_="panel-label")
    _el(group, "rect", x=LEFT, y=_r(top), width=WIDTH - LEFT - RIGHT, height=LANE,
        class_="frame")
    for number, (name, status, start, end) in enumerate(step_spans(run), start=1):
        x0, x1 = axis.x(start), axis.x(end)
        step = _el(group, "g", data_step=name, class_=f"rb-step {status}")
        _el(step, "rect", f"{number}. {name}: {end - start:.2f} s ({status})", x=_r(x0),
            y=_r(top + 4), width=_r(max(x1 - x0, 2.0)), height=LANE - 8)
        _text(step, x0 + 2, top + LANE / 2 + 4, str(number), class_="step-label")


def _marker(svg: ET.Element, name: str, at: float | None, axis: _Axis, top: float,
            bottom: float, label: str) -> None:
    if at is None:
        return
    x = axis.x(at)
    group = _el(svg, "g", data_marker=name, class_=f"marker {name}")
    _el(group, "line", label, x1=_r(x), x2=_r(x), y1=_r(top), y2=_r(bottom))
    _text(group, x + 3, top + 10, label, class_="marker-label")


def timeline_svg(record: RunRecord) -> str:
    """The timeline chart of a run.

    Args:
        record: the run record.

    Returns:
        An ``<svg>`` element as text, to inline into HTML.
    """
    run = record.to_json()
    thresholds = {
        s.name: s.limits.model_dump(exclude_none=True) for s in record.stages
    }
    t0 = _num(run.get("started")) or 0.0
    t1 = max(_num(run.get("ended")) or t0 + 1.0, t0 + 1.0)
    axis = _Axis(t0, t1)
    top = 22.0
    height = top + 5 * (PANEL + GAP) + LANE + 30
    svg = ET.Element("svg", {
        # No xmlns: the HTML parser puts inline <svg> in the SVG namespace by itself.
        "id": "timeline", "role": "img",
        "viewBox": f"0 0 {WIDTH} {_r(height)}", "width": str(WIDTH), "height": _r(height),
        "aria-label": "Timeline: canary weight, error rate, p95 latency, traffic and rollback",
    })
    for stage in run.get("stages") or []:
        start, end = _num(stage.get("started")), _num(stage.get("ended")) or t1
        if start is None:
            continue
        band = _el(svg, "g", data_stage=str(stage.get("name")), class_="stage-band")
        _el(band, "rect", f"{stage.get('name')}: {stage.get('status')}", x=_r(axis.x(start)),
            y=_r(top), width=_r(max(axis.x(end) - axis.x(start), 1.0)),
            height=_r(5 * (PANEL + GAP) + LANE - GAP), class_=str(stage.get("status")))
        _text(band, axis.x(start) + 3, top - 6, str(stage.get("name")), class_="stage-label")
    weight = _Panel(svg, top, "canary weight", 100.0, "%")
    weight.path("weight", [_weight_points(run, axis)], axis, "canary weight (%)")
    rates = _canary_samples(run, "error_rate")
    rate_limit = _limits(thresholds, "max_error_rate") or _num(
        (run.get("trigger") or {}).get("threshold") if (run.get("trigger") or {}).get(
            "reason") == "error_rate" else None)
    peak = max([v for r in rates for _, v in r] + [rate_limit or 0.0, 0.01])
    errors = _Panel(svg, top + PANEL + GAP, "error rate", peak * 100 * 1.2, "%")
    errors.path("error_rate", [[(t, v * 100) for t, v in r] for r in rates], axis,
                "canary error rate (%)", dots=True)
    errors.limit(None if rate_limit is None else rate_limit * 100,
                 f"limit {rate_limit * 100:.1f}%" if rate_limit is not None else "")
    p95 = _canary_samples(run, "p95_ms")
    p95_limit = _limits(thresholds, "max_p95_ms")
    observed = max([v for r in p95 for _, v in r] + [1.0])
    # A limit far above what was observed would flatten the line: keep the scale on the data.
    latency = _Panel(svg, top + 2 * (PANEL + GAP), "p95 latency",
                     max(observed, p95_limit if p95_limit and p95_limit < 3 * observed else 0)
                     * 1.2, " ms")
    latency.path("p95_ms", p95, axis, "canary p95 (ms)", dots=True)
    latency.limit(p95_limit, f"limit {p95_limit:.0f} ms" if p95_limit is not None else "")
    evidence = _Panel(svg, top + 3 * (PANEL + GAP), "evidence (log e / log bound)", 120.0, "%")
    evidence.path("evidence", _evidence_samples(run), axis,
                  "strongest test's evidence, share of its bound", dots=True)
    evidence.limit(100.0, "bound 1/alpha: breach")
    _traffic(svg, top + 4 * (PANEL + GAP), run, axis)
    lane_top = top + 5 * (PANEL + GAP)
    _rollback_lane(svg, lane_top, run, axis)
    bottom = lane_top + LANE
    trigger = run.get("trigger") or {}
    _marker(svg, "fault", _num(run.get("fault_injected_at")), axis, top, bottom, "fault")
    _marker(svg, "trigger", _num(trigger.get("at")), axis, top + 12, bottom,
            f"trigger: {trigger.get('reason')}")
    _marker(svg, "switched", switched_at(run), axis, top + 24, bottom, "all on stable")
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        t = t0 + (t1 - t0) * frac
        _text(svg, axis.x(t), bottom + 16, f"+{t - t0:.0f} s", class_="tick",
              text_anchor="middle")
    return ET.tostring(svg, encoding="unicode")
