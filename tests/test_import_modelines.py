"""Every catalog YAML file names its JSON Schema in a `# yaml-language-server: $schema=PATH`
modeline that RESOLVES (a relative PATH is taken from the file's own directory, as the YAML
language server does): in the sample catalog, and in what `reconciler import` writes, wherever
that catalog is moved to."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from reconciler.catalog.loader import SCHEMA_DIR
from reconciler.catalog.yamlsrc import parse_yaml
from reconciler.cli import main
from reconciler.spapi.connect import close_embedded_emulators

ROOT = Path(__file__).resolve().parent.parent
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def check_modelines(catalog: Path) -> set[str]:
    """Each YAML file's modeline target exists, is the packaged schema of its kind, and accepts
    the file. Returns the kinds seen."""
    kinds = set()
    files = sorted(catalog.rglob("*.yaml"))
    assert files
    for f in files:
        first = f.read_text(encoding="utf-8").split("\n", 1)[0]
        m = MODELINE.match(first)
        assert m, f"{f}: no modeline"
        target = (f.parent / m.group(1)).resolve()
        assert target.is_file(), f"{f}: $schema={m.group(1)} does not resolve ({target})"
        kind = target.name.removesuffix(".schema.json")
        packaged = SCHEMA_DIR / target.name
        assert target.read_text(encoding="utf-8") == packaged.read_text(encoding="utf-8"), f
        schema = json.loads(target.read_text(encoding="utf-8"))
        data, problems = parse_yaml(f.read_text(encoding="utf-8"), f.name)  # as the loader reads
        assert not problems
        jsonschema.validate(data, schema)
        kinds.add(kind)
    return kinds


def test_the_sample_catalogs_modelines_resolve() -> None:
    kinds = check_modelines(ROOT / "catalog")
    assert {"reconciler", "rates", "pricing", "locations", "sku", "warehouses"} <= kinds


def test_imported_catalog_modelines_resolve_wherever_it_is_moved(tmp_path: Path) -> None:
    out = tmp_path / "imported"
    try:
        r = CliRunner().invoke(main, ["import", str(ROOT / "catalog"), "--account", "na",
                                      "--out", str(out)], catch_exceptions=False)
    finally:
        close_embedded_emulators()
    assert r.exit_code == 0, r.output
    kinds = check_modelines(out)
    assert kinds == {"reconciler", "rates", "pricing", "locations", "sku"}
    # the catalog carries its schemas: a copy elsewhere still resolves, and still validates
    moved = tmp_path / "elsewhere" / "deep" / "catalog"
    shutil.copytree(out, moved)
    shutil.rmtree(out)
    assert check_modelines(moved) == kinds
    v = CliRunner().invoke(main, ["validate", str(moved)], catch_exceptions=False)
    assert v.exit_code == 0, v.output
