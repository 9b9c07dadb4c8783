"""The SLO panel: each target's figure now, its window worst, its trend, and every breach by run.

Definitions (the figures are the KPIs apply writes to the audit, ``apply/kpi.py``):

- a **sample** is one run that applied something (a run with no KPIs, e.g. a no-op apply,
  has no figures and can't breach);
- **now** is the worst value among the latest run of each account (or account set): a breach in
  either account shows, and an account that stopped running doesn't hide behind the other;
- **worst** is the worst sample of the window, with its run;
- a **breach** is a sample on the wrong side of the target (sync success below 99.5 %, API
  latency p95 above 800 ms, stock deviation above 0.5 %);
- the **trend** compares the mean of the window's last quarter with the quarter before it:
  ``better``, ``worse`` or ``steady`` (a change under 1 % of the target's bound).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .model import TARGETS, Run, Target


@dataclass(frozen=True)
class Breach:
    run_id: str
    time: datetime
    value: float
    label: str


@dataclass(frozen=True)
class SloFigure:
    target: Target
    now: float | None
    now_run: str  # run_id of the run that gives "now"
    worst: float | None
    worst_run: str
    samples: int
    breaches: tuple[Breach, ...]
    trend: str  # better | worse | steady | n/a

    @property
    def ok_now(self) -> bool:
        return self.now is None or not self.target.breached(self.now)

    @property
    def ok_window(self) -> bool:
        return not self.breaches


def _latest_per_account(runs: Sequence[Run]) -> list[Run]:
    latest: dict[tuple[str, ...], Run] = {}
    for r in runs:
        if r.kpis is not None:
            latest[r.accounts or (r.source,)] = r
    return list(latest.values())


def _trend(target: Target, samples: Sequence[tuple[float, float]], start: float,
           end: float) -> str:
    if end <= start:
        return "n/a"
    q = (end - start) / 4
    last = [v for t, v in samples if t >= end - q]
    before = [v for t, v in samples if end - 2 * q <= t < end - q]
    if not last or not before:
        return "n/a"
    a, b = sum(last) / len(last), sum(before) / len(before)
    if abs(a - b) < 0.01 * max(abs(target.bound), 1e-9):
        return "steady"
    return "worse" if target.worse(a, b) else "better"


def figure(target: Target, runs: Sequence[Run], start: datetime | None,
           end: datetime) -> SloFigure:
    samples: list[tuple[float, float]] = []
    breaches: list[Breach] = []
    worst: float | None = None
    worst_run = ""
    key, low_is_bad, bound = target.key, target.op == ">=", target.bound
    for r in runs:
        if r.kpis is None or (v := r.kpis.get(key)) is None:
            continue
        samples.append((r.time.timestamp(), v))
        if worst is None or (v < worst if low_is_bad else v > worst):
            worst, worst_run = v, r.run_id
        if v < bound if low_is_bad else v > bound:
            breaches.append(Breach(r.run_id, r.time, v, r.label))
    now: float | None = None
    now_run = ""
    for r in _latest_per_account(runs):
        v = r.kpi(target.key)
        if v is not None and (now is None or target.worse(v, now)):
            now, now_run = v, r.run_id
    t0 = start.timestamp() if start else (samples[0][0] if samples else 0.0)
    return SloFigure(target, now, now_run, worst, worst_run, len(samples), tuple(breaches),
                     _trend(target, samples, t0, end.timestamp()))


def figures(runs: Sequence[Run], start: datetime | None, end: datetime) -> tuple[SloFigure, ...]:
    return tuple(figure(t, runs, start, end) for t in TARGETS)


def slo_line(figs: Sequence[SloFigure]) -> str:
    """``sync success 99.92 % ✅ · API latency p95 412 ms ✅ · ...`` (plain text)."""
    from .model import fmt

    parts = []
    for f in figs:
        mark = "n/a" if f.now is None else ("OK" if f.ok_now else "BREACH")
        parts.append(f"{f.target.label} {fmt(f.now, f.target.unit)} {mark}")
    return " · ".join(parts)
