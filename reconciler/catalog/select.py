"""The part of a catalog that serves some of its accounts (issue 19): a job that plans and
applies a group of an agency's accounts builds only their listings. Pure.

:func:`for_accounts` drops, before the desired state is built, every SKU file none of whose SKUs
is sold by those accounts (a SKU without ``accounts:`` is sold by every account), so neither the
building time nor the memory of the other accounts' listings is that job's;
:func:`only_accounts` then keeps the group's listings and accounts of the built state. A file
that mixes accounts is kept whole: its other listings are built, then dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from reconciler.catalog.raw import RawCatalog
from reconciler.kernel.model import DesiredState


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
