"""The part of a catalog that serves some of its accounts (issue 19): a job that plans and
applies a group of an agency's accounts builds only their listings. Pure.

:func:`for_accounts` drops, before the desired state is built, every SKU file none of whose SKUs
is sold by those accounts (a SKU without ``accounts:`` is sold by every account), so neither the
building time nor the memory of the other accounts' listings is that job's;
:func:`only_accounts` then keeps the group's listings and accounts of the built state. A file
that mixes accounts is kept whole: its other listings are built, then dropped.

:func:`select_accounts` is ``--account NAME`` of plan and apply (one job per account, also when
accounts share a marketplace): it cuts the WHOLE catalog's built state, never a part built by
:func:`for_accounts`, so that what a job plans for its account is exactly that account's part
of the whole plan (same values, same checksum).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from reconciler.catalog.raw import RawCatalog
from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.marketplaces import canonical_code
from reconciler.kernel.model import DesiredState
from reconciler.kernel.redact import escape


def for_accounts(raw: RawCatalog, accounts: Collection[str]) -> RawCatalog:
    only = frozenset(accounts)

    def sells(data: object) -> bool:
        if not isinstance(data, dict):
            return True  # not a SKU mapping: left for build() to report
        names = data.get("accounts")
        return names is None or not isinstance(names, list) or bool(only & set(names))

    kept = tuple(
        doc for doc in raw.skus
        if not isinstance(doc.data, dict) or not isinstance(doc.data.get("skus"), dict)
        or any(sells(v) for v in doc.data["skus"].values())
    )
    return dataclasses.replace(raw, skus=kept)


def only_accounts(desired: DesiredState, accounts: Collection[str]) -> DesiredState:
    only = frozenset(accounts)
    return dataclasses.replace(
        desired,
        listings=tuple(d for d in desired.listings if d.key.account in only),
        accounts=tuple(a for a in desired.accounts if a.name in only),
    )


def select_accounts(
    desired: DesiredState,
    accounts: Collection[str],
    skus: Collection[str] = (),
    marketplaces: Collection[str] = (),
) -> DesiredState:
    """``--account NAME`` (repeatable): :func:`only_accounts` of the whole catalog's desired
    state, so every listing keeps exactly the values the whole catalog gives it (stock is
    allocated across the catalog before the cut) and a plan of one account has the checksum of
    that account's part of the whole plan. An unknown name, or a ``--sku`` or ``--marketplace``
    the catalog has but none of these accounts sells in, is a user's mistake (ReconcilerError,
    one line); values the catalog does not have at all are left to ``check_targets``."""
    names = list(dict.fromkeys(accounts))
    known = [a.name for a in desired.accounts]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ReconcilerError(
            f"--account {', '.join(repr(n) for n in unknown)}: no such account in the "
            f"catalog (its accounts: {', '.join(escape(k) for k in known) or 'none'}); "
            "see `reconciler accounts`"
        )
    part = only_accounts(desired, names)
    codes = {canonical_code(m) for m in marketplaces}
    theirs = {m.code for a in part.accounts for m in a.marketplaces}
    elsewhere = sorted(codes & {m.code for a in desired.accounts for m in a.marketplaces} - theirs)
    if elsewhere:
        raise ReconcilerError(
            f"--marketplace {', '.join(elsewhere)} is not a marketplace of account(s) "
            f"{', '.join(escape(n) for n in names)} (theirs: {', '.join(sorted(theirs))})"
        )
    if skus:
        sold = {d.key.sku for d in part.listings}
        everywhere = {d.key.sku for d in desired.listings}
        elsewhere = [s for s in dict.fromkeys(skus) if s in everywhere and s not in sold]
        if elsewhere:
            raise ReconcilerError(
                f"--sku {', '.join(repr(s) for s in elsewhere)} is not sold by "
                f"account(s) {', '.join(escape(n) for n in names)}: nothing to plan"
            )
    return part
