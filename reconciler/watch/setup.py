"""`reconciler notifications setup`: the destinations and subscriptions `reconciler watch` needs.

Settings (``reconciler.yaml``, all optional; the CLI's ``--queue-arn``/``--sqs-endpoint`` and
``$RECONCILER_NOTIFICATIONS_QUEUE_ARN``/``$RECONCILER_SQS_ENDPOINT`` win over them)::

    notifications:
      queue_arn: arn:aws:sqs:us-east-1:123456789012:reconciler-notifications
      sqs_endpoint: http://127.0.0.1:5000       # a local SQS server only (tests, demo)
      eventbridge: {account_id: "123456789012", region: us-east-1}   # default: the queue's

One queue for every account of the catalog. What it does, for each account:

1. **Checks the queue policy first** (boto3 ``get_queue_attributes(AttributeNames=["Policy"])``):
   Amazon's SP-API principal, AWS account ``437568002678``, must be allowed ``sqs:SendMessage``
   and ``sqs:GetQueueAttributes`` on the queue ("Grant Selling Partner API permission to write to
   your SQS queue": https://developer-docs.amazon.com/sp-api/docs/set-up-notifications-with-amazon-sqs,
   https://developer-docs.amazon.com/sp-api/docs/tutorial-grant-permission-to-sqs-queue). A
   subscription to a queue Amazon may not write to is accepted by the API and then delivers
   nothing (selling-partner-api-docs issue #416), so a missing grant is an error (exit 1) whose
   message is the statement to add (:func:`fix_statement`), before any SP-API call.
2. **Destinations** (grantless): reuses the application's SQS destination with the same ARN, else
   creates it; likewise one ``eventBridge`` destination per AWS account (Amazon allows one).
3. **Subscriptions** (the seller's authorization): one per notification type the worker reads
   (:data:`WATCH_TYPES`): ``getSubscription`` first, ``createSubscription`` only when there is
   none (a ``409 Conflict``, e.g. a concurrent run, counts as existing). Running it twice creates
   each subscription once.

The listings notifications come through EventBridge; routing the partner event source to the
queue (an event bus named after it and a rule with the queue as target) is the AWS side the
operator sets up once, as Amazon's EventBridge guide describes; the result lists the source name.
AWS credentials come only from boto3's chain (environment, profile, role) and never appear in
any output.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from reconciler.kernel.destinations import is_loopback
from reconciler.kernel.errors import InvalidRequestError, ReconcilerError
from reconciler.kernel.model import Account
from reconciler.kernel.redact import escape
from reconciler.spapi import notifications as api
from reconciler.spapi.client import SpApiClient

SPAPI_PRINCIPAL = "437568002678"  # Amazon's SP-API AWS account (the docs above)
REQUIRED_ACTIONS = ("sqs:SendMessage", "sqs:GetQueueAttributes")
DESTINATION_NAME = "reconciler-watch"
# notification type -> (payload version, delivered through EventBridge)
WATCH_TYPES: dict[str, tuple[str, bool]] = {
    "ORDER_CHANGE": ("1.0", False),
    "FEED_PROCESSING_FINISHED": ("2020-09-04", False),
    "LISTINGS_ITEM_MFN_QUANTITY_CHANGE": ("1.0", True),
    "LISTINGS_ITEM_STATUS_CHANGE": ("1.0", True),
    "LISTINGS_ITEM_ISSUES_CHANGE": ("2023-12-13", True),
}
ENV_QUEUE_ARN = "RECONCILER_NOTIFICATIONS_QUEUE_ARN"
ENV_SQS_ENDPOINT = "RECONCILER_SQS_ENDPOINT"


class SetupError(ReconcilerError):
    """Notifications cannot be set up as configured (exit 1, the message says how to fix it)."""


@dataclass(frozen=True)
class Settings:
    queue_arn: str
    sqs_endpoint: str | None
    eventbridge_account: str
    eventbridge_region: str

    @property
    def region(self) -> str:
        return parse_arn(self.queue_arn)[0]


def parse_arn(arn: str) -> tuple[str, str, str]:
    """``arn:aws:sqs:REGION:ACCOUNT:NAME`` -> (region, account, name); SetupError otherwise."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"] or not all(parts[3:]):
        raise SetupError(f"queue ARN {escape(arn)!r} is not an SQS queue ARN: expected "
                         "arn:aws:sqs:REGION:ACCOUNT:NAME")
    return parts[3], parts[4], parts[5]


def settings(config: Mapping[str, Any] | None, *, queue_arn: str | None,
             sqs_endpoint: str | None, env: Mapping[str, str]) -> Settings:
    """The effective settings: options, then environment, then ``reconciler.yaml``."""
    section = (config or {}).get("notifications") or {}
    if not isinstance(section, Mapping):
        raise SetupError("reconciler.yaml: notifications must be a mapping")
    arn = queue_arn or env.get(ENV_QUEUE_ARN) or section.get("queue_arn")
    if not isinstance(arn, str) or not arn:
        raise SetupError(
            "no SQS queue: give --queue-arn ARN, set $" + ENV_QUEUE_ARN + ", or add "
            "notifications: {queue_arn: arn:aws:sqs:REGION:ACCOUNT:NAME} to reconciler.yaml")
    region, account, _ = parse_arn(arn)
    endpoint = sqs_endpoint or env.get(ENV_SQS_ENDPOINT)
    if endpoint is None and section.get("sqs_endpoint") is not None:
        endpoint = str(section["sqs_endpoint"])
        host = urlsplit(endpoint).hostname or ""
        if not is_loopback(host):  # a catalog (a pull request) may only name a local server
            raise SetupError(
                f"reconciler.yaml: notifications.sqs_endpoint {escape(endpoint)!r} is not a "
                "loopback URL; give another endpoint with --sqs-endpoint or "
                f"${ENV_SQS_ENDPOINT}, or remove it to use Amazon SQS")
    eb = section.get("eventbridge") or {}
    return Settings(arn, endpoint or None, str(eb.get("account_id") or account),
                    str(eb.get("region") or region))


# ---------------------------------------------------------------------- the queue policy


def fix_statement(queue_arn: str) -> dict[str, Any]:
    """The statement to add to the queue's access policy (Amazon's tutorial, verbatim in
    substance: principal 437568002678, SendMessage and GetQueueAttributes on the queue)."""
    return {"Sid": "AllowSellingPartnerAPI", "Effect": "Allow",
            "Principal": {"AWS": SPAPI_PRINCIPAL}, "Action": list(REQUIRED_ACTIONS),
            "Resource": queue_arn}


def _listed(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _is_spapi(principal: Any) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    return any(str(p) in (SPAPI_PRINCIPAL, f"arn:aws:iam::{SPAPI_PRINCIPAL}:root", "*")
               for p in _listed(principal.get("AWS")))


def _action_ok(actions: Any, wanted: str) -> bool:
    return any(str(a).lower() in (wanted.lower(), "sqs:*", "*") for a in _listed(actions))


def _resource_ok(resource: Any, arn: str) -> bool:
    return resource is None or any(str(r) in (arn, "*") for r in _listed(resource))


def missing_actions(policy: str | None, queue_arn: str) -> list[str]:
    """The required actions the policy does not grant Amazon's principal (all of them when
    there is no policy or it is not JSON); a Deny for the principal counts as missing."""
    try:
        doc = json.loads(policy) if policy else {}
    except ValueError:
        doc = {}
    stmts = [s for s in _listed(doc.get("Statement") or []) if isinstance(s, Mapping)] \
        if isinstance(doc, Mapping) else []
    missing = []
    for action in REQUIRED_ACTIONS:
        granted = denied = False
        for s in stmts:
            if not (_is_spapi(s.get("Principal")) and _action_ok(s.get("Action"), action)
                    and _resource_ok(s.get("Resource"), queue_arn)):
                continue
            if s.get("Effect") == "Allow":
                granted = True
            elif s.get("Effect") == "Deny":
                denied = True
        if not granted or denied:
            missing.append(action)
    return missing


def check_queue_policy(sqs: Any, queue_arn: str) -> None:
    """SetupError with the statement to add unless Amazon's principal may write to the queue."""
    _, account, name = parse_arn(queue_arn)
    try:
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
    except Exception as e:  # botocore's ClientError/EndpointConnectionError/NoCredentialsError
        raise SetupError(f"cannot read the policy of queue {escape(queue_arn)}: "
                         f"{type(e).__name__}") from None
    missing = missing_actions((attrs.get("Attributes") or {}).get("Policy"), queue_arn)
    if missing:
        statement = json.dumps(fix_statement(queue_arn))
        raise SetupError(
            f"the access policy of queue {escape(queue_arn)} does not let Amazon's Selling "
            f"Partner API (AWS account {SPAPI_PRINCIPAL}) {' and '.join(missing)}, so no "
            "notification would arrive. Add this statement to the queue's access policy "
            "(SQS console: the queue > Access policy > Edit), then run this again: "
            f"{statement}")


# ---------------------------------------------------------------------- destinations, subscriptions


@dataclass(frozen=True)
class Line:
    """One row of the result: what setup found or did."""

    account: str
    kind: str  # destination | subscription
    name: str  # sqs | eventBridge | the notification type
    ident: str  # destinationId | subscriptionId
    action: str  # created | exists
    detail: str = ""  # the ARN, the partner event source name, the destination id

    def tsv(self) -> str:
        return "\t".join((self.account, self.kind, self.name, self.ident, self.action,
                          self.detail))


def _destination(grantless: SpApiClient, account: str, resource: dict[str, Any],
                 match: Callable[[dict[str, Any]], bool], kind: str) -> tuple[dict[str, Any], Line]:
    for d in api.get_destinations(grantless):
        if match(d.get("resource") or {}):
            return d, Line(account, "destination", kind, str(d.get("destinationId")), "exists",
                           _detail(d))
    try:
        d = api.create_destination(grantless, DESTINATION_NAME, resource)
    except InvalidRequestError as e:
        if e.status != 409:
            raise
        # 409: created meanwhile (another run), or (EventBridge) by another application
        for d in api.get_destinations(grantless):
            if match(d.get("resource") or {}):
                return d, Line(account, "destination", kind, str(d.get("destinationId")),
                               "exists", _detail(d))
        raise
    return d, Line(account, "destination", kind, str(d.get("destinationId")), "created",
                   _detail(d))


def _detail(d: Mapping[str, Any]) -> str:
    res = d.get("resource") or {}
    return str((res.get("sqs") or {}).get("arn") or (res.get("eventBridge") or {}).get("name")
               or "")


def setup_account(account: Account, seller: SpApiClient, grantless: SpApiClient,
                  s: Settings, types: Iterable[str] = tuple(WATCH_TYPES)) -> list[Line]:
    """Destinations and subscriptions of one account (idempotent)."""
    lines: list[Line] = []
    wanted = [t for t in types if t in WATCH_TYPES]
    dests: dict[bool, dict[str, Any]] = {}
    if any(not WATCH_TYPES[t][1] for t in wanted):
        d, line = _destination(grantless, account.name, {"sqs": {"arn": s.queue_arn}},
                               lambda r: (r.get("sqs") or {}).get("arn") == s.queue_arn, "sqs")
        dests[False] = d
        lines.append(line)
    if any(WATCH_TYPES[t][1] for t in wanted):
        spec = {"eventBridge": {"accountId": s.eventbridge_account,
                                "region": s.eventbridge_region}}
        d, line = _destination(
            grantless, account.name, spec,
            lambda r: (r.get("eventBridge") or {}).get("accountId") == s.eventbridge_account,
            "eventBridge")
        dests[True] = d
        lines.append(line)
    for t in wanted:
        version, eventbridge = WATCH_TYPES[t]
        dest_id = str(dests[eventbridge].get("destinationId"))
        found = api.get_subscription(seller, t, version)
        action = "exists"
        if found is None:
            try:
                found = api.create_subscription(seller, t, version, dest_id)
                action = "created"
            except InvalidRequestError as e:
                if e.status != 409:  # 409 Conflict: it exists (e.g. a concurrent run)
                    raise
                found = api.get_subscription(seller, t, version) or {}
        lines.append(Line(account.name, "subscription", t, str(found.get("subscriptionId")),
                          action, str(found.get("destinationId") or "")))
    return lines
