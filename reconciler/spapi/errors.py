"""HTTP status -> the typed errors of ``reconciler.kernel.errors``, parsing Amazon's error bodies.

SP-API errors carry ``{"errors": [{"code", "message", "details"}]}`` (CONTRACT.md §2); LWA
errors carry ``{"error", "error_description"}`` (§1.1). Every message passes through
``redact`` so a registered secret can never reach an exception message, even if a server
echoes it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from reconciler.kernel import redact
from reconciler.kernel.errors import (
    ApiError,
    ApiErrorDetail,
    AuthError,
    InvalidRequestError,
    NotFoundError,
    ServerError,
    ThrottledError,
)

REQUEST_ID_HEADER = "x-amzn-RequestId"
RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"

# Statuses worth retrying: throttling and server-side failures (CONTRACT.md §2).
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def _body_json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def parse_errors(response: httpx.Response) -> tuple[ApiErrorDetail, ...]:
    """Amazon's ``errors`` list (or an LWA ``error``) as ApiErrorDetail values; () if none."""
    data = _body_json(response)
    out: list[ApiErrorDetail] = []
    if isinstance(data, dict):
        errs = data.get("errors")
        if isinstance(errs, list):
            for e in errs:
                if isinstance(e, dict):
                    out.append(
                        ApiErrorDetail(
                            code=redact.redact(str(e.get("code", ""))),
                            message=redact.redact(str(e.get("message", ""))),
                            details=redact.redact(str(e.get("details") or "")),
                        )
                    )
        elif isinstance(data.get("error"), str):
            out.append(
                ApiErrorDetail(
                    code=redact.redact(data["error"]),
                    message=redact.redact(str(data.get("error_description") or "")),
                )
            )
    elif isinstance(data, list):  # e.g. Listings Restrictions' bare-array 400
        for e in data:
            if isinstance(e, dict) and "code" in e:
                out.append(
                    ApiErrorDetail(
                        code=redact.redact(str(e.get("code", ""))),
                        message=redact.redact(str(e.get("message", ""))),
                        details=redact.redact(str(e.get("details") or "")),
                    )
                )
    return tuple(out)


def error_class(status: int) -> type[ApiError]:
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFoundError
    if status == 429:
        return ThrottledError
    if status >= 500:
        return ServerError
    if 400 <= status < 500:
        return InvalidRequestError  # 400/413/415 and the odd 405/409/422
    return ApiError


_SUMMARY = {
    AuthError: "access denied",
    NotFoundError: "not found",
    ThrottledError: "throttled (quota exceeded)",
    ServerError: "server error",
    InvalidRequestError: "invalid request",
}


def error_from_response(response: httpx.Response, operation: str, *, retries: int = 0) -> ApiError:
    """The typed error for a non-2xx response."""
    cls = error_class(response.status_code)
    msg = _SUMMARY.get(cls, "unexpected response")
    if retries:
        msg += f" after {retries} retr{'y' if retries == 1 else 'ies'}"
    return cls(
        msg,
        status=response.status_code,
        operation=operation,
        errors=parse_errors(response),
        request_id=response.headers.get(REQUEST_ID_HEADER, ""),
    )


def error_from_transport(
    exc: httpx.RequestError, operation: str, *, retries: int = 0
) -> ServerError:
    """Connection errors and time-outs are ServerErrors (retried like a 5xx)."""
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    msg = f"{kind} ({type(exc).__name__})"
    if retries:
        msg += f" after {retries} retr{'y' if retries == 1 else 'ies'}"
    return ServerError(msg, status=0, operation=operation)


def is_token_problem(response: httpx.Response) -> bool:
    """A 403 that says the access token expired, was revoked or is invalid (CONTRACT.md §1.2).

    Only those are worth one refresh + retry; a 403 for a missing role is not.
    """
    if response.status_code not in (401, 403):
        return False
    for e in parse_errors(response):
        text = f"{e.code} {e.message} {e.details}".lower()
        if "expired" in text or "token" in text:
            return True
    return False
