"""One error tree for the whole tool.

Every error a user can cause or act on is a :class:`ReconcilerError`. The CLI
(`reconciler.cli`) is the only place that turns these into messages and exit
codes; library code raises and never prints. Messages carry catalog values, so
the CLI prints each line through :func:`reconciler.kernel.redact.escape` (and
:class:`Problem` escapes its parts itself).

::

    ReconcilerError              exit 1  one line (or a list of problems), no traceback
    ├── CatalogError             exit 1  every problem with file:line, collected first
    ├── CredentialsError         exit 1  an env/NAME reference is unset when needed
    ├── PlanError                exit 1
    │   ├── UnsafePlanError      exit 1  a safety threshold or rule tripped; names the setting
    │   └── StalePlanError       exit 1  a reviewed write no longer holds; names listing + field
    ├── LockHeldError            exit 1  another apply holds the account lock; names it
    ├── NotConvergedError        exit 1  apply ended with listings not converged (table)
    ├── ApprovalRequiredError    exit 1  apply needs --auto-approve without a TTY
    └── ApiError                 exit 1  an SP-API call failed; carries Amazon's error body
        ├── AuthError                    401/403 and LWA token errors
        ├── NotFoundError                404
        ├── ThrottledError               429 (after bounded retries)
        ├── InvalidRequestError          400/413/415
        └── ServerError                  5xx, resets and time-outs (after bounded retries)

    any other exception          exit 3  "unexpected error (a bug)"; traceback in a log file

`plan --detailed-exitcode` additionally exits 2 when the plan has changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.kernel.redact import escape

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_BUG = 3


@dataclass(frozen=True, order=True)
class Problem:
    """One problem at a place in the catalog. ``line``/``column`` are 1-based."""

    file: str
    line: int = 0
    column: int = 0
    message: str = ""
    context: str = ""  # e.g. 'SKU "MUG-001" (MX)'

    def location(self) -> str:
        if self.line:
            return f"{escape(self.file)}, line {self.line}, column {self.column}"
        return escape(self.file)

    def __str__(self) -> str:
        """One line, every catalog value in it escaped (file names, SKUs, stock.csv cells are
        hostile input: no control characters, no newline that could start a fake CI log
        line)."""
        ctx = f"{escape(self.context)}: " if self.context else ""
        return f"{self.location()}: {ctx}{escape(self.message)}"


class ReconcilerError(Exception):
    """Base of every expected error. ``str(e)`` is the message shown to the user."""

    hint: str = ""

    def lines(self) -> list[str]:
        """The lines the CLI prints for this error (first line is the summary)."""
        out = [str(self)]
        if self.hint:
            out.append(f"hint: {self.hint}")
        return out


class CatalogError(ReconcilerError):
    """The catalog is invalid. Carries every problem found, sorted by place."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...], summary: str = "") -> None:
        self.problems = tuple(sorted(problems))
        n = len(self.problems)
        self.summary = summary or f"catalog is invalid: {n} problem{'s' if n != 1 else ''}"
        super().__init__(self.summary)

    def lines(self) -> list[str]:
        return [self.summary, *(f"  - {p}" for p in self.problems)]


class CredentialsError(ReconcilerError):
    """A credential reference (``env/NAME``) cannot be resolved. Never carries the value."""


class PlanError(ReconcilerError):
    """The plan cannot be produced or used."""


class UnsafePlanError(PlanError):
    def __init__(self, reasons: list[str]) -> None:
        self.reasons = tuple(reasons)
        super().__init__("plan is unsafe, --force required")

    def lines(self) -> list[str]:
        return [str(self), *(f"  - {r}" for r in self.reasons)]


class StalePlanError(PlanError):
    """A reviewed plan whose writes no longer hold: names exactly those listings and fields
    (one line each), and nothing else."""

    def __init__(self, listings: list[str], detail: str = "") -> None:
        self.listings = tuple(listings)
        msg = f"the reviewed plan no longer holds for {len(self.listings)} write(s)"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)

    SHOWN = 100  # lines named; the rest counted

    def lines(self) -> list[str]:
        more = len(self.listings) - self.SHOWN
        return [
            str(self),
            *(f"  - {name}" for name in self.listings[: self.SHOWN]),
            *([f"  … and {more} more"] if more > 0 else []),
            "hint: run `reconciler plan` again, review it, and apply the new plan",
        ]


class LockHeldError(ReconcilerError):
    pass


class NotConvergedError(ReconcilerError):
    def __init__(self, message: str, table: list[str] | None = None) -> None:
        self.table = tuple(table or ())
        super().__init__(message)

    def lines(self) -> list[str]:
        return [str(self), *self.table]


class ApprovalRequiredError(ReconcilerError):
    pass


@dataclass(frozen=True)
class ApiErrorDetail:
    code: str
    message: str
    details: str = ""


class ApiError(ReconcilerError):
    """An SP-API (or LWA) call failed. ``errors`` is Amazon's ``{"errors": [...]}`` list."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        operation: str = "",
        errors: tuple[ApiErrorDetail, ...] = (),
        request_id: str = "",
    ) -> None:
        self.status = status
        self.operation = operation
        self.errors = errors
        self.request_id = request_id
        super().__init__(message)

    def __str__(self) -> str:
        parts = [self.args[0] if self.args else "SP-API error"]
        if self.operation:
            parts.insert(0, f"{self.operation}:")
        if self.status:
            parts.append(f"(HTTP {self.status}")
            if self.request_id:
                parts[-1] += f", request id {self.request_id}"
            parts[-1] += ")"
        for e in self.errors:
            parts.append(f"[{e.code}] {e.message}{' - ' + e.details if e.details else ''}")
        return " ".join(parts)


class AuthError(ApiError):
    hint = "check LWA_APP_ID, LWA_CLIENT_SECRET and SP_API_REFRESH_TOKEN for this account"


class NotFoundError(ApiError):
    pass


class ThrottledError(ApiError):
    hint = "Amazon's quota was exceeded after bounded retries; run again later"


class InvalidRequestError(ApiError):
    pass


class ServerError(ApiError):
    hint = "Amazon (or the network) failed after bounded retries; run again later"
