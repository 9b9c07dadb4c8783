"""Listing texts: literal strings, or jinja2 templates rendered in a sandbox.

Catalog changes arrive as pull requests, so templates are untrusted code:

- they run in a :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` (no ``__class__``/
  ``__mro__``/``__globals__`` walks, no unsafe callables, no ``list.append``/``dict.update``):
  ``{{ ''.__class__.__mro__ }}`` raises a :class:`TemplateProblem` instead of rendering anything;
- ``StrictUndefined``: a misspelt variable is an error, never an empty string in a live title;
- every render is bounded in time, in the work it does and in the size of what each operation
  builds, and includes are counted (:mod:`reconciler.catalog.template_limits`: string
  multiplication, joins, ``expandtabs``, format widths taken from data, towers of ``**``,
  include fan-out); ``range()`` is capped; ``lipsum`` and ``namespace`` are gone; output is
  streamed and cut at :data:`MAX_OUTPUT`; a template is at most :data:`MAX_SOURCE`
  characters; and the features that multiply work without bound are refused: ``{% set %}``,
  macros, call blocks, recursive loops, loops inside loops (a pull request must not be able to
  hang CI or exhaust its memory);
- the whole catalog's rendering is bounded too (:data:`MAX_CATALOG_OUTPUT` characters,
  :data:`MAX_CATALOG_SECONDS`): many SKUs each near the per-render limits are refused as one
  problem naming the template that crossed the line; a template that hit a limit once is
  refused at once for every other SKU that uses it;
- templates are given as a dict of sources read by the loader (only files under the catalog's
  ``templates/``); ``{% include %}``/``{% import %}`` resolve in that dict only, so a name such
  as ``../../etc/passwd`` is simply not found.

Variables available to a template: the SKU's ``vars``, the text's own ``vars`` (which win),
and ``sku``, ``marketplace`` (code), ``language_tag``, ``currency``.

Pure: no I/O (the loader read the sources).
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from reconciler.catalog import template_limits as limits
from reconciler.catalog.template_limits import (
    MAX_SEQUENCE,
    REMOVED_FILTERS,
    LimitExceeded,
    bounded_filter,
    bounded_test,
    charge,
    check_binop,
    check_str_call,
    count_include,
    tick,
)
from reconciler.kernel.errors import CatalogError, Problem

MAX_OUTPUT = 20_000  # characters of one rendered text
MAX_RANGE = 1_000  # range() in templates (the sandbox's own limit is 100,000)
_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul, "**": operator.pow, "%": operator.mod, "+": operator.add,
}
MAX_SOURCE = 64 * 1024  # characters of one template
MAX_CATALOG_OUTPUT = 50_000_000  # characters rendered for the whole catalog
MAX_CATALOG_SECONDS = 30.0  # rendering time for the whole catalog
__all__ = ["MAX_OUTPUT", "MAX_SEQUENCE", "TemplateProblem", "Texts"]


class TemplateProblem(ValueError):
    """A template cannot be compiled or rendered. ``template`` is its name below
    ``templates/``; ``line`` is 1-based within it (0 when unknown)."""

    def __init__(self, template: str, message: str, line: int = 0, *, limit: bool = False) -> None:
        self.template = template
        self.message = message
        self.line = line
        self.limit = limit  # a time/work/size limit: refused at once when used again
        super().__init__(f"{template}:{line}: {message}" if line else f"{template}: {message}")


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(_BINOPS)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        tick()
        # jinja hands str.format/format_map over wrapped in its sandboxed formatter
        method = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str):
            args, kwargs = check_str_call(owner, getattr(method, "__name__", ""), args, kwargs)
        return charge(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        tick()
        check_binop(operator, left, right)
        return charge(_BINOPS[operator](left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        tick()
        return super().getitem(obj, argument)

    def get_template(self, *args: Any, **kwargs: Any) -> Any:
        tick()
        count_include()  # includes, imports and extends while rendering (a no-op otherwise)
        return super().get_template(*args, **kwargs)


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
        for name in REMOVED_FILTERS:
            self.env.filters.pop(name, None)
        for name, f in list(self.env.filters.items()):
            self.env.filters[name] = bounded_filter(name, f)
        for name, f in list(self.env.tests.items()):
            self.env.tests[name] = bounded_test(f)  # type: ignore[arg-type]
        self._compiled: dict[str, jinja2.Template] = {}
        self._refused: dict[str, TemplateProblem] = {}  # templates that hit a limit
        self.output = 0  # characters rendered so far (whole catalog)
        self.seconds = 0.0  # time spent rendering so far (whole catalog)

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
            t: jinja2.Template = self.env.get_template(name)
        except jinja2.TemplateSyntaxError as e:
            where = e.name or name
            raise TemplateProblem(
                where.removeprefix("templates/"), f"template syntax error: {e.message}", e.lineno
            ) from None
        except jinja2.TemplateNotFound as e:
            raise TemplateProblem(name, f"includes a template that does not exist: {e}") from None
        except (RecursionError, MemoryError, SyntaxError):  # ((((... nested thousands deep
            raise TemplateProblem(
                name, "template is nested too deeply to compile: refused (flatten it)"
            ) from None
        self._compiled[name] = t
        return t

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render template ``name``; whitespace is collapsed at the ends. Raises
        TemplateProblem; CatalogError when the whole catalog's rendering is over its bounds."""
        t = self.template(name)
        if name in self._refused:
            raise self._refused[name]
        started = time.monotonic()
        try:
            text = self._render(t, name, context)
        except TemplateProblem as e:
            if e.limit:
                self._refused[name] = e
            raise
        finally:
            self.seconds += time.monotonic() - started
        self.output += len(text)
        if self.output > MAX_CATALOG_OUTPUT or self.seconds > MAX_CATALOG_SECONDS:
            what = (f"more than {MAX_CATALOG_OUTPUT:,} characters"
                    if self.output > MAX_CATALOG_OUTPUT
                    else f"for more than {MAX_CATALOG_SECONDS:g} s")
            raise CatalogError([Problem(
                _filename(name), 0, 0,
                f"the catalog's templates render {what} in total (the last was this one): "
                "refused; templates must stay small",
            )])
        return text

    def _render(self, t: jinja2.Template, name: str, context: Mapping[str, Any]) -> str:
        size = 0
        chunks: list[str] = []
        token = limits.start()
        try:
            for chunk in t.generate(dict(context)):  # streamed: stop a runaway loop early
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise TemplateProblem(
                        name, f"renders more than {MAX_OUTPUT} characters", limit=True
                    )
                chunks.append(chunk)
        except LimitExceeded as e:
            raise TemplateProblem(
                name, f"refused: {e}", _line_of(e, name), limit=True
            ) from None
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
        except MemoryError:
            raise TemplateProblem(name, "refused: the template ran out of memory",
                                  limit=True) from None
        except (ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as e:
            raise TemplateProblem(
                name, f"template error: {type(e).__name__}: {e}", _line_of(e, name)
            ) from None
        finally:
            limits.stop(token)
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
