"""Feed documents: storage plus the presigned upload/download URLs the emulator serves itself.

Amazon hands out presigned S3 URLs; the emulator hands out URLs under the base URL the client
used (``{base_url}/_emulator/documents/{id}?verb=..&expires=..&sig=..``). A URL is an HMAC over
(verb, document id, expiry, content-encoding flag) with a per-database secret, so it keeps working
across a restart of a file-backed server, and it expires ``document_url_ttl_s`` (300 s, divided by
the time scale) after it was issued.

The two routes behave like S3, not like SP-API: no ``x-amz-access-token``, no quota, XML error
bodies. A PUT whose ``Content-Type`` differs from the ``contentType`` given to
createFeedDocument is ``403 SignatureDoesNotMatch`` (the content type is part of Amazon's
signature); an expired URL is ``403 AccessDenied`` "Request has expired"; a tampered one ``403
SignatureDoesNotMatch``; an unknown or never-uploaded document ``404 NoSuchKey``.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import secrets
import sqlite3
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from .http import Request, Response, Route
from .state import EmulatorState

DOC_PATH = "/_emulator/documents"

SCHEMA = """
CREATE TABLE IF NOT EXISTS feed_documents (
    doc_id TEXT PRIMARY KEY,
    seller_id TEXT NOT NULL,
    kind TEXT NOT NULL,             -- input | result
    content_type TEXT NOT NULL,
    compression TEXT,               -- NULL | GZIP (bytes stored compressed)
    created_at REAL NOT NULL,       -- emu.now()
    uploaded INTEGER NOT NULL DEFAULT 0,
    content BLOB
);
CREATE TABLE IF NOT EXISTS feed_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Document:
    doc_id: str
    seller_id: str
    kind: str
    content_type: str
    compression: str | None
    created_at: float
    uploaded: bool


def init_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
    conn.execute(
        "INSERT OR IGNORE INTO feed_secrets(name, value) VALUES ('url', ?)",
        (secrets.token_hex(32),),
    )


def _secret(emu: EmulatorState) -> bytes:
    row = emu.db.execute("SELECT value FROM feed_secrets WHERE name = 'url'").fetchone()
    return str(row[0]).encode()


def new_document_id(emu: EmulatorState) -> str:
    # Amazon's ids look like amzn1.tortuga.4.na.<uuid>.T<suffix>; clients must not parse them.
    return f"amzn1.tortuga.4.na.{emu.new_id()}.T{secrets.token_hex(4).upper()}"


def create(
    emu: EmulatorState,
    seller_id: str,
    content_type: str,
    *,
    kind: str = "input",
    content: bytes | None = None,
    compression: str | None = None,
) -> str:
    doc_id = new_document_id(emu)
    emu.db.execute(
        "INSERT INTO feed_documents(doc_id, seller_id, kind, content_type, compression,"
        " created_at, uploaded, content) VALUES (?,?,?,?,?,?,?,?)",
        (doc_id, seller_id, kind, content_type, compression, emu.now(),
         int(content is not None), content),
    )
    return doc_id


def store_result(emu: EmulatorState, seller_id: str, report: bytes) -> str:
    """Store a processing report GZIP-compressed, as Amazon does; returns its document id."""
    packed = gzip.compress(report, mtime=0)
    return create(emu, seller_id, "application/json", kind="result", content=packed,
                  compression="GZIP")


def get(emu: EmulatorState, doc_id: str) -> Document | None:
    row = emu.db.execute(
        "SELECT doc_id, seller_id, kind, content_type, compression, created_at, uploaded"
        " FROM feed_documents WHERE doc_id = ?",
        (doc_id,),
    ).fetchone()
    if row is None:
        return None
    return Document(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]))


def content(emu: EmulatorState, doc_id: str) -> bytes | None:
    """The stored bytes (still compressed for GZIP documents)."""
    row = emu.db.execute(
        "SELECT content FROM feed_documents WHERE doc_id = ?", (doc_id,)
    ).fetchone()
    return None if row is None or row[0] is None else bytes(row[0])


def _sign(emu: EmulatorState, verb: str, doc_id: str, expires: str, ce: str) -> str:
    msg = f"{verb}\n{doc_id}\n{expires}\n{ce}".encode()
    return hmac.new(_secret(emu), msg, hashlib.sha256).hexdigest()[:40]


def presigned_url(
    emu: EmulatorState, base_url: str, doc_id: str, verb: str, *, gzip_header: bool = False
) -> str:
    """A URL for ``verb`` (PUT upload / GET download) valid for the scaled document URL TTL."""
    expires = f"{emu.now() + emu.config.scaled(emu.config.document_url_ttl_s):.3f}"
    ce = "gzip" if gzip_header else ""
    query = {"verb": verb, "expires": expires}
    if ce:
        query["ce"] = ce
    query["sig"] = _sign(emu, verb, doc_id, expires, ce)
    return f"{base_url.rstrip('/')}{DOC_PATH}/{quote(doc_id, safe='')}?{urlencode(query)}"


def s3_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    )
    return Response(status, body.encode(), {"content-type": "application/xml"})


def _check_url(emu: EmulatorState, req: Request, doc_id: str, verb: str) -> Response | None:
    expires = req.q("expires") or ""
    ce = req.q("ce") or ""
    sig = req.q("sig") or ""
    if req.q("verb") != verb or not hmac.compare_digest(
        sig, _sign(emu, verb, doc_id, expires, ce)
    ):
        return s3_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    try:
        expired = emu.arrived > float(expires)  # judged on arrival, as S3 does
    except ValueError:
        expired = True
    if expired:
        return s3_error(403, "AccessDenied", "Request has expired")
    return None


def upload(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    doc_id = params["documentId"]
    doc = get(emu, doc_id)
    if doc is None or doc.kind != "input":
        return s3_error(404, "NoSuchKey", "The specified key does not exist.")
    bad = _check_url(emu, req, doc_id, "PUT")
    if bad is not None:
        return bad
    sent = req.headers.get("content-type", "")
    if sent != doc.content_type:
        # The content type is a signed header of Amazon's presigned URL.
        return s3_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            f"Content-Type must be exactly {doc.content_type!r} (got {sent!r}).",
        )
    emu.db.execute(
        "UPDATE feed_documents SET content = ?, uploaded = 1 WHERE doc_id = ?", (req.body, doc_id)
    )
    etag = hashlib.md5(req.body, usedforsecurity=False).hexdigest()
    return Response(200, b"", {"etag": f'"{etag}"'})


def download(emu: EmulatorState, req: Request, params: dict[str, str]) -> Response:
    doc_id = params["documentId"]
    doc = get(emu, doc_id)
    if doc is None:
        return s3_error(404, "NoSuchKey", "The specified key does not exist.")
    bad = _check_url(emu, req, doc_id, "GET")
    if bad is not None:
        return bad
    data = content(emu, doc_id)
    if data is None:
        return s3_error(404, "NoSuchKey", "The specified key does not exist.")
    headers = {
        "content-type": doc.content_type,
        "last-modified": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
    }
    if doc.compression == "GZIP":
        # Default: the gzip bytes as an opaque object (client gunzips, compressionAlgorithm
        # says so); with enableContentEncodingUrlHeader the URL serves Content-Encoding: gzip.
        headers["content-encoding"] = "gzip" if req.q("ce") == "gzip" else "identity"
    return Response(200, data, headers)


ROUTES: list[Route] = [
    Route("PUT", DOC_PATH + "/{documentId}", "uploadFeedDocument", upload, auth=False,
          quota=False),
    Route("GET", DOC_PATH + "/{documentId}", "downloadFeedDocument", download, auth=False,
          quota=False),
]
