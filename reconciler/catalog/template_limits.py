"""Limits on what a catalog template may compute: time, work, sizes, includes.

A template comes from a pull request, so it is hostile code that must finish quickly and small
whatever it does (``validate`` runs as a pre-commit hook and in CI). The jinja2 sandbox stops
attribute walks, not work. :mod:`reconciler.texts` installs these limits on its sandbox:

- **time**: every render has a deadline (:data:`MAX_RENDER_SECONDS`); every operation the
  template performs (a call, an attribute or item lookup, an intercepted operator, a filter, a
  test, an include) checks it, so a loop that never prints is stopped too;
- **work**: the size of every string or list an operation builds is charged to the render, up
  to :data:`MAX_RENDER_WORK` characters/items in total (a list literal of a thousand
  ``'x' * 20000`` is as refused as one huge string);
- **sizes**: each operation whose arguments set its result's size (``*``, ``+``, ``**``, joins,
  ``expandtabs``, ``center``/``ljust``/``rjust``/``zfill``, ``replace``, ``wordwrap``,
  ``indent``, ``format`` and ``%`` widths and precisions) is checked *before* it runs, so a
  bomb never allocates; widths taken from data (``%*d``, ``{:{w}}``) are refused; integers stay
  below :data:`MAX_INT_BITS` bits (towers of ``**``);
- **includes**: at most :data:`MAX_INCLUDES` per render (include fan-out).

Filters that only make HTML or dumps (``urlize``, ``xmlattr``, ``tojson``, ``pprint``) are
removed; they have no place in a listing text and multiply their arguments.

Pure: no I/O (the monotonic clock is read to bound time, nothing else).
"""

from __future__ import annotations

import contextvars
import re
import string
import time
from collections.abc import Callable
from numbers import Number
from typing import Any

from jinja2.exceptions import SecurityError

MAX_RENDER_SECONDS = 0.5  # one render
MAX_RENDER_WORK = 2_000_000  # characters/items built by one render, in total
MAX_SEQUENCE = 20_000  # the largest string/list one operation may build
MAX_FORMAT_WIDTH = 1_000  # a format width or precision
MAX_INT_BITS = 4_096  # integers a template may compute (about 1,200 digits)
MAX_INCLUDES = 64  # includes/imports/extends per render
MAX_FILTER_ARG = MAX_SEQUENCE  # a number given to a filter (batch, slice, truncate ...)
REMOVED_FILTERS = ("urlize", "xmlattr", "tojson", "pprint")
# Filters whose numeric arguments are values, not sizes.
_VALUE_ARG_FILTERS = frozenset({"format", "default", "d", "replace", "join", "int", "float",
                                "round", "sum"})


class LimitExceeded(SecurityError):
    """A template went over one of the limits (time, work, size, includes)."""


class Budget:
    """One render's allowance; mutable, used by one thread (a plain class: it is made for
    every render of a 100,000-listing catalog)."""

    __slots__ = ("deadline", "includes", "work")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.work = 0
        self.includes = 0


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "reconciler_template_budget", default=None
)
_clock = time.monotonic


def start(seconds: float = MAX_RENDER_SECONDS) -> contextvars.Token[Budget | None]:
    """Give the current render its allowance; pass the token to :func:`stop`."""
    return _current.set(Budget(_clock() + seconds))


def stop(token: contextvars.Token[Budget | None]) -> None:
    _current.reset(token)


def tick() -> None:
    """Stop the render when its time is up (called by every operation of a template)."""
    b = _current.get()
    if b is not None and _clock() > b.deadline:
        raise LimitExceeded(
            f"the template ran longer than {MAX_RENDER_SECONDS:g} s (a loop that never ends?)"
        )


def charge(result: Any) -> Any:
    """Count the size of what an operation built against the render's work allowance."""
    b = _current.get()
    if b is not None and isinstance(result, (str, list, tuple, dict)):
        b.work += len(result)
        if b.work > MAX_RENDER_WORK:
            raise LimitExceeded(
                f"the template builds more than {MAX_RENDER_WORK:,} characters in total"
            )
    return result


def count_include() -> None:
    b = _current.get()
    if b is not None:
        b.includes += 1
        if b.includes > MAX_INCLUDES:
            raise LimitExceeded(f"more than {MAX_INCLUDES} includes in one render (fan-out)")


def _too_big(what: str) -> LimitExceeded:
    return LimitExceeded(f"{what} would build a value longer than {MAX_SEQUENCE:,} characters")


def _size(x: Any) -> int:
    return len(x) if isinstance(x, (str, list, tuple)) else 0


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


# --------------------------------------------------------------------------- operators


def check_binop(op: str, left: Any, right: Any) -> None:
    if op == "**":
        if not _is_int(right) or abs(right) > 64:
            raise LimitExceeded("exponent too large in a template")
        if _is_int(left) and right > 0 and max(abs(left).bit_length(), 1) * right > MAX_INT_BITS:
            raise LimitExceeded(f"a number over {MAX_INT_BITS} bits (a tower of **)")
    elif op == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and _is_int(n) and len(seq) * n > MAX_SEQUENCE:
                raise _too_big("'*'")
        if _is_int(left) and _is_int(right) and (
            abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS
        ):
            raise LimitExceeded(f"a number over {MAX_INT_BITS} bits")
    elif op == "+":
        if _size(left) + _size(right) > MAX_SEQUENCE:
            raise _too_big("'+'")
        if _is_int(left) and _is_int(right) and (
            max(abs(left).bit_length(), abs(right).bit_length()) >= MAX_INT_BITS
        ):
            raise LimitExceeded(f"a number over {MAX_INT_BITS} bits")
    elif op == "%" and isinstance(left, str):
        check_percent_format(left, right)


# --------------------------------------------------------------------------- formats

_PERCENT = re.compile(
    r"%(?:\([^)]*\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d+))?[hlL]?(?P<type>.)",
    re.DOTALL,
)
_DIGITS = re.compile(r"\d+")


def check_percent_format(fmt: str, args: Any = ()) -> None:
    """``fmt % args``: no width or precision from data, none over MAX_FORMAT_WIDTH."""
    for m in _PERCENT.finditer(fmt):
        if m.group("type") == "%" and not (m.group("width") or m.group("prec")):
            continue
        for part in (m.group("width"), m.group("prec")):
            if part == "*":
                raise LimitExceeded("a format width taken from data ('*') is not allowed")
            if part and int(part) > MAX_FORMAT_WIDTH:
                raise _too_big(f"a format width of {part}")


def check_brace_format(fmt: str) -> None:
    """``fmt.format(...)``: no nested fields in a spec (widths from data), none too wide."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError as e:
        raise LimitExceeded(f"malformed format string: {e}") from None
    for _literal, name, spec, _conv in fields:
        if name is None or not spec:
            continue
        if "{" in spec:
            raise LimitExceeded("a format width taken from data ('{:{w}}') is not allowed")
        for d in _DIGITS.findall(spec):
            if int(d) > MAX_FORMAT_WIDTH:
                raise _too_big(f"a format width of {d}")


# --------------------------------------------------------------------------- str methods


def _join_size(sep: str, items: list[Any]) -> int:
    return sum(len(str(i)) for i in items) + len(sep) * max(len(items) - 1, 0)


def check_str_call(
    s: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Refuse str methods whose result size the arguments can blow up; returns the arguments
    to call with (an iterable given to ``join`` is read once, here)."""
    values = [*args, *kwargs.values()]
    if method in ("translate", "maketrans"):
        raise LimitExceeded(f"str.{method} is not allowed in catalog templates")
    if method in ("center", "ljust", "rjust", "zfill") and any(
        _is_int(v) and v > MAX_SEQUENCE for v in values
    ):
        raise _too_big(f"str.{method}")
    if method == "expandtabs":
        size = values[0] if values else 8
        if not _is_int(size) or len(s) + s.count("\t") * max(size, 0) > MAX_SEQUENCE:
            raise _too_big("str.expandtabs")
    if method == "replace" and len(args) >= 2 and isinstance(args[0], str):
        old, new = args[0], str(args[1])
        hits = s.count(old) if old else len(s) + 1
        if len(s) + hits * max(0, len(new) - len(old)) > MAX_SEQUENCE:
            raise _too_big("str.replace")
    if method in ("format", "format_map"):
        check_brace_format(s)
    if method == "join" and args:
        items = list(args[0])
        if len(items) > MAX_SEQUENCE or _join_size(s, items) > MAX_SEQUENCE:
            raise _too_big("str.join")
        args = (items, *args[1:])
    return args, kwargs


# --------------------------------------------------------------------------- filters


def _big_number(v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, Number):
        return False
    try:
        return bool(abs(v) > MAX_FILTER_ARG)  # type: ignore[arg-type]
    except TypeError:  # complex and other unordered numbers
        return True


def _lines(text: Any) -> int:
    return str(text).count("\n") + 1


def _check_filter(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a filter call whose arguments would blow up its result. ``args[0]`` is the
    filtered value. Returns the (possibly materialised) positional arguments."""
    params = [*args[1:], *kwargs.values()]
    if name not in _VALUE_ARG_FILTERS and any(_big_number(v) for v in params):
        raise _too_big(f"the {name} filter")
    if name in ("center", "indent") and any(
        _is_int(v) and v > 200 for v in params
    ):
        raise _too_big(f"the {name} filter")
    if name == "indent" and args:
        width = args[1] if len(args) > 1 else kwargs.get("width", 4)
        prefix = width if _is_int(width) else len(str(width))
        if len(str(args[0])) + _lines(args[0]) * prefix > MAX_SEQUENCE:
            raise _too_big("the indent filter")
    if name == "wordwrap" and args:
        text = str(args[0])
        width = args[1] if len(args) > 1 else kwargs.get("width", 79)
        wrap = args[3] if len(args) > 3 else kwargs.get("wrapstring", "\n")
        breaks = len(text) // max(width if _is_int(width) else 1, 1) + 1
        if len(text) + breaks * len(str(wrap or "\n")) > MAX_SEQUENCE:
            raise _too_big("the wordwrap filter")
    if name == "replace" and len(args) >= 3:
        check_str_call(str(args[0]), "replace", (str(args[1]), str(args[2])), {})
    if name == "format" and args:
        check_percent_format(str(args[0]))
    if name == "join" and args:
        items = list(args[0])
        sep = args[1] if len(args) > 1 else kwargs.get("d", "")
        if len(items) > MAX_SEQUENCE or _join_size(str(sep), items) > MAX_SEQUENCE:
            raise _too_big("the join filter")
        args = (items, *args[1:])
    if name == "sum":
        start = args[2] if len(args) > 2 else kwargs.get("start", 0)
        if not isinstance(start, Number):
            raise LimitExceeded("the sum filter adds numbers only here")
    return args


def bounded_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """``original`` with the time check, the size checks and the work charge."""
    # jinja passes the environment/context/eval context first to some filters
    skip = 1 if getattr(original, "jinja_pass_arg", None) is not None else 0

    def bounded(*args: Any, **kwargs: Any) -> Any:
        tick()
        head, rest = args[:skip], args[skip:]
        rest = _check_filter(name, rest, kwargs)
        return charge(original(*head, *rest, **kwargs))

    for attr in ("jinja_pass_arg",):  # keep how jinja calls it
        if hasattr(original, attr):
            setattr(bounded, attr, getattr(original, attr))
    bounded.__name__ = getattr(original, "__name__", name)
    return bounded


def bounded_test(original: Callable[..., Any]) -> Callable[..., Any]:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        tick()
        return original(*args, **kwargs)

    if hasattr(original, "jinja_pass_arg"):
        bounded.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    return bounded
