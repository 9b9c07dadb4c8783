"""`reconciler validate` end to end, through click's CliRunner.

Covers:
- the sample catalog and the fixtures' base catalog validate (exit 0, one summary line);
- every broken fixture ``tests/catalogs/bad-*/`` (files overlaid on ``tests/catalogs/base``,
  expectations in its ``_expect.json``) exits 1 and names the file, the line and an
  actionable message, with no traceback;
- hostile inputs are refused quickly (alias bomb, 50 MB file) and never executed
  (``!!python`` tags, template sandbox escapes);
- validate never resolves credentials;
- ``reconciler schema KIND`` prints the schemas.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main

CATALOGS = Path(__file__).resolve().parent / "catalogs"
BASE = CATALOGS / "base"
SAMPLE = Path(__file__).resolve().parent.parent / "catalog"
FIXTURES = sorted(p for p in CATALOGS.iterdir() if p.is_dir() and p.name.startswith("bad-"))


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def build_fixture(fixture: Path, dest: Path) -> dict[str, object]:
    """Copy the base catalog to ``dest``, overlay the fixture's files, apply its setup."""
    shutil.copytree(BASE, dest)
    expect: dict[str, object] = json.loads((fixture / "_expect.json").read_text("utf-8"))
    for src in fixture.rglob("*"):
        if src.is_file() and src.name != "_expect.json":
            target = dest / src.relative_to(fixture)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
    for rel in expect.get("delete", []):  # type: ignore[union-attr]
        (dest / str(rel)).unlink()
    setup = expect.get("setup")
    if setup == "huge":
        # 50 MB of valid YAML-looking text (sparse: created instantly, never read)
        with (dest / "skus" / "huge.yaml").open("wb") as fh:
            fh.write(b"skus: {}\n")
            fh.truncate(50 * 1024 * 1024)
    elif setup == "symlink":
        outside = dest.parent / "outside-secret.yaml"
        outside.write_text("skus:\n  STOLEN-1: {product_type: PRODUCT}\n", "utf-8")
        (dest / "skus" / "evil.yaml").symlink_to(outside)
    return expect


def test_sample_catalog_validates() -> None:
    r = run("validate", str(SAMPLE))
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("catalog OK: 14 SKUs, 68 listings (2 accounts, 6 marketplaces), ")
    assert "1 held for review" in r.stdout
    assert len(r.stdout.strip().splitlines()) == 1


def test_base_catalog_validates() -> None:
    r = run("validate", str(BASE))
    assert r.exit_code == 0, r.output
    assert "catalog OK: 3 SKUs, 7 listings" in r.stdout


def test_there_are_at_least_forty_broken_fixtures() -> None:
    assert len(FIXTURES) >= 40
    for f in FIXTURES:
        assert (f / "_expect.json").is_file(), f


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_broken_catalog(fixture: Path, tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    expect = build_fixture(fixture, cat)
    started = time.perf_counter()
    r = run("validate", str(cat))
    elapsed = time.perf_counter() - started
    out = r.output
    assert r.exit_code == 1, out
    assert "Traceback" not in out
    assert out.startswith("reconciler: catalog is invalid"), out
    where = str(expect["file"])
    if expect["line"]:
        where += f", line {expect['line']}"
    matching = [ln for ln in out.splitlines() if ln.startswith(f"  - {where}")]
    assert matching, f"expected a problem at {where}:\n{out}"
    assert any(str(expect["message"]) in ln for ln in matching), out
    assert elapsed < 5, f"{fixture.name} took {elapsed:.2f}s"


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    build_fixture(CATALOGS / "bad-alias-bomb", cat)
    started = time.perf_counter()
    r = run("validate", str(cat))
    assert time.perf_counter() - started < 1.0
    assert r.exit_code == 1 and "alias bomb" in r.output


def test_fifty_megabyte_file_is_refused_quickly(tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    build_fixture(CATALOGS / "bad-file-too-large", cat)
    assert (cat / "skus" / "huge.yaml").stat().st_size == 50 * 1024 * 1024
    started = time.perf_counter()
    r = run("validate", str(cat))
    assert time.perf_counter() - started < 1.0
    assert r.exit_code == 1 and "50.0 MB, over the 5 MB limit" in r.output


def test_symlink_target_outside_root_is_never_read(tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    build_fixture(CATALOGS / "bad-symlink-outside-root", cat)
    r = run("validate", str(cat))
    assert r.exit_code == 1
    assert "STOLEN-1" not in r.output


def test_python_tag_is_not_executed(tmp_path: Path) -> None:
    marker = Path("/tmp/reconciler-pwned")
    if marker.exists():
        marker.unlink()
    cat = tmp_path / "catalog"
    build_fixture(CATALOGS / "bad-python-object-tag", cat)
    r = run("validate", str(cat))
    assert r.exit_code == 1
    assert not marker.exists()


def test_sandbox_escape_renders_nothing(tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    build_fixture(CATALOGS / "bad-template-sandbox-escape", cat)
    r = run("validate", str(cat))
    assert r.exit_code == 1
    assert "<class" not in r.output and "subclasses" not in r.output.split("refused")[0]


def test_credentials_are_not_resolved_by_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SP_API_REFRESH_TOKEN", "SP_API_REFRESH_TOKEN_EU", "LWA_APP_ID",
                 "LWA_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    r = run("validate", str(SAMPLE))
    assert r.exit_code == 0, r.output


def test_pasted_secret_is_not_echoed(tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    build_fixture(CATALOGS / "bad-credentials-not-env-ref", cat)
    r = run("validate", str(cat))
    assert r.exit_code == 1
    assert "PASTEDSECRET" not in r.output


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    shutil.copytree(BASE, cat)
    mug = cat / "skus" / "mug.yaml"
    text = mug.read_text("utf-8").replace("base_price: 14.99", "base_price: cheap")
    mug.write_text(text.replace("CA: 4", "CA: -4"), "utf-8")
    (cat / "stock.csv").write_text("sku,location,on_hand\nBTL-1,central,-1\n", "utf-8")
    r = run("validate", str(cat))
    assert r.exit_code == 1
    assert "3 problems" in r.output
    assert "skus/mug.yaml, line 5" in r.output and "stock.csv, line 2" in r.output


def test_stale_rates_warn_on_stderr(tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    shutil.copytree(BASE, cat)
    rates = cat / "rates.yaml"
    rates.write_text(rates.read_text("utf-8").replace("2026-11-20", "2020-01-01"), "utf-8")
    r = run("validate", str(cat))
    assert r.exit_code == 0
    assert "exchange rates are" in r.stderr and "days old" in r.stderr
    assert "warning" not in r.stdout


def test_missing_directory_is_an_error() -> None:
    r = run("validate", "/nonexistent/catalog")
    assert r.exit_code == 1 and "does not exist" in r.output and "Traceback" not in r.output


def test_catalog_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_CATALOG", str(BASE))
    r = run("validate")
    assert r.exit_code == 0 and "3 SKUs" in r.stdout


@pytest.mark.parametrize("kind", ["reconciler", "rates", "pricing", "locations", "sku", "stock"])
def test_schema_command_prints_json(kind: str) -> None:
    r = run("schema", kind)
    assert r.exit_code == 0
    assert json.loads(r.stdout)["$id"] == f"urn:reconciler:schema:{kind}"


def test_schema_command_rejects_unknown_kind() -> None:
    r = run("schema", "nope")
    assert r.exit_code == 2


def test_sample_yaml_files_point_at_their_schema() -> None:
    for path in SAMPLE.rglob("*.yaml"):
        first = path.read_text("utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("$schema=", 1)[1]).resolve()
        assert target.is_file(), f"{path}: {target} does not exist"
        assert os.path.commonpath([target, SAMPLE.parent]) == str(SAMPLE.parent)
