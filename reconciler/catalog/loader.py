"""Read a catalog directory: YAML with provenance, schema validation, stock CSV, templates.

This is the catalog's only I/O. It reads, validates every file against its JSON Schema and
collects *all* problems before raising one :class:`~reconciler.kernel.errors.CatalogError`; then
:func:`reconciler.catalog.desired.build` (pure) turns the result into desired listings.

Layout (``ROOT`` = the catalog directory)::

    reconciler.yaml   required   accounts, marketplaces, safety, apply      schemas/reconciler
    rates.yaml        optional   exchange rates                             schemas/rates
    pricing.yaml      optional   price rules per marketplace                schemas/pricing
    locations.yaml    optional   supply sources, allocation policies        schemas/locations
    stock.csv         optional   sku,location,on_hand                       schemas/stock
    skus/**/*.yaml    SKUs (one per file or a family per file)              schemas/sku
    glossary.yaml     optional   terms machine translation must respect     schemas/glossary
    translations/*.yaml  drafted texts, one file per language           schemas/translations
    templates/**/*.j2 jinja2 text templates (rendered sandboxed by reconciler.catalog.texts)
    product-types/**/*.json  cached product type definitions (reconciler.contract.producttype_files)

Safety (catalogs arrive in pull requests):

- nothing outside ROOT is read: every path is resolved and a file (or a symlink) that lands
  outside ROOT is a problem, never opened;
- a file over :data:`MAX_FILE_BYTES` is refused from its size alone, before reading;
- YAML is parsed by :mod:`reconciler.catalog.yamlsrc` (safe types only, duplicate keys and alias
bombs
  refused, bounded depth).

Schemas: the canonical copies are ``schemas/*.schema.json`` at the repository root (where the
``# yaml-language-server: $schema=...`` comments of the sample catalog point). The package
ships an identical copy in ``reconciler/data/schemas/`` (package data, so an installed
``reconciler`` works anywhere) and loads from there; ``tests/test_loader.py`` fails if the two
copies differ.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema

from reconciler.catalog.desired import build
from reconciler.catalog.endpoints import check_accounts
from reconciler.catalog.raw import Doc, RawCatalog, StockRow, YDict
from reconciler.catalog.schemacheck import Check, UnsupportedSchema, compile_schema, ecma_regex
from reconciler.catalog.schemamsg import explain
from reconciler.catalog.stockcsv import parse_stock
from reconciler.catalog.yamlsrc import parse_yaml
from reconciler.contract.producttype_files import DIRECTORY as PRODUCT_TYPES_DIR
from reconciler.contract.producttype_files import CachedDefinition, DefinitionFileError
from reconciler.contract.producttype_files import parse as parse_definition
from reconciler.kernel.destinations import operator_hosts
from reconciler.kernel.errors import CatalogError, Problem
from reconciler.kernel.gcpause import paused_gc
from reconciler.kernel.model import DesiredState

MAX_FILE_BYTES = 5 * 1024 * 1024  # per catalog file
MAX_STOCK_BYTES = 50 * 1024 * 1024  # stock.csv may legitimately be larger than YAML files
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "data" / "schemas"
SCHEMA_KINDS = ("reconciler", "rates", "pricing", "locations", "sku", "stock", "glossary",
                "translations")
# Quantities above this are typos, not stock (schemas/sku.schema.json uses the same bound).
CONFIG_FILE = "reconciler.yaml"
_SINGLE_FILES = {
    "config": ("reconciler.yaml", "reconciler"),
    "rates": ("rates.yaml", "rates"),
    "pricing": ("pricing.yaml", "pricing"),
    "locations": ("locations.yaml", "locations"),
    "glossary": ("glossary.yaml", "glossary"),
}


@functools.cache
def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one file kind (see :data:`SCHEMA_KINDS`). Raises KeyError."""
    if kind not in SCHEMA_KINDS:
        raise KeyError(kind)
    data: dict[str, Any] = json.loads(
        (SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8")
    )
    return data


def _ecma_pattern(
    validator: Any, pattern: str, instance: Any, schema: Any
) -> Iterator[jsonschema.ValidationError]:
    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.cache
def _validator(kind: str) -> jsonschema.protocols.Validator:
    s = schema(kind)
    base = jsonschema.validators.validator_for(s)
    # JSON Schema patterns are ECMA-262: "$" ends the string (see schemacheck.ecma_regex)
    cls = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        base, {"pattern": _ecma_pattern}
    )
    v: jsonschema.protocols.Validator = cls(s)
    return v


def load(
    root: str | Path, env: Mapping[str, str] | None = None, *, definitions: bool = True
) -> RawCatalog:
    """Read and schema-validate the catalog at ``root``. Raises CatalogError with every problem
    (paths relative to ``root``). ``env`` (default ``os.environ``) supplies the operator's
    ``RECONCILER_ALLOW_HOSTS`` (see :mod:`reconciler.kernel.destinations`).
    ``definitions=False`` does not read product-types/ (``product-types pull`` rewrites them,
    broken or not)."""
    with paused_gc():
        return _Loader(Path(root), env, definitions=definitions).load()


def load_desired(root: str | Path, *, today: datetime.date | None = None) -> DesiredState:
    """``desired.build(load(root))``: the catalog's DesiredState. ``today`` enables the rates
    staleness warning (pure code never reads the clock; the CLI passes today's date)."""
    return build(load(root), today=today)


@functools.cache
def _fast_check(kind: str) -> Check | None:
    try:
        return compile_schema(schema(kind))
    except UnsupportedSchema:  # pragma: no cover - only after a schema edit
        return None


def validate_data(kind: str, data: Any, path: str) -> list[Problem]:
    """Schema problems of one parsed file (``data`` as produced by the YAML reader). Valid
    documents are recognised by the compiled checker; jsonschema explains invalid ones."""
    fast = _fast_check(kind)
    if fast is not None and fast(data):
        return []
    problems: list[Problem] = []
    for e in _validator(kind).iter_errors(data):
        problems.extend(explain(e, data, path))
    return problems


class _Loader:
    def __init__(
        self, root: Path, env: Mapping[str, str] | None = None, *, definitions: bool = True
    ) -> None:
        self.given = root
        self.env = os.environ if env is None else env  # the operator's RECONCILER_ALLOW_HOSTS
        self.definitions = definitions
        self.problems: list[Problem] = []

    def problem(self, file: str, message: str, line: int = 0, column: int = 0) -> None:
        self.problems.append(Problem(file, line, column, message))

    def load(self) -> RawCatalog:
        if not self.given.is_dir():
            raise CatalogError(
                [Problem(str(self.given), message="catalog directory not found")],
                summary=f"catalog directory {self.given} does not exist",
            )
        self.root = self.given.resolve()
        docs: dict[str, Doc | None] = {}
        for slot, (name, kind) in _SINGLE_FILES.items():
            path = self.root / name
            if not os.path.lexists(path):
                if slot == "config":
                    self.problem(name, f"missing {name}: every catalog needs one (accounts)")
                docs[slot] = None
                continue
            docs[slot] = self.yaml_doc(path, kind)
        if docs["config"] is not None:  # where credentials may go: before any request
            self.problems.extend(check_accounts(docs["config"], operator_hosts(self.env)))
        skus = tuple(
            d for d in (self.yaml_doc(p, "sku") for p in self.files("skus", (".yaml", ".yml")))
            if d is not None
        )
        translations = tuple(d for d in (self.yaml_doc(p, "translations") for p in self.files(
            "translations", (".yaml", ".yml"))) if d is not None)
        templates: dict[str, str] = {}
        for p in self.files("templates", (".j2",)):
            text = self.read_text(p)
            if text is not None:
                templates[p.relative_to(self.root / "templates").as_posix()] = text
        stock = self.stock(self.root / "stock.csv")
        product_types = self.product_types() if self.definitions else {}
        if self.problems:
            raise CatalogError(self.problems)
        config = docs["config"]
        assert config is not None  # a missing config is a problem above
        return RawCatalog(
            root=str(self.root),
            config=config,
            rates=docs["rates"],
            pricing=docs["pricing"],
            locations=docs["locations"],
            skus=skus,
            glossary=docs["glossary"],
            translations=translations,
            stock=stock,
            templates=templates,
            product_types=product_types,
        )

    # ----------------------------------------------------------------------- files

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def inside(self, path: Path) -> bool:
        """True when ``path`` (after following symlinks) stays inside the root."""
        try:
            real = path.resolve()
        except (OSError, RuntimeError):  # symlink loops
            self.problem(self.rel(path), "cannot resolve the path (a symlink loop?)")
            return False
        if real == self.root or self.root in real.parents:
            return True
        self.problem(
            self.rel(path),
            "path resolves outside the catalog directory (a symlink?): refused; "
            "catalog files must live inside the catalog",
        )
        return False

    def files(self, sub: str, suffixes: tuple[str, ...]) -> list[Path]:
        top = self.root / sub
        if not os.path.lexists(top):
            return []
        if not self.inside(top):
            return []
        if not top.is_dir():
            self.problem(sub, f"{sub} is not a directory: it must be the directory of the "
                              f"catalog's {_WHAT.get(sub, 'templates')}")
            return []
        found: list[Path] = []

        def unreadable(e: OSError) -> None:
            where = self.rel(Path(e.filename)) if e.filename else sub
            self.problem(where, f"cannot read the directory: {e.strerror or e}")

        # os.walk does not follow symlinked directories; symlinked files are checked below
        for dirpath, dirnames, filenames in os.walk(top, onerror=unreadable):
            dirnames.sort()
            for d in dirnames:
                if os.path.islink(os.path.join(dirpath, d)):
                    self.problem(
                        self.rel(Path(dirpath) / d),
                        "symlinked directories are not followed inside a catalog: refused",
                    )
            for f in sorted(filenames):
                p = Path(dirpath) / f
                if p.suffix in suffixes and self.inside(p):
                    found.append(p)
        return found

    def read_bytes(self, path: Path, limit: int | None = None) -> bytes | None:
        limit = MAX_FILE_BYTES if limit is None else limit
        rel = self.rel(path)
        if not self.inside(path):
            return None
        try:
            # O_NONBLOCK: a FIFO named stock.csv must not hang validate; what was opened is
            # checked (fstat) before a byte is read
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except IsADirectoryError:
            self.problem(rel, "is a directory, but a file is expected here: refused")
            return None
        except OSError as e:
            self.problem(rel, f"cannot read: {e.strerror or e}")
            return None
        try:
            st = os.fstat(fd)
        except OSError as e:
            os.close(fd)
            self.problem(rel, f"cannot read: {e.strerror or e}")
            return None
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            self.problem(rel, "is a directory, but a file is expected here: refused"
                         if stat.S_ISDIR(st.st_mode)
                         else "is not a regular file (a device, pipe or socket): refused")
            return None
        try:
            with os.fdopen(fd, "rb") as fh:
                size = st.st_size
                if size > limit:
                    self.problem(
                        rel,
                        f"file is {size / 1048576:.1f} MB, over the {_mb(limit)} MB limit "
                        "per catalog file: refused (split it into several files)",
                    )
                    return None
                # read(n) allocates n bytes up front: ask for the size, not the limit (50 MB
                # for stock.csv); a file that grew since stat() is read on up to the limit
                data = fh.read(size + 1)
                if len(data) > size:
                    data += fh.read(limit + 1 - len(data))
        except OSError as e:
            self.problem(rel, f"cannot read: {e.strerror or e}")
            return None
        if len(data) > limit:  # grew while reading
            self.problem(rel, f"file is over the {_mb(limit)} MB limit: refused")
            return None
        return data

    def read_text(self, path: Path, limit: int | None = None) -> str | None:
        data = self.read_bytes(path, limit)
        if data is None:
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            self.problem(self.rel(path), "not valid UTF-8 text (save the file as UTF-8)", line, 1)
            return None

    def yaml_doc(self, path: Path, kind: str) -> Doc | None:
        rel = self.rel(path)
        text = self.read_text(path)
        if text is None:
            return None
        data, problems = parse_yaml(text, rel)
        if problems:
            self.problems.extend(problems)
            return None
        if data is None:
            data = YDict((1, 1))
        self.problems.extend(validate_data(kind, data, rel))
        return Doc(rel, data)

    def product_types(self) -> dict[tuple[str, str, str], CachedDefinition]:
        """The cached product type definitions under product-types/ (see producttype_files)."""
        out: dict[tuple[str, str, str], CachedDefinition] = {}
        for p in self.files(PRODUCT_TYPES_DIR, (".json",)):
            text = self.read_text(p)
            if text is None:
                continue
            rel = self.rel(p)
            try:
                d = parse_definition(text, rel)
            except DefinitionFileError as e:
                self.problem(rel, str(e))
                continue
            out[d.key] = d
        return out

    def stock(self, path: Path) -> tuple[StockRow, ...] | None:
        if not os.path.lexists(path):
            return None
        text = self.read_text(path, MAX_STOCK_BYTES)  # read at call time: patchable
        if text is None:
            return None
        return parse_stock(text, self.rel(path), self.problem)



_WHAT = {"skus": "SKU files", "translations": "translation drafts"}


def _mb(n: int) -> str:
    return f"{n / 1048576:g}"
