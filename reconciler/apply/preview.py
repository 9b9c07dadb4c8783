"""`plan --validate-remote`: ask Amazon to validate each planned write without persisting it.

Every planned PATCH/PUT is sent with ``mode=VALIDATION_PREVIEW`` (CONTRACT.md §3.1): Amazon
answers VALID or INVALID with issues and stores nothing. Deletes have no preview mode and are
skipped. The issues are attached to the plan (``Plan.remote_issues``), outside its checksum: they
are Amazon's opinion at one moment, not part of what apply will write.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from reconciler.kernel.model import Issue, ListingKey
from reconciler.live.normalize import amazon_issues
from reconciler.plan.change import Change
from reconciler.plan.patches import listing_request
from reconciler.plan.value import Plan
from reconciler.spapi.client import SpApiClient

PREVIEW = "VALIDATION_PREVIEW"


def preview(client: SpApiClient, change: Change) -> tuple[Issue, ...]:
    req = listing_request(change)
    if req.body is None:  # DELETE: no preview mode exists
        return ()
    if req.method == "PUT":
        resp = client.put_listings_item(req.sku, [req.marketplace_id], req.body, mode=PREVIEW)
    else:
        resp = client.patch_listings_item(req.sku, [req.marketplace_id], req.body, mode=PREVIEW)
    return amazon_issues(resp.get("issues"))


def validate_remote(plan: Plan, clients: Mapping[str, SpApiClient], workers: int = 4) -> Plan:
    """The plan with Amazon's preview issues for every planned create/update."""
    todo = [c for c in plan.changes if c.action != "delete" and c.key.account in clients]

    def one(c: Change) -> tuple[ListingKey, tuple[Issue, ...]]:
        return c.key, preview(clients[c.key.account], c)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="preview") as pool:
        found = dict(pool.map(one, todo))
    return replace(plan, remote_issues={k: v for k, v in found.items() if v}, validated=len(todo))
