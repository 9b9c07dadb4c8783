"""The loader and the safe YAML reader.

Covers provenance (line/column of keys and values), Decimal floats, YAML 1.1 traps (`NO:`),
duplicate keys, merge keys and aliases, refused tags, alias bombs and recursion, nesting
limits, size caps, paths outside the root, stock.csv parsing, schema problems collected all at
once, and that the packaged schemas are an identical copy of ``schemas/``.
"""

from __future__ import annotations

import filecmp
import functools
import shutil
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.catalog import loader
from reconciler.catalog.raw import YDict, YList, locate
from reconciler.catalog.yamlsrc import MAX_ALIAS_NODES, MAX_DEPTH, parse_yaml
from reconciler.kernel.errors import CatalogError

ROOT = Path(__file__).resolve().parent.parent
BASE = Path(__file__).resolve().parent / "catalogs" / "base"


def ok(text: str) -> object:
    data, problems = parse_yaml(text, "f.yaml")
    assert problems == [], problems
    return data


def messages(text: str) -> list[str]:
    return [str(p) for p in parse_yaml(text, "f.yaml")[1]]


def test_marks_are_one_based_lines_and_columns() -> None:
    data = ok("a: 1\nb:\n  c: [x, y]\n")
    assert isinstance(data, YDict)
    assert data.key_mark("b") == (2, 1) and data.key_marks["b"] == (2, 1)
    assert locate(data, ["b", "c"]) == (3, 6)
    assert locate(data, ["b", "c", 1]) == (3, 10)
    assert locate(data, ["b", "c"], key=True) == (3, 3)
    assert locate(data, ["b", "missing", "deeper"]) == (3, 3)  # nearest known ancestor
    assert isinstance(data["b"]["c"], YList)


def test_scalars() -> None:
    data = ok("f: 19.99\ni: 0x1F\nb: true\nn: ~\nd: 2026-11-20\nq: '1.5'\nNO: yes\n1: one\n")
    assert data == {"f": Decimal("19.99"), "i": 31, "b": True, "n": None, "d": "2026-11-20",
                    "q": "1.5", "NO": True, "1": "one"}
    assert isinstance(data["f"], Decimal)  # type: ignore[index]


def test_non_finite_numbers_are_refused() -> None:
    assert "not a finite number" in messages("x: .inf\n")[0]


def test_duplicate_keys() -> None:
    assert messages("a: 1\nb: 2\na: 3\n") == [
        "f.yaml, line 3, column 1: duplicate key 'a' (first defined at line 1); remove one of them"
    ]


def test_merge_keys_and_aliases() -> None:
    data = ok("base: &b {x: 1, y: 2}\nitem:\n  <<: *b\n  y: 3\nlist: &l [1, 2]\nagain: *l\n")
    assert data["item"] == {"x": 1, "y": 3}  # type: ignore[index]
    assert data["again"] == [1, 2]  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x: !!python/object/apply:os.system ['true']\n", "refused: catalogs may not construct"),
        ("x: !!python/name:os.system\n", "refused"),
        ("x: !custom 1\n", "YAML tag !custom is not supported"),
        ("x: !!binary aGVsbG8=\n", "YAML tag !!binary is not supported"),
        ("x: !!set {a, b}\n", "YAML tag !!set is not supported"),
        ("a: &a [*a]\n", "refers to itself"),
        ("a: *nowhere\n", "has no anchor"),
        ("a: 1\n---\nb: 2\n", "only one YAML document"),
        ("a:\n\tb: 1\n", "tab"),
        ("a: [1, 2\n", "YAML syntax error"),
        ("a: 'unterminated\n", "YAML syntax error"),
        ("? [a, b]\n: 1\n", "a mapping key must be a plain value"),
    ],
)
def test_refused(text: str, message: str) -> None:
    found = messages(text)
    assert found and message in found[0], found


def test_alias_bomb_is_refused_fast() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        p, c = chr(96 + i), chr(97 + i)
        lines.append(f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]")
    started = time.perf_counter()
    found = messages("\n".join(lines))
    assert time.perf_counter() - started < 0.5
    assert f"more than {MAX_ALIAS_NODES} nodes" in found[0]


def test_deep_flow_nesting_is_refused_fast() -> None:
    started = time.perf_counter()
    found = messages("x: " + "[" * 1_000_000 + "]" * 1_000_000)
    assert time.perf_counter() - started < 0.5
    assert "nested deeper" in found[0]


DEEP = {
    # libyaml's scanner looks ahead through a run of '[' and refuses it with its own words
    # before any event reaches the composer; the project's message must still be the one shown
    "flow": ("x: " + "[" * 2000 + "]" * 2000, 1),
    "flow-quoted": ('x: ["[[[", ' + "[" * 2000 + "]" * 2001, 1),
    "flow-map": ("x: " + "{a: " * 2000 + "}" * 2000, 1),
    "dashes": ("x:\n  " + "- " * 2000 + "1\n", 2),
    "indent": ("".join(" " * i + "k:\n" for i in range(2000)) + " " * 2000 + "v\n", MAX_DEPTH + 1),
}


@pytest.mark.parametrize("shape", sorted(DEEP))
@pytest.mark.parametrize("parser", ["libyaml", "python"])
def test_deep_nesting_gives_the_projects_message_whichever_parser_refuses_first(
    shape: str, parser: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    from reconciler.catalog import yamlsrc

    if parser == "python":
        monkeypatch.setattr(yamlsrc, "_Parser", yaml.SafeLoader)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML built without libyaml")
    text, line = DEEP[shape]
    _, problems = parse_yaml(text, "f.yaml")
    assert len(problems) == 1, problems
    assert f"nested deeper than {yamlsrc.MAX_DEPTH} levels" in problems[0].message
    assert (problems[0].file, problems[0].line) == ("f.yaml", line)
    assert problems[0].column <= len(text.splitlines()[line - 1])


def copy_base(tmp_path: Path) -> Path:
    cat = tmp_path / "catalog"
    shutil.copytree(BASE, cat)
    return cat


def test_load_base_catalog(tmp_path: Path) -> None:
    raw = loader.load(copy_base(tmp_path))
    assert raw.config.path == "reconciler.yaml"
    assert [d.path for d in raw.skus] == ["skus/bowls.yaml", "skus/mug.yaml"]
    assert sorted(raw.templates) == ["title.de.j2", "title.en.j2"]
    assert raw.stock is not None and raw.stock[0].sku == "BTL-1" and raw.stock[0].line == 2
    assert raw.config.ref("accounts", "na", "seller_id").line == 5


def test_all_schema_problems_are_collected(tmp_path: Path) -> None:
    cat = copy_base(tmp_path)
    (cat / "rates.yaml").write_text("as_of: yesterday\nbase: usd\nrates: {CAD: -1}\nx: 1\n")
    (cat / "skus" / "mug.yaml").write_text("skus:\n  MUG-1:\n    base_price: []\n")
    with pytest.raises(CatalogError) as e:
        loader.load(cat)
    text = "\n".join(e.value.lines())
    for expected in [
        "rates.yaml, line 1, column 8: as_of: 'yesterday' does not match",
        "rates.yaml, line 2, column 7: base: 'usd' does not match",
        "rates.yaml, line 3, column 14: rates.CAD: -1 is less than or equal to the minimum of 0",
        "rates.yaml, line 4, column 1: (top level): unknown key 'x'",
        "skus/mug.yaml, line 3, column 17: skus.MUG-1.base_price: expected number, got list",
        "skus/mug.yaml, line 3, column 5: skus.MUG-1: missing required key 'product_type'",
    ]:
        assert expected in text, text


def test_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cat = copy_base(tmp_path)
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 100)
    with pytest.raises(CatalogError, match="invalid") as e:
        loader.load(cat)
    assert any("MB limit per catalog file: refused" in str(p) for p in e.value.problems)


def test_symlinked_file_inside_root_is_fine_outside_is_refused(tmp_path: Path) -> None:
    cat = copy_base(tmp_path)
    (cat / "skus" / "alias.yaml").symlink_to(cat / "extra.yaml")
    (cat / "extra.yaml").write_text("skus:\n  X-2: {product_type: PRODUCT, base_price: 5}\n")
    assert "skus/alias.yaml" in [d.path for d in loader.load(cat).skus]
    secret = tmp_path / "secret.yaml"
    secret.write_text("skus: {}\n")
    (cat / "templates" / "leak.j2").symlink_to(secret)
    with pytest.raises(CatalogError) as e:
        loader.load(cat)
    assert [p.file for p in e.value.problems] == ["templates/leak.j2"]


def test_symlinked_directory_is_refused(tmp_path: Path) -> None:
    cat = copy_base(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (cat / "skus" / "more").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CatalogError, match="invalid") as e:
        loader.load(cat)
    assert "symlinked directories are not followed" in e.value.problems[0].message


def test_stock_csv_problems(tmp_path: Path) -> None:
    cat = copy_base(tmp_path)
    (cat / "stock.csv").write_text(
        "\ufeffSKU,Location,On_Hand,note\nA,central,3,ok\nA,central,4,dup\nB,x\n\nC,y,1.5,\n"
    )
    with pytest.raises(CatalogError) as e:
        loader.load(cat)
    got = [(p.line, p.message) for p in e.value.problems]
    assert got == [
        (3, "duplicate row for A at central (first on line 2)"),
        (4, "expected 4 columns, found 2"),
        (6, "on_hand '1.5' is not a whole number (digits 0-9)"),
    ]


def test_stock_csv_header(tmp_path: Path) -> None:
    cat = copy_base(tmp_path)
    (cat / "stock.csv").write_text("sku,qty\n")
    with pytest.raises(CatalogError, match="invalid") as e:
        loader.load(cat)
    assert "header lacks column(s) location, on_hand" in e.value.problems[0].message


def test_packaged_schemas_are_an_identical_copy_of_schemas_dir() -> None:
    canonical = ROOT / "schemas"
    packaged = ROOT / "reconciler" / "data" / "schemas"
    names = sorted(p.name for p in canonical.glob("*.schema.json"))
    assert names == sorted(p.name for p in packaged.glob("*.schema.json"))
    assert {f"{k}.schema.json" for k in loader.SCHEMA_KINDS} <= set(names)
    _, mismatch, errors = filecmp.cmpfiles(canonical, packaged, names, shallow=False)
    assert mismatch == [] and errors == [], (
        "reconciler/data/schemas/ differs from schemas/: "
        "run `cp schemas/*.schema.json reconciler/data/schemas/`"
    )


def test_schemas_are_valid_json_schemas() -> None:
    import jsonschema

    for kind in loader.SCHEMA_KINDS:
        s = loader.schema(kind)
        jsonschema.validators.validator_for(s).check_schema(s)


# --------------------------------------------------------------------------- fast checker

KIND_OF = {"reconciler.yaml": "reconciler", "rates.yaml": "rates", "pricing.yaml": "pricing",
           "locations.yaml": "locations"}


def _documents() -> list[tuple[str, object]]:
    docs = []
    for top in [ROOT / "catalog", *sorted((ROOT / "tests" / "catalogs").iterdir())]:
        for p in sorted(top.rglob("*.yaml")):
            kind = KIND_OF.get(p.name, "sku" if "skus" in p.parts else None)
            if kind is None:
                continue
            try:
                data, problems = parse_yaml(p.read_text("utf-8"), p.name)
            except UnicodeDecodeError:
                continue
            if not problems and data is not None:
                docs.append((kind, _plain(data)))
    return docs


def _plain(x: object) -> object:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


DOCS = _documents()


@functools.cache
def _checkers(kind: str) -> tuple[Any, Any]:

    from reconciler.catalog.schemacheck import compile_schema

    # the reference is jsonschema with JSON Schema's (ECMA-262) pattern meaning, as the loader
    # runs it: Python's own "$" would also match before a final newline
    return loader._validator(kind), compile_schema(loader.schema(kind))


def _agrees(kind: str, data: object) -> None:
    reference, fast = _checkers(kind)
    assert fast(data) == reference.is_valid(data), (kind, data)


def test_fast_checker_agrees_on_every_catalog_file() -> None:
    assert len(DOCS) > 50
    for kind, data in DOCS:
        _agrees(kind, data)


_VALUES = st.one_of(
    st.sampled_from([None, True, False, 0, 1, -3, 40, "", "US", "us", "XX", "env/A_B",
                     "absent", "present", "PRODUCT", ".99", "central", "2026-11-20",
                     "emulator", "https://x.example", "x" * 700, [], {}, ["US", "US"],
                     [1, True], {"template": "a.j2"}, {"template": 3}, {"a": -1},
                     {"newark": 3}, Decimal("1.5"), Decimal("-0.01")]),
    st.integers(-5, 50),
    st.text(max_size=5),
)


def _paths(x: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix]
    if isinstance(x, dict):
        for k, v in x.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_checker_agrees_with_jsonschema_on_mutations(data: st.DataObject) -> None:
    import copy

    kind, doc = data.draw(st.sampled_from(DOCS))
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        if not path:
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]  # type: ignore[index]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = copy.deepcopy(data.draw(_VALUES))  # type: ignore[index]
        elif action == "delete":
            del parent[path[-1]]  # type: ignore[arg-type]
        elif isinstance(parent, dict):
            parent[data.draw(st.sampled_from(["bogus", "US", "mli", "min", "Z-1"]))] = (
                copy.deepcopy(data.draw(_VALUES)))
        _agrees(kind, doc)


def test_fast_checker_agrees_on_boundary_values_at_every_leaf() -> None:
    import copy

    docs = [(k, d) for k, d in DOCS if k != "sku"][:5] + [
        (k, d) for k, d in DOCS if k == "sku"][:3]
    checked = 0
    for kind, doc in docs:
        for path in _paths(doc):
            if not path:
                continue
            for value in (0, -1, "", None, Decimal("0"), True, "x" * 201):
                mutated = copy.deepcopy(doc)
                parent = mutated
                for step in path[:-1]:
                    parent = parent[step]  # type: ignore[index]
                parent[path[-1]] = value  # type: ignore[index]
                _agrees(kind, mutated)
                checked += 1
    assert checked > 1000


_YAML_BITS = st.sampled_from([
    "a", ": ", "- ", "\n", "  ", "\t", "[", "]", "{", "}", ",", "&x ", "*x", "<<: ", "? ",
    "!!python/object:os.system ", "!x ", "'", '"', "#", "---\n", "...\n", "|\n", ">\n",
    "1.5", "0x1F", "~", "yes", "2026-11-20", ".inf", "%YAML 1.1\n", "\x00", "\ufeff", "é",
])


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(_YAML_BITS, max_size=40).map("".join) | st.text(max_size=60))
def test_yaml_reader_never_crashes(text: str) -> None:
    data, problems = parse_yaml(text, "f.yaml")
    assert problems or data is None or isinstance(data, (YDict, YList, str, int, Decimal,
                                                         bool))
    for p in problems:
        assert p.file == "f.yaml" and p.message
