"""``POST_ORDER_FULFILLMENT_DATA`` processing: XML envelope -> shipped orders -> XML report.

The input is the MLI guide's ``AmazonEnvelope`` (``MessageType`` ``OrderFulfillment``), one
``Message`` per order. Hardening: the document must be UTF-8 XML without a DTD; any
``<!DOCTYPE``/``<!ENTITY`` (entity expansion, external entities) makes the feed ``FATAL`` before
an XML parser sees it, as does a document that is not well-formed, another root element, another
``MessageType`` or a ``MerchantIdentifier`` that is not the feed owner.

Per message (result in the processing report, the feed stays ``DONE``):

- ``MessageID`` missing, not a positive integer or repeated -> error 5000;
- ``AmazonOrderID`` unknown to this seller -> error 18028;
- the order is already shipped (or cancelled) -> error 18032, nothing changes;
- ``CarrierCode`` missing, ``Other`` without ``CarrierName``, no ``ShipperTrackingNumber`` or a
  ``FulfillmentDate`` that is not ISO 8601 -> error 18116;
- otherwise every remaining unit ships (or only the ``Item`` elements given) and the order
  becomes ``SHIPPED`` (``PARTIALLY_SHIPPED`` when items remain).

The report is Amazon's XML ``ProcessingReport``: ``ProcessingSummary`` counts and one ``Result``
per message with an error, carrying ``AdditionalInfo/AmazonOrderID``. The result codes are
emulator choices (Amazon documents them in Seller Central, not in the models).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .feed_processing import register_feed_type
from .listings_feed import FeedJob, FeedOutcome
from .orders_store import Shipment, owner, ship
from .state import EmulatorState, parse_iso

FEED_TYPE = "POST_ORDER_FULFILLMENT_DATA"
_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
MAX_MESSAGES = 30_000


def _text(el: ET.Element | None, path: str) -> str | None:
    if el is None:
        return None
    found = el.find(path)
    if found is None or found.text is None:
        return None
    v = found.text.strip()
    return v or None


def parse_document(data: bytes) -> ET.Element | str:
    """The envelope root, or why the document is refused (FATAL)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if _FORBIDDEN.search(data):
        return "DTDs and entity declarations are not allowed."
    try:
        root = ET.fromstring(data)  # noqa: S314 (no DTD: checked above)
    except ET.ParseError as e:
        return f"The XML is not well-formed: {e}."
    if root.tag != "AmazonEnvelope":
        return f"The root element must be AmazonEnvelope, not {root.tag}."
    return root


def _report(seller_id: str, feed_id: str, processed: int, ok: int,
            errors: list[tuple[int | None, str, str, str | None]], fatal: str | None = None
            ) -> bytes:
    env = ET.Element("AmazonEnvelope", {
        "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xsi:noNamespaceSchemaLocation": "amzn-envelope.xsd"})
    header = ET.SubElement(env, "Header")
    ET.SubElement(header, "DocumentVersion").text = "1.02"
    ET.SubElement(header, "MerchantIdentifier").text = seller_id
    ET.SubElement(env, "MessageType").text = "ProcessingReport"
    msg = ET.SubElement(env, "Message")
    ET.SubElement(msg, "MessageID").text = "1"
    rep = ET.SubElement(msg, "ProcessingReport")
    ET.SubElement(rep, "DocumentTransactionID").text = feed_id
    ET.SubElement(rep, "StatusCode").text = "Complete"
    summary = ET.SubElement(rep, "ProcessingSummary")
    ET.SubElement(summary, "MessagesProcessed").text = str(processed)
    ET.SubElement(summary, "MessagesSuccessful").text = str(ok)
    ET.SubElement(summary, "MessagesWithError").text = str(len(errors) if fatal is None else 1)
    ET.SubElement(summary, "MessagesWithWarning").text = "0"
    rows = errors if fatal is None else [(0, "5001", fatal, None)]
    for mid, code, desc, order_id in rows:
        res = ET.SubElement(rep, "Result")
        ET.SubElement(res, "MessageID").text = str(mid if mid is not None else 0)
        ET.SubElement(res, "ResultCode").text = "Error"
        ET.SubElement(res, "ResultMessageCode").text = code
        ET.SubElement(res, "ResultDescription").text = desc
        if order_id:
            info = ET.SubElement(res, "AdditionalInfo")
            ET.SubElement(info, "AmazonOrderID").text = order_id
    body: bytes = ET.tostring(env, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def process(emu: EmulatorState, job: FeedJob) -> FeedOutcome:
    root = parse_document(job.document)
    if isinstance(root, str):
        return FeedOutcome("FATAL", _report(job.seller_id, job.feed_id, 0, 0, [], root))
    merchant = _text(root, "Header/MerchantIdentifier")
    mtype = _text(root, "MessageType")
    if merchant != job.seller_id:
        return FeedOutcome("FATAL", _report(job.seller_id, job.feed_id, 0, 0, [],
                                            "Header/MerchantIdentifier is not the feed's seller."))
    if mtype != "OrderFulfillment":
        return FeedOutcome("FATAL", _report(job.seller_id, job.feed_id, 0, 0, [],
                                            "MessageType must be OrderFulfillment."))
    messages = root.findall("Message")
    if not messages or len(messages) > MAX_MESSAGES:
        return FeedOutcome("FATAL", _report(job.seller_id, job.feed_id, 0, 0, [],
                                            f"1 to {MAX_MESSAGES} Message elements required."))
    errors: list[tuple[int | None, str, str, str | None]] = []
    seen: set[int] = set()
    ok = 0
    for m in messages:
        raw_id = _text(m, "MessageID")
        mid = int(raw_id) if raw_id is not None and raw_id.isdigit() and int(raw_id) > 0 else None
        of = m.find("OrderFulfillment")
        order_id = _text(of, "AmazonOrderID")
        if mid is None or mid in seen:
            errors.append((mid, "5000", "MessageID is missing, invalid or repeated.", order_id))
            continue
        seen.add(mid)
        if of is None or order_id is None:
            errors.append((mid, "18116", "OrderFulfillment/AmazonOrderID is required.", None))
            continue
        code = _text(of, "FulfillmentData/CarrierCode")
        name = _text(of, "FulfillmentData/CarrierName")
        tracking = _text(of, "FulfillmentData/ShipperTrackingNumber")
        date = _text(of, "FulfillmentDate")
        problem = None
        if code is None:
            problem = "FulfillmentData/CarrierCode is required."
        elif code == "Other" and name is None:
            problem = "CarrierCode Other requires FulfillmentData/CarrierName."
        elif tracking is None:
            problem = "FulfillmentData/ShipperTrackingNumber is required."
        elif date is None or parse_iso(date) is None:
            problem = "FulfillmentDate must be an ISO 8601 date-time."
        if problem is not None:
            errors.append((mid, "18116", problem, order_id))
            continue
        found = owner(emu, order_id)
        if found is None or found[0] != job.seller_id:
            errors.append((mid, "18028", f"The order id {order_id} was not found.", order_id))
            continue
        if found[2] in ("SHIPPED", "CANCELLED"):
            errors.append((mid, "18032", f"Order {order_id} is already {found[2].lower()}; "
                           "nothing was changed.", order_id))
            continue
        items: dict[str, int] | None = None
        item_els = of.findall("Item")
        if item_els:
            items = {}
            for it in item_els:
                code_ = _text(it, "AmazonOrderItemCode")
                qty = _text(it, "Quantity")
                if code_ is not None:
                    items[code_] = int(qty) if qty and qty.isdigit() else 10**9
        assert code is not None and tracking is not None and date is not None
        ship(emu, order_id, Shipment(code, name, _text(of, "FulfillmentData/ShippingMethod"),
                                     tracking, date), f"feed:{job.feed_id}", items)
        ok += 1
    return FeedOutcome("DONE", _report(job.seller_id, job.feed_id, len(messages), ok, errors))


register_feed_type(FEED_TYPE, process)
