"""`reconciler notifications setup` on the sample catalog (embedded emulator) with a real
(moto, loopback) SQS queue: run twice, each destination and subscription is created once; a
queue policy that does not let Amazon's principal send gives the statement to add, exit 1, and
no SP-API call."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.spapi.connect import close_embedded_emulators, embedded_emulator
from reconciler.watch import setup as ws
from tests.notif_support import make_queue
from tests.sqsserver import sqs_client, sqs_server

CATALOG = Path(__file__).resolve().parent.parent / "catalog"


def grant(arn: str, **overrides: Any) -> dict[str, Any]:
    stmt = {"Effect": "Allow", "Principal": {"AWS": ws.SPAPI_PRINCIPAL},
            "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"], "Resource": arn}
    stmt.update(overrides)
    return {"Version": "2012-10-17", "Statement": [stmt]}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with sqs_server() as ep:
        yield ep


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[str]:
    dst = tmp_path / "catalog"
    shutil.copytree(CATALOG, dst)
    yield str(dst)
    close_embedded_emulators()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_setup_twice_creates_each_subscription_once(endpoint: str, catalog: str) -> None:
    sqs = sqs_client(endpoint)
    url, arn = make_queue(sqs, "setup-twice")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(grant(arn))})
    first = run("notifications", "setup", catalog, "--queue-arn", arn, "--sqs-endpoint", endpoint)
    assert first.exit_code == 0, first.output
    rows = [line.split("\t") for line in first.stdout.splitlines()]
    subs = [r for r in rows if r[1] == "subscription"]
    assert {(r[0], r[2]) for r in subs} == {(a, t) for a in ("na", "eu") for t in ws.WATCH_TYPES}
    assert all(r[4] == "created" for r in subs)
    second = run("notifications", "setup", catalog, "--queue-arn", arn,
                 "--sqs-endpoint", endpoint)
    assert second.exit_code == 0, second.output
    again = [line.split("\t") for line in second.stdout.splitlines()]
    assert all(r[4] == "exists" for r in again)
    assert sorted(r[3] for r in again if r[1] == "subscription") == sorted(r[3] for r in subs)
    emu = embedded_emulator(os.environ["RECONCILER_STATE_DIR"])
    with emu.lock:
        n_subs = emu.db.execute("SELECT COUNT(*) FROM notif_subscriptions").fetchone()[0]
        dests = emu.db.execute("SELECT kind, arn FROM notif_destinations").fetchall()
    assert n_subs == 2 * len(ws.WATCH_TYPES)
    assert sorted(d[0] for d in dests) == ["eventBridge", "sqs"] and (("sqs", arn) in dests)
    assert len([c for c in emu.calls("createSubscription")]) == n_subs


def test_a_policy_without_amazons_principal_gives_the_fix(endpoint: str, catalog: str) -> None:
    sqs = sqs_client(endpoint)
    url, arn = make_queue(sqs, "setup-denied")
    other = grant(arn, Principal={"AWS": "111122223333"})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(other)})
    r = CliRunner().invoke(main, ["notifications", "setup", catalog, "--queue-arn", arn,
                                  "--sqs-endpoint", endpoint])
    assert r.exit_code == 1
    assert "Traceback" not in r.output and r.stdout == ""
    assert ws.SPAPI_PRINCIPAL in r.stderr and arn in r.stderr and "sqs:SendMessage" in r.stderr
    # the statement printed is the one that fixes it
    start = r.stderr.index('{"Sid"')
    statement = json.loads(r.stderr[start:r.stderr.index("}", r.stderr.index('"Resource"')) + 1])
    assert ws.missing_actions(json.dumps({"Statement": [statement]}), arn) == []
    emu = embedded_emulator(os.environ["RECONCILER_STATE_DIR"])
    assert emu.calls("createDestination") == [] and emu.calls("createSubscription") == []


def test_no_queue_arn_is_a_one_line_error(catalog: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ws.ENV_QUEUE_ARN, raising=False)
    r = CliRunner().invoke(main, ["notifications", "setup", catalog])
    assert r.exit_code == 1 and "--queue-arn" in r.stderr and "Traceback" not in r.output


def test_missing_actions() -> None:
    arn = "arn:aws:sqs:us-east-1:123456789012:q"
    full = list(ws.REQUIRED_ACTIONS)
    assert ws.missing_actions(None, arn) == full
    assert ws.missing_actions("not json", arn) == full
    assert ws.missing_actions(json.dumps(grant(arn)), arn) == []
    root = grant(arn, Principal={"AWS": [f"arn:aws:iam::{ws.SPAPI_PRINCIPAL}:root"]},
                 Action="sqs:*")
    assert ws.missing_actions(json.dumps(root), arn) == []
    assert ws.missing_actions(json.dumps(grant(arn, Action="sqs:SendMessage")), arn) == [
        "sqs:GetQueueAttributes"]
    assert ws.missing_actions(json.dumps(grant(arn, Resource="arn:aws:sqs:us-east-1:1:other")),
                              arn) == full
    deny = grant(arn)
    deny["Statement"].append({**deny["Statement"][0], "Effect": "Deny"})
    assert ws.missing_actions(json.dumps(deny), arn) == full


def test_settings_sources_and_a_catalog_endpoint_off_loopback() -> None:
    arn = "arn:aws:sqs:eu-west-1:123456789012:q"
    s = ws.settings({"notifications": {"queue_arn": arn}}, queue_arn=None, sqs_endpoint=None,
                    env={})
    assert (s.queue_arn, s.region, s.eventbridge_account, s.sqs_endpoint) == \
        (arn, "eu-west-1", "123456789012", None)
    s = ws.settings({}, queue_arn=None, sqs_endpoint=None, env={ws.ENV_QUEUE_ARN: arn})
    assert s.queue_arn == arn
    with pytest.raises(ws.SetupError):
        ws.settings({"notifications": {"queue_arn": arn,
                                       "sqs_endpoint": "https://evil.example"}},
                    queue_arn=None, sqs_endpoint=None, env={})
    with pytest.raises(ws.SetupError):
        ws.settings({}, queue_arn="arn:aws:sns:us-east-1:1:t", sqs_endpoint=None, env={})


def test_aws_credentials_never_appear_in_the_output(
    endpoint: str, catalog: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "aws-secret-value-that-must-not-leak-4711"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEYID0001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    sqs = sqs_client(endpoint)
    url, arn = make_queue(sqs, "setup-secrets")
    for policy in (grant(arn, Principal={"AWS": "111122223333"}), grant(arn)):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        r = CliRunner().invoke(main, ["notifications", "setup", catalog, "--queue-arn", arn,
                                      "--sqs-endpoint", endpoint])
        assert r.exit_code in (0, 1), r.output
        assert secret not in r.output and "AKIAEXAMPLEKEYID0001" not in r.output
    assert r.exit_code == 0
