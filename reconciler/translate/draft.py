"""``reconciler translate``: draft the texts a marketplace's language lacks into the catalog.

1. read the catalog (:func:`reconciler.catalog.loader.load`: every file validated first);
2. find what to draft (:func:`reconciler.catalog.translation_work.find_work`: missing texts and
   stale drafts, from the SKU's source language);
3. call the engine, one batch per (source, target) language pair (bullets are sent as separate
   texts and regrouped), and check every draft against the gates
   (:mod:`reconciler.catalog.translation_gates`): a draft failing one is ``needs_review``;
4. write ``translations/<language>.yaml`` (or a file below ``translations/<language>/``, see
   :func:`write_drafts`) with each draft's provenance.

All or nothing: every engine call is made before a byte is written; an engine error
(:class:`~reconciler.translate.engine.TranslationEngineError`) leaves every file as it was.
Each file is written to a temporary file in its directory and renamed over the old one (all
temporaries are written before the first rename). Only files under the catalog's
``translations/`` directory are written, never Amazon. A second run drafts nothing.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler.catalog.loader import MAX_FILE_BYTES, load
from reconciler.catalog.raw import RawCatalog
from reconciler.catalog.translation_gates import check, failures
from reconciler.catalog.translation_work import Job, Skip, find_work
from reconciler.catalog.translations import DIRECTORY, Draft, file_language, text_hash
from reconciler.kernel.errors import CatalogError, Problem
from reconciler.translate.engine import Engine, TranslationEngineError

BATCH = 50  # texts per engine call (each engine splits further to its own limits)
_LANG = re.compile(r"^[a-z]{2}_[A-Z]{2}$")


@dataclass
class Summary:
    """What a run drafted and skipped (and the files it wrote)."""

    drafted: list[Draft] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # paths relative to the catalog
    dry_run: bool = False
    engine: str = ""
    kept: dict[str, int] = field(default_factory=dict)  # status -> up-to-date drafts kept

    def lines(self) -> list[str]:
        verb = "would draft" if self.dry_run else "drafted"
        review = sum(1 for d in self.drafted if d.status == "needs_review")
        out = [f"reconciler translate: {verb} {len(self.drafted)} text(s)"
               + (f" with {self.engine}" if self.drafted and self.engine else "")
               + (f", {review} need review" if review else "")
               + f", skipped {len(self.skipped)}"]
        for d in self.drafted:
            why = f": {d.reason}" if d.reason else ""
            out.append(f"  {verb} {d.sku} {d.language} {d.field} ({d.status}, from "
                       f"{d.source_language}){why}")
        groups: dict[tuple[str, str], list[str]] = {}
        for s in self.skipped:
            groups.setdefault((s.language, s.why), []).append(s.sku)
        for (lang, why), names in groups.items():
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4
                                             else "")
            out.append(f"  skipped {shown} ({lang}): {why}")
        if self.kept:
            said = ", ".join(f"{n} {status}" for status, n in sorted(self.kept.items()))
            out.append(f"  kept {sum(self.kept.values())} up-to-date draft(s) as they are "
                       f"({said}): a person decides on them")
        for p in self.written:
            out.append(f"  wrote {p}")
        if not self.drafted:
            out.append("  nothing to draft: every text has a translation or a reason above")
        return out


def run(
    root: str | Path,
    make: Callable[[RawCatalog], Engine],
    *,
    marketplaces: Collection[str] = (),
    skus: Collection[str] = (),
    dry_run: bool = False,
    today: _dt.date | None = None,
) -> Summary:
    """Draft into the catalog at ``root``. ``make`` builds the engine from the catalog (called
    only when there is something to draft). Raises CatalogError, TranslationEngineError."""
    raw = load(root)
    work = find_work(raw, marketplaces=marketplaces, skus=skus)
    summary = Summary(skipped=work.skipped, dry_run=dry_run, kept=work.kept)
    if not work.jobs:
        return summary
    date = (today or _dt.date.today()).isoformat()
    if dry_run:
        summary.drafted = [Draft(j.sku, j.language, j.field, j.source, "machine",
                                 source_language=j.source_language) for j in work.jobs]
        return summary
    engine = make(raw)
    summary.engine = engine.name
    texts = _translate_all(engine, work.jobs, work.glossary)
    version = work.glossary.version if work.glossary else ""
    for job, text in zip(work.jobs, texts, strict=True):
        failed = failures(check(job.field, job.source, text, target=job.language,
                                glossary=work.glossary, limit=job.limit))
        summary.drafted.append(Draft(
            job.sku, job.language, job.field, text,
            "needs_review" if failed else "machine", engine=engine.name, date=date,
            source_language=job.source_language, source=job.source,
            source_hash=text_hash(job.source), glossary_version=version,
            draft_hash=text_hash(text), reason="; ".join(failed),
        ))
    summary.written = write_drafts(Path(raw.root), raw, summary.drafted)
    return summary


def _translate_all(engine: Engine, jobs: Sequence[Job], glossary: Any) -> list[Any]:
    """Every job's draft (a str, or a tuple for bullets), in order; raises before returning
    anything when the engine fails."""
    pieces: dict[tuple[str, str], list[tuple[int, int, str]]] = {}  # (src, tgt) -> (job, i, text)
    for n, j in enumerate(jobs):
        values = [j.source] if isinstance(j.source, str) else list(j.source)
        for i, v in enumerate(values):
            pieces.setdefault((j.source_language, j.language), []).append((n, i, v))
    got: dict[tuple[int, int], str] = {}
    for (src, tgt), items in sorted(pieces.items()):
        for start in range(0, len(items), BATCH):
            chunk = items[start:start + BATCH]
            out = engine.translate([t for _, _, t in chunk], source=src, target=tgt,
                                   glossary=glossary)
            if len(out) != len(chunk):
                raise TranslationEngineError(
                    f"{engine.name} returned {len(out)} translation(s) for {len(chunk)} texts; "
                    "nothing was written")
            for (n, i, _), t in zip(chunk, out, strict=True):
                got[n, i] = str(t).strip()
    result: list[Any] = []
    for n, j in enumerate(jobs):
        if isinstance(j.source, str):
            result.append(got[n, 0])
        else:
            result.append(tuple(got[n, i] for i in range(len(j.source))))
    return result


def write_drafts(root: Path, raw: RawCatalog, drafts: Sequence[Draft]) -> list[str]:
    """Merge ``drafts`` into the translations files under ``root``, atomically: a text goes
    where its SKU's drafts of that language already are, else below ``translations/<lang>/``
    when that directory exists (in the file named after the SKU's ``skus/`` file), else to
    ``translations/<lang>.yaml``. Returns the paths written (relative to the catalog)."""
    docs = {doc.path: doc for doc in raw.translations}
    home: dict[tuple[str, str], str] = {}  # (sku, language) -> the file its drafts are in
    for doc in raw.translations:
        lang = file_language(doc.path)
        for sku in (doc.data or {}).get("skus") or {}:
            home.setdefault((sku, lang), doc.path)
    sku_file = {code: doc.path for doc in raw.skus for code in (doc.data.get("skus") or {})}
    by_path: dict[str, list[Draft]] = {}
    for d in drafts:
        if not _LANG.match(d.language):  # never a path: a language tag names the file
            raise CatalogError([Problem(DIRECTORY, message=f"bad language tag {d.language!r}")])
        rel = home.get((d.sku, d.language))
        if rel is None:
            split = root / DIRECTORY / d.language
            stem = Path(sku_file.get(d.sku, "skus/drafts.yaml")).stem
            rel = (f"{DIRECTORY}/{d.language}/{stem}.yaml" if split.is_dir()
                   else f"{DIRECTORY}/{d.language}.yaml")
        by_path.setdefault(rel, []).append(d)
    contents: dict[Path, str] = {}
    for rel, items in sorted(by_path.items()):
        old = docs.get(rel)
        data: dict[str, Any] = (_plain(old.data) if old is not None
                                else {"language": items[0].language, "skus": {}})
        skus: dict[str, dict[str, Any]] = data.get("skus") or {}
        for d in items:
            skus.setdefault(d.sku, {})[d.field] = d.data()
        data["skus"] = {k: _ordered(skus[k]) for k in sorted(skus)}
        text = _header(root, rel) + yaml.safe_dump(data, sort_keys=False, allow_unicode=True,
                                                   width=100)
        if len(text.encode("utf-8")) > MAX_FILE_BYTES:
            raise CatalogError([Problem(rel, message=(
                f"would be over the {MAX_FILE_BYTES // 1048576} MB limit per catalog file: "
                f"nothing was written; split the language into files (mkdir "
                f"{DIRECTORY}/{items[0].language}: new drafts go there, one file per skus/ "
                "file)"))])
        contents[_inside(root, rel)] = text
    _write_atomically(contents)
    return [p.relative_to(root.resolve()).as_posix() for p in contents]


def _ordered(fields: Mapping[str, Any]) -> dict[str, Any]:
    order = ("item_name", "product_description", "bullet_points")
    return {f: fields[f] for f in sorted(fields, key=lambda f: (*order, f).index(f))}


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _header(root: Path, rel: str) -> str:
    up = "../" * rel.count("/")  # from the file's directory to the catalog
    schemas = f"{up}schemas" if (root / "schemas").is_dir() else f"{up}../schemas"
    return (f"# yaml-language-server: $schema={schemas}/translations.schema.json\n"
            "# Drafted by `reconciler translate`. Approve a text by setting status: approved\n"
            "# (or by editing it); machine, needs_review and stale texts are held by the plan.\n")


def _inside(root: Path, rel: str) -> Path:
    real_root = root.resolve()
    target = (real_root / rel).resolve()
    top = real_root / DIRECTORY
    if target.parent != top and target.parent.parent != top:
        raise CatalogError([Problem(rel, message="refusing to write outside the catalog's "
                                                 f"{DIRECTORY}/ directory")])
    return target


def _write_atomically(contents: Mapping[Path, str]) -> None:
    """Every file to a temporary next to it first, then the renames: an error before the
    renames leaves every file as it was."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, text in contents.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            temps.append((tmp, path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, path in temps:
            os.replace(tmp, path)
        temps = []
    except OSError as e:
        raise CatalogError([Problem(DIRECTORY, message=f"cannot write the drafts: "
                                                       f"{e.strerror or e}; nothing was "
                                                       "written")]) from None
    finally:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
