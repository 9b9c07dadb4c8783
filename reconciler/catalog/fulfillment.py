"""``fulfillment_availability`` of a listing: literal quantities or an allocation policy.

- MLI marketplace: one entry per location serving it (locations.yaml), a location the SKU
  gives no quantity for is managed at 0, plus ``DEFAULT`` = 0 (Amazon's MLI guide: without it
  Amazon shows a second offer with the wrong stock).
- Other marketplaces: ``DEFAULT`` = the literal integer, or the sum of the quantities of the
  locations serving it.
- ``allocation: POLICY`` on a SKU: every marketplace without a literal quantity gets its
  locations' quantities from stock.csv through :func:`reconciler.catalog.allocation.allocate`; the
  central stock of the SKU is shared by all those locations and never handed out twice.

Entries are sorted by ``fulfillment_channel_code`` (the model's canonical order). Problems are
reported through a callback with file:line, never raised.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from reconciler.catalog.allocation import allocate
from reconciler.catalog.raw import SkuDecl, StockRow
from reconciler.catalog.settings import Location, Settings
from reconciler.kernel.model import DEFAULT_CHANNEL, Account, Entry, MarketplaceConfig, SourceRef

Report = Callable[[SourceRef, str, str], None]


class Fulfillment:
    def __init__(
        self,
        settings: Settings,
        stock_rows: Iterable[StockRow] | None,
        stock_file: str,
        *,
        report: Report,
        warn: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.has_stock = stock_rows is not None
        self.stock_file = stock_file
        self.report = report
        self.warn = warn
        self.serving: dict[tuple[str, str], list[Location]] = {}
        for loc in sorted(settings.locations.values(), key=lambda x: x.name):
            self.serving.setdefault((loc.account, loc.marketplace), []).append(loc)
        self.stock = self._index(stock_rows or ())

    def _index(self, rows: Iterable[StockRow]) -> dict[str, dict[str, int]]:
        locations = self.settings.locations
        by_sku: dict[str, dict[str, int]] = {}
        for r in rows:
            if r.location != "central" and r.location not in locations:
                known = ", ".join(["central", *sorted(locations)])
                self.report(
                    SourceRef(self.stock_file, r.line, 1),
                    f"unknown location {r.location!r} (known: {known}); add it to "
                    "locations.yaml or fix the row",
                    "",
                )
                continue
            by_sku.setdefault(r.sku, {})[r.location] = r.on_hand
        return by_sku

    def allocation(
        self, sku: SkuDecl, targets: Sequence[tuple[Account, MarketplaceConfig]]
    ) -> dict[str, int]:
        """Allocated units per location name, for the SKU's marketplaces without a literal
        quantity (empty when the SKU has no allocation policy)."""
        policy_name = sku.data.get("allocation")
        if policy_name is None:
            return {}
        policies = self.settings.policies
        policy = policies.get(policy_name)
        if policy is None:
            known = ", ".join(sorted(policies)) or "none defined"
            self.report(sku.ref("allocation"),
                        f"unknown allocation policy {policy_name!r} (locations.yaml "
                        f"allocation_policies: {known})", sku.context)
            return {}
        if not self.has_stock:
            self.report(sku.ref("allocation"),
                        "allocation needs stock.csv (sku,location,on_hand) in the catalog",
                        sku.context)
            return {}
        literal = set(sku.data.get("quantity") or {})
        sites = [
            loc.name
            for acc, m in targets if m.code not in literal
            for loc in self.serving.get((acc.name, m.code), [])
        ]
        stock = self.stock.get(sku.code, {})
        if not stock:
            self.warn(f"SKU {sku.code}: no rows in {self.stock_file}; allocated 0 everywhere")
        result = allocate(policy, stock.get("central", 0), {s: stock.get(s, 0) for s in sites})
        return result.quantities

    def entries(
        self, sku: SkuDecl, acc: Account, m: MarketplaceConfig, ctx: str,
        alloc: dict[str, int],
    ) -> tuple[list[Entry] | None, int | None]:
        """``(fulfillment_availability entries, units allocated)``; ``(None, None)`` when the
        SKU does not manage its quantity in this marketplace (or after a problem)."""
        serving = self.serving.get((acc.name, m.code), [])
        spec = (sku.data.get("quantity") or {}).get(m.code)
        if spec is None:
            if sku.data.get("allocation") is None:
                return None, None
            if not serving:
                self.report(sku.ref("allocation"),
                            f"allocation needs a location serving {m.code} in locations.yaml, "
                            f"or a literal quantity.{m.code}", ctx)
                return None, None
            per_loc = {loc.name: alloc.get(loc.name, 0) for loc in serving}
        elif isinstance(spec, int):
            if m.mli:
                example = serving[0].name if serving else "store"
                self.report(sku.ref("quantity", m.code),
                            f"{m.code} uses Multi-Location Inventory: give quantities per "
                            f"location, e.g. {m.code}: {{{example}: 10}}", ctx)
                return None, None
            return [{"fulfillment_channel_code": DEFAULT_CHANNEL, "quantity": spec}], spec
        else:
            per_loc = {loc.name: 0 for loc in serving}
            for name, q in spec.items():
                if name not in per_loc:
                    self.report(sku.ref("quantity", m.code, name, key=True),
                                self._not_serving(name, acc, m), ctx)
                    continue
                per_loc[name] = q
        total = sum(per_loc.values())
        if not m.mli:
            return [{"fulfillment_channel_code": DEFAULT_CHANNEL, "quantity": total}], total
        entries: list[Entry] = [
            {"fulfillment_channel_code": loc.channel, "quantity": per_loc[loc.name]}
            for loc in serving
        ]
        entries.append({"fulfillment_channel_code": DEFAULT_CHANNEL, "quantity": 0})
        entries.sort(key=lambda e: str(e["fulfillment_channel_code"]))
        return entries, total

    def _not_serving(self, name: str, acc: Account, m: MarketplaceConfig) -> str:
        locations = self.settings.locations
        loc = locations.get(name)
        if loc is not None:
            return (f"location {name!r} serves {loc.account}/{loc.marketplace}, not "
                    f"{acc.name}/{m.code}")
        return (f"unknown location {name!r} (locations.yaml: "
                f"{', '.join(sorted(locations)) or 'none'})")
