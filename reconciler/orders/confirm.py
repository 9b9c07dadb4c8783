"""``orders confirm --shipments FILE``: warehouse shipments -> POST_ORDER_FULFILLMENT_DATA.

1. **Parse** the warehouse export (CSV, header ``order_id,carrier,method,tracking_number,
   ship_date``; extra columns ignored). Every broken line gets an error with its line number and
   is left out: unknown order (not in the local state: run ``orders pull``), missing carrier or
   tracking number, a ship date that is not ``YYYY-MM-DD`` or ISO 8601, a ship date in the
   future, or a duplicate line (the same order id again: one shipment line per order).
2. **Skip** orders already confirmed or in a submitted feed (local state): never twice.
3. **Build** the MLI guide's ``AmazonEnvelope`` (``OrderFulfillment`` messages): carriers are
   mapped to Amazon's ``CarrierCode`` values (case/spacing-insensitive, a few aliases); any other
   carrier is ``CarrierCode`` ``Other`` + ``CarrierName``. The envelope is then **validated**
   (re-parsed, every required element, ids and dates checked) before anything is sent.
4. **Submit** one feed per account (its orders' marketplaces), recording the orders as
   ``submitted`` before the feed is created; **follow** the feed to DONE/FATAL, read the XML
   processing report and map each ``Result`` back to its order: ``confirmed`` or ``rejected``
   with Amazon's message. A run that stopped early resumes the unfinished feeds first.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.kernel.errors import ApiError, InvalidRequestError, ReconcilerError
from reconciler.kernel.model import Account
from reconciler.spapi.client import SpApiClient
from reconciler.spapi.orders import submit_fulfillment_feed

from .state import OrderState

COLUMNS = ("order_id", "carrier", "method", "tracking_number", "ship_date")
MAX_FILE_BYTES = 20 * 1024 * 1024
ORDER_ID = re.compile(r"^\d{3}-\d{7}-\d{7}$")
# CarrierCode values of Amazon's amzn-base.xsd that sellers here use (not the whole list).
KNOWN_CARRIERS = (
    "USPS", "UPS", "UPSMI", "FedEx", "FedEx SmartPost", "DHL", "DHL eCommerce", "DHL Global Mail",
    "OnTrac", "Lasership", "Canada Post", "Purolator", "Canpar", "Estafeta", "Royal Mail",
    "Parcelforce", "Yodel", "DPD", "Hermes", "GLS", "Deutsche Post", "TNT", "Chronopost",
    "Colissimo", "Correos", "SEUR", "Poste Italiane", "Japan Post", "Yamato Transport",
    "Australia Post", "Amazon Shipping",
)
CARRIER_ALIASES = {
    "unitedstatespostalservice": "USPS", "fedexground": "FedEx", "federalexpress": "FedEx",
    "postescanada": "Canada Post", "dhlexpress": "DHL", "dhlpaket": "DHL",
    "royalmailtracked": "Royal Mail", "evri": "Hermes", "hermesuk": "Hermes",
    "correosdemexico": "Correos",
}
FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
TERMINAL = ("DONE", "FATAL", "CANCELLED")


class ShipmentsFileError(ReconcilerError):
    """The shipments file cannot be read at all (missing columns, not CSV, too large)."""


@dataclass(frozen=True)
class Shipment:
    line: int
    order_id: str
    carrier: str
    method: str
    tracking_number: str
    ship_date: str  # ISO 8601 with offset, as sent in FulfillmentDate


@dataclass(frozen=True)
class LineError:
    line: int
    order_id: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.order_id or '(no order id)'}: {self.message}"


@dataclass(frozen=True)
class Outcome:
    order_id: str
    line: int
    outcome: str  # confirmed | rejected | error | skipped | pending | unknown
    message: str = ""


@dataclass
class ConfirmResult:
    outcomes: list[Outcome] = field(default_factory=list)
    feeds: dict[str, str] = field(default_factory=dict)  # feed id -> final status
    documents: dict[str, bytes] = field(default_factory=dict)  # account -> envelope sent
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)


# -- carriers and dates ------------------------------------------------------------------------


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.casefold())


_BY_KEY = {_norm(c): c for c in KNOWN_CARRIERS}


def carrier_code(carrier: str) -> tuple[str, str | None]:
    """(CarrierCode, CarrierName or None): a known carrier maps to its code, anything else is
    ``Other`` + the name as written."""
    key = _norm(carrier)
    code = _BY_KEY.get(key) or CARRIER_ALIASES.get(key)
    if code is not None:
        return code, None
    return "Other", carrier.strip()


def parse_ship_date(raw: str) -> str | None:
    """``YYYY-MM-DD`` (noon UTC) or ISO 8601 date-time -> ``2023-01-01T01:01:01+00:00``."""
    v = raw.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            d = _dt.datetime.fromisoformat(v).replace(hour=12, tzinfo=_dt.timezone.utc)
        else:
            d = _dt.datetime.fromisoformat(v[:-1] + "+00:00" if v.endswith(("Z", "z")) else v)
            if d.tzinfo is None:
                d = d.replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        return None
    return d.astimezone(_dt.timezone.utc).isoformat(timespec="seconds")


# -- the shipments file ------------------------------------------------------------------------


def parse_shipments(text: str, known: Callable[[str], bool], *, now: float | None = None
                    ) -> tuple[list[Shipment], list[LineError]]:
    """Shipments and per-line errors (line numbers are the file's, header = line 1)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ShipmentsFileError("the shipments file is empty: expected the header "
                                 + ",".join(COLUMNS)) from None
    except csv.Error as e:
        raise ShipmentsFileError(f"the shipments file is not CSV: {e}") from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ShipmentsFileError(f"line 1: missing column(s) {', '.join(missing)} (header must"
                                 f" have {','.join(COLUMNS)})")
    idx = {c: header.index(c) for c in COLUMNS}
    latest = (now if now is not None else time.time()) + 86400  # time zones: a day of slack
    ok: list[Shipment] = []
    errors: list[LineError] = []
    first_line: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(c.strip() for c in row):
                continue
            vals = {c: (row[i].strip() if i < len(row) else "") for c, i in idx.items()}
            oid = vals["order_id"]
            problem = None
            if not oid:
                problem = "order_id is missing"
            elif oid in first_line:
                problem = f"duplicate line: order {oid} is already on line {first_line[oid]}"
            elif not known(oid):
                problem = f"unknown order {oid} (not pulled: run `reconciler orders pull`)"
            elif not vals["carrier"]:
                problem = "carrier is missing"
            elif not vals["tracking_number"]:
                problem = "tracking_number is missing"
            if oid and oid not in first_line:
                first_line[oid] = line
            date = parse_ship_date(vals["ship_date"]) if problem is None else None
            if problem is None and date is None:
                problem = (f"bad ship_date {vals['ship_date']!r} (expected YYYY-MM-DD or ISO"
                           " 8601 date-time)" if vals["ship_date"] else "ship_date is missing")
            if problem is None and date is not None and \
                    _dt.datetime.fromisoformat(date).timestamp() > latest:
                problem = f"ship_date {vals['ship_date']} is in the future"
            if problem is not None:
                errors.append(LineError(line, oid, problem))
                continue
            assert date is not None
            ok.append(Shipment(line, oid, vals["carrier"], vals["method"],
                               vals["tracking_number"], date))
    except csv.Error as e:
        raise ShipmentsFileError(f"line {reader.line_num}: not valid CSV: {e}") from None
    return ok, errors


# -- the envelope ------------------------------------------------------------------------------


def build_envelope(merchant_id: str, shipments: Sequence[Shipment]) -> bytes:
    """The MLI guide's POST_ORDER_FULFILLMENT_DATA document, MessageID 1..n in order."""
    env = ET.Element("AmazonEnvelope", {"xmlns:xsd": "http://www.w3.org/2001/XMLSchema",
                                        "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance"})
    header = ET.SubElement(env, "Header")
    ET.SubElement(header, "DocumentVersion").text = "1.01"
    ET.SubElement(header, "MerchantIdentifier").text = merchant_id
    ET.SubElement(env, "MessageType").text = "OrderFulfillment"
    for n, s in enumerate(shipments, 1):
        msg = ET.SubElement(env, "Message")
        ET.SubElement(msg, "MessageID").text = str(n)
        of = ET.SubElement(msg, "OrderFulfillment")
        ET.SubElement(of, "AmazonOrderID").text = s.order_id
        ET.SubElement(of, "FulfillmentDate").text = s.ship_date
        data = ET.SubElement(of, "FulfillmentData")
        code, name = carrier_code(s.carrier)
        ET.SubElement(data, "CarrierCode").text = code
        if name is not None:
            ET.SubElement(data, "CarrierName").text = name
        if s.method:
            ET.SubElement(data, "ShippingMethod").text = s.method
        ET.SubElement(data, "ShipperTrackingNumber").text = s.tracking_number
    ET.indent(env)
    body: bytes = ET.tostring(env, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body + b"\n"


def safe_parse(data: bytes) -> ET.Element:
    """Parse XML we send or receive: no DTD, no entity declarations, well-formed."""
    if FORBIDDEN.search(data):
        raise ValueError("XML with a DTD or entity declarations is refused")
    return ET.fromstring(data)  # noqa: S314 (no DTD: checked above)


def validate_envelope(data: bytes) -> list[str]:
    """Problems of an OrderFulfillment envelope (empty list: valid)."""
    try:
        root = safe_parse(data)
    except (ValueError, ET.ParseError) as e:
        return [f"not well-formed: {e}"]
    p: list[str] = []
    if root.tag != "AmazonEnvelope":
        p.append("root element must be AmazonEnvelope")
    if (root.findtext("Header/DocumentVersion") or "").strip() != "1.01":
        p.append("Header/DocumentVersion must be 1.01")
    if not (root.findtext("Header/MerchantIdentifier") or "").strip():
        p.append("Header/MerchantIdentifier is required")
    if (root.findtext("MessageType") or "").strip() != "OrderFulfillment":
        p.append("MessageType must be OrderFulfillment")
    messages = root.findall("Message")
    if not messages:
        p.append("at least one Message is required")
    allowed = {*KNOWN_CARRIERS, "Other"}
    for n, m in enumerate(messages, 1):
        where = f"Message {n}"
        if (m.findtext("MessageID") or "").strip() != str(n):
            p.append(f"{where}: MessageID must be {n}")
        oid = (m.findtext("OrderFulfillment/AmazonOrderID") or "").strip()
        if not ORDER_ID.fullmatch(oid):
            p.append(f"{where}: AmazonOrderID {oid!r} is not an Amazon order id")
        date = (m.findtext("OrderFulfillment/FulfillmentDate") or "").strip()
        if parse_ship_date(date) is None or "T" not in date:
            p.append(f"{where}: FulfillmentDate {date!r} is not an ISO 8601 date-time")
        code = (m.findtext("OrderFulfillment/FulfillmentData/CarrierCode") or "").strip()
        if code not in allowed:
            p.append(f"{where}: CarrierCode {code!r} is not a known code (use Other)")
        name = (m.findtext("OrderFulfillment/FulfillmentData/CarrierName") or "").strip()
        if code == "Other" and not name:
            p.append(f"{where}: CarrierCode Other needs CarrierName")
        tracking = (m.findtext("OrderFulfillment/FulfillmentData/ShipperTrackingNumber")
                    or "").strip()
        if not tracking or len(tracking) > 200:
            p.append(f"{where}: ShipperTrackingNumber is required (1 to 200 characters)")
    return p


# -- processing report -------------------------------------------------------------------------


def parse_report(data: bytes) -> dict[int, str]:
    """MessageID -> error description from an XML ProcessingReport (messages absent from the
    result are successful). MessageID 0 is a whole-document error."""
    root = safe_parse(data)
    out: dict[int, str] = {}
    for res in root.iter("Result"):
        if (res.findtext("ResultCode") or "").strip() != "Error":
            continue
        mid = (res.findtext("MessageID") or "0").strip()
        desc = (res.findtext("ResultDescription") or "").strip()
        code = (res.findtext("ResultMessageCode") or "").strip()
        out[int(mid) if mid.isdigit() else 0] = f"{code}: {desc}" if code else desc
    return out


# -- the run -----------------------------------------------------------------------------------


def _follow(client: SpApiClient, feed_id: str, *, timeout_s: float, poll_s: float,
            sleep: Callable[[float], None], clock: Callable[[], float]) -> tuple[str, bytes | None]:
    deadline = clock() + timeout_s
    delay = poll_s
    while True:
        feed = client.get_feed(feed_id)
        status = str(feed.get("processingStatus", ""))
        if status in TERMINAL:
            doc_id = feed.get("resultFeedDocumentId")
            if not doc_id:
                return status, None
            doc = client.get_feed_document(str(doc_id))
            return status, client.download_feed_document(doc)
        if clock() >= deadline:
            return status or "IN_QUEUE", None
        sleep(min(delay, max(0.0, deadline - clock())))
        delay = min(delay * 2, 60.0 / max(client.rate_scale, 1e-9))


def _settle(state: OrderState, feed_id: str, order_ids: Sequence[str], status: str,
            report: bytes | None, lines: Mapping[str, int], result: ConfirmResult) -> None:
    result.feeds[feed_id] = status
    if status not in TERMINAL:
        for oid in order_ids:
            result.outcomes.append(Outcome(oid, lines.get(oid, 0), "pending",
                                           f"feed {feed_id} is {status}; re-run to follow it"))
        return
    try:
        errors = parse_report(report) if report is not None else {}
    except (ValueError, ET.ParseError) as e:
        errors = {0: f"unreadable processing report: {e}"}
    whole = errors.get(0)
    for n, oid in enumerate(order_ids, 1):
        why = errors.get(n) or (whole if status != "DONE" else None)
        if status != "DONE" and why is None:
            why = f"feed {feed_id} ended {status}"
        if why is None:
            state.settle(oid, "confirmed")
            result.outcomes.append(Outcome(oid, lines.get(oid, 0), "confirmed",
                                           f"feed {feed_id}"))
        else:
            state.settle(oid, "rejected", why)
            result.outcomes.append(Outcome(oid, lines.get(oid, 0), "rejected", why))


def confirm(text: str, accounts: Sequence[Account], clients: Mapping[str, SpApiClient],
            state: OrderState, *, timeout_s: float = 900.0, poll_s: float = 15.0,
            sleep: Callable[[float], None] | None = None,
            clock: Callable[[], float] = time.monotonic) -> ConfirmResult:
    """Confirm the shipments of ``text`` (see the module docstring)."""
    start = clock()
    result = ConfirmResult()
    by_name = {a.name: a for a in accounts}

    def pause(client: SpApiClient) -> Callable[[float], None]:
        if sleep is not None:
            return sleep
        return lambda s: time.sleep(s / max(client.rate_scale, 1e-9))

    # 1. feeds a previous run submitted but did not follow to the end
    for feed_id, oids in state.unfinished_feeds().items():
        conf = state.confirmation(oids[0])
        if conf is None or conf.account not in clients:
            continue
        client = clients[conf.account]
        status, report = _follow(client, feed_id, timeout_s=timeout_s, poll_s=poll_s,
                                 sleep=pause(client), clock=clock)
        _settle(state, feed_id, oids, status, report, {}, result)

    # 2. the file
    shipments, errors = parse_shipments(text, lambda oid: state.get(oid) is not None)
    result.outcomes.extend(Outcome(e.order_id, e.line, "error", e.message) for e in errors)
    todo: dict[str, list[Shipment]] = {}
    for s in shipments:
        prev = state.confirmation(s.order_id)
        if prev is not None and prev.state == "submitted" and prev.feed_id is None:
            result.outcomes.append(Outcome(
                s.order_id, s.line, "unknown",
                "a previous run stopped before its feed id was recorded: check the order in"
                " Seller Central; it is never re-sent automatically"))
            continue
        if prev is not None and prev.state in ("submitted", "confirmed"):
            if not any(o.order_id == s.order_id for o in result.outcomes):
                result.outcomes.append(Outcome(
                    s.order_id, s.line, "skipped",
                    f"already {prev.state}" + (f" (feed {prev.feed_id})" if prev.feed_id else "")
                    + ": never confirmed twice"))
            continue
        order = state.get(s.order_id)
        assert order is not None
        if order.account not in by_name or order.account not in clients:
            result.outcomes.append(Outcome(s.order_id, s.line, "error",
                                           f"account {order.account} is not configured"))
            continue
        todo.setdefault(order.account, []).append(s)

    # 3. one validated envelope and one feed per account
    for account, items in sorted(todo.items()):
        acc, client = by_name[account], clients[account]
        doc = build_envelope(acc.seller_id, items)
        problems = validate_envelope(doc)
        if problems:
            for s in items:
                result.outcomes.append(Outcome(s.order_id, s.line, "error",
                                               "envelope invalid: " + "; ".join(problems[:3])))
            continue
        result.documents[account] = doc
        lines = {s.order_id: s.line for s in items}
        mps = sorted({o.marketplace_id for s in items if (o := state.get(s.order_id))})
        state.mark_submitting((s.order_id, account, s.carrier, s.tracking_number) for s in items)
        ids = [s.order_id for s in items]
        try:
            feed_id = submit_fulfillment_feed(client, doc, mps)
        except InvalidRequestError as e:  # refused: certainly not created
            for s in items:
                state.settle(s.order_id, "rejected", str(e))
                result.outcomes.append(Outcome(s.order_id, s.line, "rejected", str(e)))
            continue
        except ApiError as e:  # maybe created: do not resubmit blindly
            for s in items:
                result.outcomes.append(Outcome(
                    s.order_id, s.line, "unknown",
                    f"feed submission failed ({e}); check Seller Central before re-sending"))
            continue
        state.set_feed(ids, feed_id)
        status, report = _follow(client, feed_id, timeout_s=timeout_s, poll_s=poll_s,
                                 sleep=pause(client), clock=clock)
        _settle(state, feed_id, ids, status, report, lines, result)
    result.seconds = clock() - start
    return result
