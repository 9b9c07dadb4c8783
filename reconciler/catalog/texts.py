"""Listing texts: literal strings, or jinja2 templates rendered in a sandbox.

Catalog changes arrive as pull requests, so templates are untrusted code:

- they run in a :class:`jinja2.sandbox.SandboxedEnvironment` (no ``__class__``/``__mro__``/
  ``__globals__`` walks, no unsafe callables): ``{{ ''.__class__.__mro__ }}`` raises a
  :class:`TemplateProblem` instead of rendering anything;
- ``StrictUndefined``: a misspelt variable is an error, never an empty string in a live title;
- ``*`` and ``**`` are bounded (``'x' * 10**9`` would exhaust memory before any length check),
  so are the str methods and filters whose arguments set the result's size (``center``,
  ``ljust``, ``replace``, ``indent``, ``format`` and ``%`` widths); ``range()`` is capped;
  ``lipsum`` and ``namespace`` are gone; output is streamed and cut at :data:`MAX_OUTPUT`;
  a template is at most :data:`MAX_SOURCE` characters; and the features that multiply work
  without bound are refused: ``{% set %}``, macros, call blocks, recursive loops, loops inside
  loops (a pull request must not be able to hang CI or exhaust its memory);
- templates are given as a dict of sources read by the loader (only files under the catalog's
  ``templates/``); ``{% include %}``/``{% import %}`` resolve in that dict only, so a name such
  as ``../../etc/passwd`` is simply not found.

Variables available to a template: the SKU's ``vars``, the text's own ``vars`` (which win),
and ``sku``, ``marketplace`` (code), ``language_tag``, ``currency``.

Pure: no I/O (the loader read the sources).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

MAX_OUTPUT = 20_000  # characters of one rendered text
MAX_SEQUENCE = 20_000  # the largest string/list a template may build with * or **
MAX_RANGE = 1_000  # range() in templates (the sandbox's own limit is 100,000)
_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul, "**": operator.pow, "%": operator.mod,
}
MAX_SOURCE = 64 * 1024  # characters of one template
_WIDE = re.compile(r"\d{5,}")  # a format width of 10000 or more


class TemplateProblem(ValueError):
    """A template cannot be compiled or rendered. ``template`` is its name below
    ``templates/``; ``line`` is 1-based within it (0 when unknown)."""

    def __init__(self, template: str, message: str, line: int = 0) -> None:
        self.template = template
        self.message = message
        self.line = line
        super().__init__(f"{template}:{line}: {message}" if line else f"{template}: {message}")


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset(_BINOPS)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            _check_str_call(owner, getattr(__obj, "__name__", ""), args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            _check_format(left)
        if operator == "**" and (
            not isinstance(right, int) or isinstance(right, bool) or abs(right) > 64
        ):
            raise jinja2.exceptions.SecurityError("exponent too large in a template")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and (
                    len(seq) * n > MAX_SEQUENCE
                ):
                    raise jinja2.exceptions.SecurityError(
                        f"template builds a value longer than {MAX_SEQUENCE}"
                    )
        return _BINOPS[operator](left, right)


class _Loader(jinja2.BaseLoader):
    def __init__(self, sources: Mapping[str, str]) -> None:
        self.sources = sources

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if template not in self.sources:
            raise jinja2.TemplateNotFound(template)
        return self.sources[template], _filename(template), lambda: True


def _small_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise jinja2.exceptions.SecurityError(f"range() is limited to {MAX_RANGE} items here")
    return r


def _too_big(what: str) -> jinja2.exceptions.SecurityError:
    return jinja2.exceptions.SecurityError(f"{what} would build a text over {MAX_SEQUENCE}")


def _check_format(fmt: str) -> None:
    if _WIDE.search(fmt):
        raise _too_big("a format width")


def _check_str_call(s: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse str methods whose result size the arguments can blow up."""
    values = [*args, *kwargs.values()]
    if method in ("center", "ljust", "rjust", "zfill", "expandtabs") and any(
        isinstance(v, int) and v > MAX_SEQUENCE for v in values
    ):
        raise _too_big(f"str.{method}")
    if method == "replace" and len(args) >= 2 and isinstance(args[0], str):
        old, new = args[0], str(args[1])
        hits = s.count(old) if old else len(s) + 1
        if len(s) + hits * max(0, len(new) - len(old)) > MAX_SEQUENCE:
            raise _too_big("str.replace")
    if method in ("format", "format_map"):
        _check_format(s)


def _bounded_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        values = [*args[1:], *kwargs.values()]
        if name in ("center", "indent") and any(
            isinstance(v, int) and not isinstance(v, bool) and v > 200 for v in values
        ):
            raise _too_big(f"the {name} filter")
        if name == "replace" and len(args) >= 3:
            _check_str_call(str(args[0]), "replace", (str(args[1]), str(args[2])), {})
        if name == "format" and args:
            _check_format(str(args[0]))
        return original(*args, **kwargs)

    return bounded


def _shape_problem(tree: nodes.Node, in_loop: bool = False) -> tuple[str, int] | None:
    """Refuse the template features that multiply work without bound: macros and call blocks
    (recursion), recursive loops, loops nested in loops (directly or through an include)."""
    for child in tree.iter_child_nodes():
        line = getattr(child, "lineno", 0) or 0
        if isinstance(child, (nodes.Macro, nodes.CallBlock)):
            return "macros and call blocks are not allowed in catalog templates", line
        if isinstance(child, (nodes.Assign, nodes.AssignBlock)):
            return "{% set %} is not allowed in catalog templates (use vars)", line
        if isinstance(child, nodes.For):
            if child.recursive:
                return "recursive loops are not allowed in catalog templates", line
            if in_loop:
                return "loops inside loops are not allowed in catalog templates", line
        elif in_loop and isinstance(child, (nodes.Include, nodes.Import, nodes.FromImport)):
            return "includes inside loops are not allowed in catalog templates", line
        found = _shape_problem(child, in_loop or isinstance(child, nodes.For))
        if found is not None:
            return found
    return None


def _filename(name: str) -> str:
    return f"templates/{name}"


class Texts:
    """Compiles templates once and renders them for many SKUs."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self.sources = dict(sources)
        self.env = _Sandbox(
            loader=_Loader(self.sources),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals["range"] = _small_range
        for unbounded in ("lipsum", "namespace"):  # lipsum(10**6); namespace() + set loops
            self.env.globals.pop(unbounded, None)
        for name in ("center", "indent", "replace", "format"):
            self.env.filters[name] = _bounded_filter(name, self.env.filters[name])
        self._compiled: dict[str, jinja2.Template] = {}

    def check_all(self) -> list[TemplateProblem]:
        """Syntax problems of every template (so unused broken templates are reported too)."""
        problems = []
        for name in sorted(self.sources):
            try:
                self.template(name)
            except TemplateProblem as e:
                problems.append(e)
        return problems

    def template(self, name: str) -> jinja2.Template:
        if name in self._compiled:
            return self._compiled[name]
        if name not in self.sources:
            raise TemplateProblem(name, "no such template under templates/")
        if len(self.sources[name]) > MAX_SOURCE:
            raise TemplateProblem(name, f"template is over {MAX_SOURCE // 1024} KB")
        try:
            shape = _shape_problem(self.env.parse(self.sources[name], name, _filename(name)))
            if shape is not None:
                raise TemplateProblem(name, shape[0], shape[1])
            t = self.env.get_template(name)
        except jinja2.TemplateSyntaxError as e:
            where = e.name or name
            raise TemplateProblem(
                where.removeprefix("templates/"), f"template syntax error: {e.message}", e.lineno
            ) from None
        except jinja2.TemplateNotFound as e:
            raise TemplateProblem(name, f"includes a template that does not exist: {e}") from None
        self._compiled[name] = t
        return t

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render template ``name``; whitespace is collapsed at the ends. Raises
        TemplateProblem."""
        t = self.template(name)
        size = 0
        chunks: list[str] = []
        try:
            for chunk in t.generate(dict(context)):  # streamed: stop a runaway loop early
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise TemplateProblem(name, f"renders more than {MAX_OUTPUT} characters")
                chunks.append(chunk)
        except jinja2.exceptions.SecurityError as e:
            raise TemplateProblem(
                name, f"refused by the sandbox: {e}", _line_of(e, name)
            ) from None
        except jinja2.UndefinedError as e:
            raise TemplateProblem(
                name,
                f"undefined variable: {e.message}; available: {', '.join(sorted(context))}",
                _line_of(e, name),
            ) from None
        except jinja2.TemplateNotFound as e:
            raise TemplateProblem(name, f"includes a template that does not exist: {e}") from None
        except jinja2.TemplateError as e:
            raise TemplateProblem(name, f"template error: {e}", _line_of(e, name)) from None
        except TemplateProblem:
            raise
        except (ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as e:
            raise TemplateProblem(
                name, f"template error: {type(e).__name__}: {e}", _line_of(e, name)
            ) from None
        return "".join(chunks).strip()


def _line_of(e: BaseException, name: str) -> int:
    """The template line a runtime error happened on, from jinja's rewritten traceback (read
    from frame objects only: nothing is looked up on disk)."""
    line = 0
    tb = e.__traceback__
    target = _filename(name)
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == target:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
