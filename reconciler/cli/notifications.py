"""`reconciler notifications setup`: subscribe every account of the catalog to the SP-API
notifications `reconciler watch` consumes (logic: :mod:`reconciler.watch.setup`)."""

from __future__ import annotations

import os

import click

from reconciler.kernel.errors import ReconcilerError

from .common import catalog_argument, err, out, state_dir_for

COMMANDS: tuple[str, ...] = ()  # registered by cli._register (a group)


@click.group(name="notifications")
def notifications_group() -> None:
    """SP-API notifications (Amazon -> SQS) for `reconciler watch`."""


@notifications_group.command("setup")
@catalog_argument
@click.option("--queue-arn", default=None, metavar="ARN",
              help="The SQS queue (default: $RECONCILER_NOTIFICATIONS_QUEUE_ARN, then "
              "notifications.queue_arn in reconciler.yaml).")
@click.option("--sqs-endpoint", default=None, metavar="URL",
              help="An SQS-compatible endpoint instead of Amazon SQS, e.g. a local test server "
              "(default: $RECONCILER_SQS_ENDPOINT, then notifications.sqs_endpoint).")
@click.option("--account", "account_names", multiple=True, metavar="NAME",
              help="Only this account of reconciler.yaml (repeatable; default: every one).")
def setup_cmd(catalog_dir: str, queue_arn: str | None, sqs_endpoint: str | None,
              account_names: tuple[str, ...]) -> None:
    """Create the notification destination and subscriptions of every account. Idempotent.

    First checks that the queue's access policy lets Amazon's SP-API (AWS account
    437568002678) send to it; when it doesn't, prints the statement to add and exits 1.
    Prints one line per destination and subscription on stdout (tab-separated: account, kind,
    name, id, created|exists, ARN/source/destination). AWS credentials come from boto3's usual
    chain (environment, profile, role).
    """
    from reconciler.catalog.loader import load as load_raw
    from reconciler.catalog.loader import load_desired
    from reconciler.spapi.auth import NOTIFICATIONS_SCOPE
    from reconciler.spapi.connect import client_for, require_credentials
    from reconciler.watch import setup as ws

    state_dir = state_dir_for(catalog_dir)
    raw = load_raw(catalog_dir)
    config = raw.config.data if isinstance(raw.config.data, dict) else {}
    s = ws.settings(config, queue_arn=queue_arn, sqs_endpoint=sqs_endpoint, env=os.environ)
    desired = load_desired(catalog_dir)
    accounts = [a for a in desired.accounts if not account_names or a.name in account_names]
    unknown = sorted(set(account_names) - {a.name for a in desired.accounts})
    if unknown:
        raise ReconcilerError(f"--account {unknown[0]!r} is not an account of reconciler.yaml")
    try:
        import boto3  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise ReconcilerError(
            "boto3 is not installed: pip install 'reconciler[watch]'") from None
    sqs = boto3.client("sqs", endpoint_url=s.sqs_endpoint, region_name=s.region)
    ws.check_queue_policy(sqs, s.queue_arn)
    require_credentials(accounts)
    created = 0
    for account in accounts:
        seller = client_for(account, state_dir=state_dir)
        grantless = client_for(account, state_dir=state_dir, scope=NOTIFICATIONS_SCOPE)
        try:
            for line in ws.setup_account(account, seller, grantless, s):
                out(line.tsv())
                created += line.action == "created"
                if line.kind == "destination" and line.name == "eventBridge" \
                        and line.action == "created":
                    err(f"{account.name}: route the partner event source {line.detail} to the "
                        "queue (an event bus of that name, a rule targeting the queue): Amazon "
                        "delivers the listings notifications through EventBridge")
        finally:
            seller.close()
            grantless.close()
    err(f"notifications setup: {len(accounts)} account(s), {created} created, queue "
        f"{s.queue_arn}")
