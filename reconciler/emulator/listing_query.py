"""Query parameters shared by the Listings Items handlers (``listing_api``, ``listing_search``):
csv enums and ``issueLocale``, Amazon-shaped 400 ``InvalidInput`` for bad values."""

from __future__ import annotations

from .http import Request, invalid_input
from .state import ApiError


def enum_csv(req: Request, name: str, allowed: tuple[str, ...], default: list[str]) -> list[str]:
    vals = req.q_csv(name)
    if vals is None:
        return list(default)
    bad = [v for v in vals if v not in allowed]
    if bad or not vals:
        raise ApiError(invalid_input(f"Invalid {name}: {', '.join(bad) or '(empty)'}"))
    return vals


def check_locale(req: Request) -> str | None:
    loc = req.q("issueLocale")
    if loc is not None and not (len(loc) in (2, 5) and loc[:2].isalpha()):
        raise ApiError(invalid_input(f"Invalid issueLocale: {loc}"))
    return loc
