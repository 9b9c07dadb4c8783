"""Template bombs are refused quickly and small (issue 12 item 11, must-show 6).

Each fixture ``tests/catalogs/bad-template-bomb-*`` replaces a title template of the base
catalog with one bomb: loops of joins, string multiplication (a list of big strings joined),
a format width taken from data, ``expandtabs``, a tower of ``**``, include fan-out (64 includes
of 64 includes of ...). Each is validated in a fresh Python process, which reports the time
``validate`` took (interpreter start and imports excluded: they don't depend on the catalog)
and its peak memory (``ru_maxrss``, the whole process). Must-show 6: under 2 s and 200 MB, with
file:line. The child runs under an address-space limit, so a regression fails the test instead
of the machine.

The unit tests below cover the single limits of ``reconciler.catalog.template_limits``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.catalog.texts import TemplateProblem, Texts
from reconciler.kernel.errors import CatalogError
from tests.test_validate_cli import CATALOGS, build_fixture

BOMBS = sorted(p for p in CATALOGS.iterdir() if p.name.startswith("bad-template-bomb-"))
MAX_SECONDS = 2.0
MAX_RSS_MB = 200

_CHILD = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))
from click.testing import CliRunner
from reconciler.cli import main
started = time.perf_counter()
r = CliRunner().invoke(main, ["validate", sys.argv[1]])
seconds = time.perf_counter() - started
# VmHWM is this process image's own peak: getrusage's ru_maxrss survives exec on Linux and so
# starts at the forking pytest's size (~300 MB in a full run)
with open("/proc/self/status") as f:
    rss_mb = next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:")) / 1024
print(json.dumps({"seconds": seconds, "rss_mb": rss_mb, "exit": r.exit_code,
                  "output": r.output[-4000:]}))
"""


def test_the_six_bombs_are_there() -> None:
    names = {p.name.removeprefix("bad-template-bomb-") for p in BOMBS}
    assert names == {"join-loop", "string-multiplication", "format-width", "expandtabs",
                     "power-tower", "include-fanout"}


@pytest.mark.parametrize("fixture", BOMBS, ids=lambda p: p.name)
def test_bomb_is_refused_fast_and_small(fixture: Path, tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    expect = build_fixture(fixture, cat)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(cat)], capture_output=True, text=True,
        timeout=120, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    where = f"  - {expect['file']}, line {expect['line']}"
    assert got["exit"] == 1, got["output"]
    assert any(ln.startswith(where) and str(expect["message"]) in ln
               for ln in got["output"].splitlines()), got["output"]
    assert got["seconds"] < MAX_SECONDS, got
    assert got["rss_mb"] < MAX_RSS_MB, got


# --------------------------------------------------------------------------- single limits


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ (['x' * 20000] * 20000)|join|length }}", "join filter"),
        ("{{ ''.join(['x' * 20000] * 20000)|length }}", "str.join"),
        ("{{ ('\\t' * 20000).expandtabs(20000)|length }}", "expandtabs"),
        ("{{ ('\\t' * 5000).expandtabs()|length }}", "expandtabs"),
        ("{{ '%*d'|format(300000000, 1) }}", "format width taken from data"),
        ("{{ '%*d' % (300000000, 1) }}", "format width taken from data"),
        ("{{ '%.*f' % (300000000, 1) }}", "format width taken from data"),
        ("{{ '%.99999f' % 1 }}", "format width of 99999"),
        ("{{ ('%' ~ 300000000 ~ 'd') % 1 }}", "format width of 300000000"),
        ("{{ '{:>{w}}'.format('x', w=300000000) }}", "format width taken from data"),
        ("{{ '{0:{1}}'.format('x', 300000000) }}", "format width taken from data"),
        ("{{ '{:>300000000}'.format_map({}) }}", "format width of 300000000"),
        ("{{ ((9 ** 64) ** 64) ** 64 }}", "tower of **"),
        ("{{ (2 ** 64) * (2 ** 64) * (2 ** 64) }}", "ok"),
        ("{{ 'x'.translate({120: 'y' * 20000}) }}", "str.translate is not allowed"),
        ("{{ ('x' * 20000) + ('x' * 20000) }}", "'+'"),
        ("{{ ('\n' * 5000)|indent('x' * 100) }}", "indent filter"),
        ("{{ ('a ' * 5000)|wordwrap(1, true, 'x' * 100) }}", "wordwrap filter"),
        ("{{ range(10)|batch(100000000, 'x')|list|length }}", "batch filter"),
        ("{{ range(10)|slice(100000000)|list|length }}", "slice filter"),
        ("{{ ('x' * 20000)|map('list')|sum(start=[])|length }}", "sum filter adds numbers"),
        ("{{ ['x' * 20000, 'x' * 20000]|length }}{{ (['x' * 20000] * 1)|length }}", "ok"),
        ("{% for i in range(1000) %}{{ ['x' * 19999]|length }}{% endfor %}",
         "builds more than 2,000,000 characters"),
        ("{% with l = [1] %}{{ l.append(2) }}{% endwith %}", "sandbox"),
        ("{{ 'a b'|urlize }}", "template syntax error"),  # the filter is gone
    ],
)
def test_single_limits(source: str, message: str) -> None:
    t = Texts({"t.j2": source})
    if message == "ok":
        assert t.render("t.j2", {})
        return
    problems = [p.message for p in t.check_all()]
    if not problems:
        with pytest.raises(TemplateProblem) as ei:
            t.render("t.j2", {})
        problems = [ei.value.message]
    assert message in problems[0], problems


def test_a_loop_that_never_prints_is_stopped_by_the_deadline() -> None:
    # 20,000 iterations (a string is iterable), each a few bounded operations: no output, no
    # size limit crossed, but far over the time limit
    src = ("{% for c in 'x' * 20000 %}{% if (('y' * 2000)|replace('y', 'zz')|upper|lower"
           "|list|sort|unique|list|length) > 1 %}{% endif %}{% endfor %}done")
    t = Texts({"slow.j2": src})
    with pytest.raises(TemplateProblem) as ei:
        t.render("slow.j2", {})
    assert "ran longer than" in ei.value.message or "builds more than" in ei.value.message
    assert ei.value.line == 1


def test_a_refused_template_is_refused_at_once_for_the_next_sku() -> None:
    t = Texts({"b.j2": "{{ '%*d' % (300000000, 1) }}"})
    with pytest.raises(TemplateProblem):
        t.render("b.j2", {"sku": "A"})
    with pytest.raises(TemplateProblem, match="format width"):
        t.render("b.j2", {"sku": "B"})


def test_the_whole_catalog_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.catalog import texts

    monkeypatch.setattr(texts, "MAX_CATALOG_OUTPUT", 50_000)
    t = Texts({"big.j2": "{{ 'x' * 19000 }}"})
    t.render("big.j2", {})
    t.render("big.j2", {})
    with pytest.raises(CatalogError) as ei:
        t.render("big.j2", {})
    assert ei.value.problems[0].file == "templates/big.j2"
    assert "in total" in ei.value.problems[0].message


def test_ordinary_templates_still_work() -> None:
    t = Texts({"ok.j2": "{{ brand|upper }} {{ '%-5s|'|format(n) }}{{ '{:>6.2f}'.format(p) }} "
                        "{{ ['a', 'b']|join(', ') }} {{ ('x' ~ n)|center(9) }} {{ 2 ** 10 }} "
                        "{{ ('a\tb').expandtabs(4) }} {{ 'x' + 'y' }}"})
    out = t.render("ok.j2", {"brand": "birch", "n": 7, "p": 3.14159})
    assert out == "BIRCH 7    |  3.14 a, b     x7    1024 a   b xy"


@pytest.mark.parametrize(
    "source",
    ["{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "{{ " + "-" * 20000 + "1 }}",
     "{% if 1 %}" * 3000 + "{% endif %}" * 3000],
)
def test_deep_nesting_is_a_problem_not_a_crash(source: str) -> None:
    problems = Texts({"deep.j2": source}).check_all()
    assert [p.template for p in problems] == ["deep.j2"]
    assert "nested too deeply" in problems[0].message
