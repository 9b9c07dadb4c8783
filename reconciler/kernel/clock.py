"""How far we distrust our own clock against Amazon's, and the one time format we exchange
with it (whole-second ISO 8601 in UTC, ``2026-11-22T10:00:00Z``).

Two places compare a time we took with one Amazon stamps: the incremental read's
``lastUpdatedAfter`` mark (``workflow``) and the feed journal's search for a feed whose
``createFeed`` answer was lost (``feedrun``). Both move their bound back by this margin, so clock
skew can only make us look at more, never at less. ``RECONCILER_CLOCK_MARGIN_SECONDS`` lowers it
for hosts with a trusted (NTP) clock.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

DEFAULT_CLOCK_MARGIN_SECONDS = 120.0


def clock_margin() -> timedelta:
    raw = os.environ.get("RECONCILER_CLOCK_MARGIN_SECONDS", "")
    try:
        seconds = float(raw) if raw else DEFAULT_CLOCK_MARGIN_SECONDS
    except ValueError:
        seconds = DEFAULT_CLOCK_MARGIN_SECONDS
    return timedelta(seconds=max(0.0, seconds))


ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def iso_utc(moment: datetime | float) -> str:
    """Whole-second ISO 8601 in UTC, as the SP-API date filters take it. A naive datetime is
    taken as UTC; a float is epoch seconds."""
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime(ISO_UTC)


def parse_iso_utc(text: str) -> datetime:
    """Read :func:`iso_utc`'s format back (aware, UTC). ValueError for anything else."""
    return datetime.strptime(text, ISO_UTC).replace(tzinfo=timezone.utc)
