"""`reconciler watch`: the long-running worker that turns SP-API notifications into stock
updates (see :mod:`reconciler.watch` for the design)."""

from __future__ import annotations

import json
import os
import re

import click

from reconciler.kernel import statedir
from reconciler.kernel.errors import ReconcilerError
from reconciler.pipeline import close_clients, load, open_clients

from .common import catalog_argument, err, out, state_dir_for

COMMANDS = ("watch",)
REGION_IN_URL = re.compile(r"sqs[.-]([a-z0-9-]+)\.amazonaws\.com")


class WatchSetupError(ReconcilerError):
    """boto3 missing, or the queue cannot be reached."""


def sqs_client(queue_url: str, endpoint: str | None, region: str | None) -> object:
    try:
        import boto3  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise WatchSetupError("reconciler watch needs boto3: pip install "
                              "'spapi-reconciler[watch]'") from None
    m = REGION_IN_URL.search(queue_url)
    region = region or (m.group(1) if m else None) or os.environ.get("AWS_REGION") \
        or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("sqs", endpoint_url=endpoint, region_name=region)


def check_queue(sqs: object, queue_url: str) -> None:
    """The queue answers, and has a redrive policy (else say how to add one: without it a
    message failing validation comes back forever instead of reaching a dead-letter queue)."""
    import botocore.exceptions  # type: ignore[import-untyped, unused-ignore]

    try:
        attrs = sqs.get_queue_attributes(  # type: ignore[attr-defined]
            QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise WatchSetupError(
            f"cannot read SQS queue {queue_url}: {e}; check --queue-url, --sqs-endpoint and the"
            " AWS credentials (sqs:ReceiveMessage, DeleteMessage, ChangeMessageVisibility,"
            " GetQueueAttributes)") from None
    if "RedrivePolicy" not in attrs:
        err(f"watch: warning: queue {queue_url} has no redrive policy: a notification that "
            "fails validation is never deleted and comes back forever. Give it a dead-letter "
            "queue: aws sqs set-queue-attributes --queue-url URL --attributes "
            "RedrivePolicy='{\"deadLetterTargetArn\":\"DLQ_ARN\",\"maxReceiveCount\":\"5\"}'")


@click.command("watch")
@catalog_argument
@click.option("--queue-url", envvar="RECONCILER_WATCH_QUEUE_URL", required=True,
              help="The SQS queue Amazon's notifications arrive in (env "
                   "RECONCILER_WATCH_QUEUE_URL).")
@click.option("--sqs-endpoint", envvar="RECONCILER_SQS_ENDPOINT", default=None,
              help="Another SQS endpoint (a loopback test server); default: AWS's.")
@click.option("--region", default=None, help="AWS region (default: from the queue URL).")
@click.option("--window", type=click.FloatRange(0, 60), default=2.0, show_default=True,
              help="Seconds to gather more messages after the first: events for one SKU in "
                   "the window are merged into one write per listing.")
@click.option("--wait", type=click.IntRange(0, 20), default=10, show_default=True,
              help="SQS long-polling seconds per receive.")
@click.option("--visibility-timeout", type=click.IntRange(1, 43200), default=60,
              show_default=True, help="Seconds a received message stays hidden from the other "
              "workers (it comes back when this worker dies).")
@click.option("--lease-ttl", type=click.FloatRange(1, 3600), default=60.0, show_default=True,
              help="Seconds a per-SKU write lease lasts (a killed worker's lease expires).")
@click.option("--exit-when-idle", type=click.FloatRange(0, None), default=None,
              help="Exit after this many seconds without messages (demo, tests).")
def watch(catalog_dir: str, queue_url: str, sqs_endpoint: str | None, region: str | None,
          window: float, wait: int, visibility_timeout: int, lease_ttl: float,
          exit_when_idle: float | None) -> None:
    """Consume SP-API notifications from an SQS queue and keep stock in sync in seconds.

    ORDER_CHANGE reserves the order's units and lowers what every other marketplace and
    location advertises (patchListingsItem, absolute quantities); a quantity or status changed
    outside the tool is compared with the catalog (stock corrected, anything else reported for
    the next plan); LISTINGS_ITEM_ISSUES_CHANGE updates the listing's health in the audit log;
    FEED_PROCESSING_FINISHED verifies that feed. A message that fails Amazon's schema is never
    deleted: the queue's redrive policy moves it to the dead-letter queue. Run as many workers
    on one queue as needed (they share $RECONCILER_STATE_DIR). SIGTERM finishes the batch in
    flight, then exits. The scheduled incremental plan stays the backstop.
    """
    from reconciler.watch.worker import WatchConfig, Worker

    state_dir = state_dir_for(catalog_dir)
    statedir.ensure(state_dir)
    desired = load(catalog_dir, state_dir=state_dir)
    sqs = sqs_client(queue_url, sqs_endpoint, region)
    check_queue(sqs, queue_url)
    clients = open_clients(desired, state_dir=state_dir)
    cfg = WatchConfig(catalog_dir, state_dir, queue_url, window_s=window, wait_s=wait,
                      visibility_s=visibility_timeout, lease_ttl_s=lease_ttl,
                      max_idle_s=exit_when_idle)
    worker = Worker(cfg, sqs, clients, desired.accounts, say=err)
    worker.install_signals()
    err(f"watch: worker {cfg.worker_id} on {queue_url} (window {window:g} s)")
    try:
        totals = worker.run()
    finally:
        worker.close()
        close_clients(clients)
    out(json.dumps({"worker": cfg.worker_id, "messages": totals.messages,
                    "duplicates": totals.duplicates, "rejected": totals.rejected,
                    "patches": totals.written}))
