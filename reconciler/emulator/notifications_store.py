"""The Notifications API's state: destinations (per application) and subscriptions (per
application, seller, notification type and payload version), in SQLite.

Applications are the LWA clients (``auth.Principal.client_id``, a fingerprint): a destination
belongs to the application that created it (grantless calls), a subscription to the application
and the seller whose authorization created it. Its ``applicationId`` in notifications is a stable
``amzn1.sellerapps.app.<uuid>`` derived from that fingerprint.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from .state import EmulatorState

SCHEMA = """
CREATE TABLE IF NOT EXISTS notif_destinations (
    destination_id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,             -- sqs | eventBridge
    arn TEXT,                       -- sqs
    account_id TEXT,                -- eventBridge
    region TEXT,                    -- eventBridge
    source_name TEXT,               -- eventBridge: the partner event source name
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS notif_subscriptions (
    subscription_id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    seller_id TEXT NOT NULL,
    notification_type TEXT NOT NULL,
    payload_version TEXT NOT NULL,
    destination_id TEXT NOT NULL,
    directive TEXT,                 -- JSON processingDirective
    seq INTEGER NOT NULL,
    UNIQUE (app, seller_id, notification_type, payload_version)
);
"""
EVENTBRIDGE_SOURCE_PREFIX = "aws.partner/sellingpartnerapi.amazon.com"


def init_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def application_id(app: str) -> str:
    """The ``applicationId`` Amazon names an application by, from the client fingerprint."""
    return "amzn1.sellerapps.app." + str(uuid.uuid5(uuid.NAMESPACE_URL, "app:" + app))


@dataclass(frozen=True)
class Destination:
    destination_id: str
    app: str
    name: str
    kind: str
    arn: str | None
    account_id: str | None
    region: str | None
    source_name: str | None

    def resource(self) -> dict[str, Any]:
        if self.kind == "sqs":
            return {"sqs": {"arn": self.arn}}
        return {"eventBridge": {"name": self.source_name, "region": self.region,
                                "accountId": self.account_id}}

    def json(self) -> dict[str, Any]:
        return {"name": self.name, "destinationId": self.destination_id,
                "resource": self.resource()}


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    app: str
    seller_id: str
    notification_type: str
    payload_version: str
    destination_id: str
    directive: dict[str, Any] | None

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"subscriptionId": self.subscription_id,
                               "payloadVersion": self.payload_version,
                               "destinationId": self.destination_id}
        if self.directive is not None:
            out["processingDirective"] = self.directive
        return out


_DCOLS = "destination_id, app, name, kind, arn, account_id, region, source_name"
_SCOLS = ("subscription_id, app, seller_id, notification_type, payload_version, destination_id,"
          " directive")


def _dest(r: tuple[Any, ...]) -> Destination:
    return Destination(*r)


def _sub(r: tuple[Any, ...]) -> Subscription:
    return Subscription(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else None)


def _seq(emu: EmulatorState, table: str) -> int:
    row = emu.db.execute(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}").fetchone()  # noqa: S608
    return int(row[0])


def destinations(emu: EmulatorState, app: str) -> list[Destination]:
    return [_dest(r) for r in emu.db.execute(
        f"SELECT {_DCOLS} FROM notif_destinations WHERE app = ? ORDER BY seq", (app,))]  # noqa: S608


def destination(emu: EmulatorState, destination_id: str) -> Destination | None:
    r = emu.db.execute(f"SELECT {_DCOLS} FROM notif_destinations WHERE destination_id = ?",  # noqa: S608
                       (destination_id,)).fetchone()
    return None if r is None else _dest(r)


def find_sqs(emu: EmulatorState, app: str, arn: str) -> Destination | None:
    r = emu.db.execute(f"SELECT {_DCOLS} FROM notif_destinations WHERE app = ? AND kind = 'sqs'"  # noqa: S608
                       " AND arn = ?", (app, arn)).fetchone()
    return None if r is None else _dest(r)


def find_eventbridge(emu: EmulatorState, account_id: str) -> Destination | None:
    r = emu.db.execute(f"SELECT {_DCOLS} FROM notif_destinations WHERE kind = 'eventBridge'"  # noqa: S608
                       " AND account_id = ?", (account_id,)).fetchone()
    return None if r is None else _dest(r)


def add_destination(emu: EmulatorState, app: str, name: str, spec: dict[str, Any]) -> Destination:
    """Store a destination of ``spec`` (already validated: ``{"sqs": {"arn"}}`` or
    ``{"eventBridge": {"accountId", "region"}}``)."""
    did = str(uuid.uuid4())
    if "sqs" in spec:
        d = Destination(did, app, name, "sqs", str(spec["sqs"]["arn"]), None, None, None)
    else:
        eb = spec["eventBridge"]
        source = f"{EVENTBRIDGE_SOURCE_PREFIX}/{eb['accountId']}/{application_id(app)}"
        d = Destination(did, app, name, "eventBridge", None, str(eb["accountId"]),
                        str(eb["region"]), source)
    emu.db.execute(
        f"INSERT INTO notif_destinations({_DCOLS}, seq) VALUES (?,?,?,?,?,?,?,?,?)",  # noqa: S608
        (d.destination_id, d.app, d.name, d.kind, d.arn, d.account_id, d.region, d.source_name,
         _seq(emu, "notif_destinations")),
    )
    return d


def delete_destination(emu: EmulatorState, destination_id: str) -> None:
    emu.db.execute("DELETE FROM notif_destinations WHERE destination_id = ?", (destination_id,))


def subscription_count(emu: EmulatorState, destination_id: str) -> int:
    row = emu.db.execute("SELECT COUNT(*) FROM notif_subscriptions WHERE destination_id = ?",
                         (destination_id,)).fetchone()
    return int(row[0])


def subscriptions(
    emu: EmulatorState, app: str, seller_id: str, notification_type: str,
    payload_version: str | None = None,
) -> list[Subscription]:
    sql = (f"SELECT {_SCOLS} FROM notif_subscriptions WHERE app = ? AND seller_id = ?"  # noqa: S608
           " AND notification_type = ?")
    args: list[Any] = [app, seller_id, notification_type]
    if payload_version is not None:
        sql += " AND payload_version = ?"
        args.append(payload_version)
    return [_sub(r) for r in emu.db.execute(sql + " ORDER BY seq", args)]


def subscription(emu: EmulatorState, subscription_id: str) -> Subscription | None:
    r = emu.db.execute(f"SELECT {_SCOLS} FROM notif_subscriptions WHERE subscription_id = ?",  # noqa: S608
                       (subscription_id,)).fetchone()
    return None if r is None else _sub(r)


def add_subscription(
    emu: EmulatorState, app: str, seller_id: str, notification_type: str, payload_version: str,
    destination_id: str, directive: dict[str, Any] | None,
) -> Subscription:
    s = Subscription(str(uuid.uuid4()), app, seller_id, notification_type, payload_version,
                     destination_id, directive)
    emu.db.execute(
        f"INSERT INTO notif_subscriptions({_SCOLS}, seq) VALUES (?,?,?,?,?,?,?,?)",  # noqa: S608
        (s.subscription_id, app, seller_id, notification_type, payload_version, destination_id,
         None if directive is None else json.dumps(directive), _seq(emu, "notif_subscriptions")),
    )
    return s


def delete_subscription(emu: EmulatorState, subscription_id: str) -> None:
    emu.db.execute("DELETE FROM notif_subscriptions WHERE subscription_id = ?", (subscription_id,))


def subscribers(emu: EmulatorState, seller_id: str, notification_type: str
                ) -> list[tuple[Subscription, Destination]]:
    """Every (subscription, destination) an event of this seller and type goes to."""
    rows = emu.db.execute(
        f"SELECT {', '.join('s.' + c.strip() for c in _SCOLS.split(','))},"  # noqa: S608
        f" {', '.join('d.' + c.strip() for c in _DCOLS.split(','))}"
        " FROM notif_subscriptions s JOIN notif_destinations d"
        " ON d.destination_id = s.destination_id"
        " WHERE s.seller_id = ? AND s.notification_type = ? ORDER BY s.seq",
        (seller_id, notification_type),
    ).fetchall()
    return [(_sub(r[:7]), _dest(r[7:])) for r in rows]
