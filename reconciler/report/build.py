"""One call from the sources on disk to the report's data, and to HTML or Markdown text."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import audit_log, sources
from .aggregate import ReportData, build


@dataclass(frozen=True)
class Inputs:
    audit: Sequence[str | os.PathLike[str]]  # files or directories of *.jsonl
    state_dirs: Sequence[str | os.PathLike[str]] = ()  # live cache, orders
    plans: Sequence[str | os.PathLike[str]] = ()
    catalog: str | os.PathLike[str] | None = None
    catalog_required: bool = False
    notes: Sequence[str] = field(default=())


def collect(inputs: Inputs, *, now: datetime, since: datetime | None) -> ReportData:
    notes: list[str] = list(inputs.notes)
    audit = audit_log.read(inputs.audit, since=since)
    if not audit.files:
        notes.append("no audit log read: pass --audit FILE (or set RECONCILER_AUDIT_LOG)")
    catalog = (sources.read_catalog(inputs.catalog, notes, required=inputs.catalog_required)
               if inputs.catalog is not None else sources.CatalogRead(None))
    configs = ({m.marketplace_id: m for a in catalog.desired.accounts for m in a.marketplaces}
               if catalog.desired is not None else {})
    state_dirs = [Path(d) for d in inputs.state_dirs]
    live = sources.read_live_cache(state_dirs, configs, notes)
    orders = sources.read_orders(state_dirs, notes)
    plans = sources.read_plans(inputs.plans, notes)
    return build(now=now, since=since, audit=audit, catalog=catalog, live=live, orders=orders,
                 plans=plans, notes=notes,
                 catalog_root=str(inputs.catalog) if catalog.desired is not None else "")


def html(data: ReportData, cache_dir: str | os.PathLike[str] | None) -> str:
    from .assets import vega_bundle
    from .page import render

    return render(data, vega_bundle(cache_dir))


def markdown(data: ReportData) -> str:
    from .markdown import summary

    return summary(data)
