"""Templates run sandboxed with StrictUndefined.

Covers rendering with variables, syntax errors with lines, undefined variables named, the
sandbox refusing attribute walks *without executing anything*, bounded string
multiplication, and includes that cannot leave the given templates.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.catalog.texts import TemplateProblem, Texts


def test_renders_with_variables_and_trims() -> None:
    src = "  {{ brand }} Mug, {{ oz }} oz{% if dw %} – dishwasher safe{% endif %}\n"
    t = Texts({"title.j2": src})
    assert t.render("title.j2", {"brand": "Birchwood", "oz": 12, "dw": True}) == (
        "Birchwood Mug, 12 oz – dishwasher safe"
    )


def test_includes_resolve_among_given_templates_only() -> None:
    t = Texts({"a.j2": "{% include 'b.j2' %}!", "b.j2": "hi", "c.j2": "{% include '../x' %}"})
    assert t.render("a.j2", {}) == "hi!"
    with pytest.raises(TemplateProblem, match="does not exist"):
        t.render("c.j2", {})


def test_syntax_error_has_a_line() -> None:
    t = Texts({"bad.j2": "line one\n{{ oops(\n"})
    problems = t.check_all()
    assert len(problems) == 1
    assert problems[0].template == "bad.j2" and problems[0].line >= 2
    assert "template syntax error" in problems[0].message


def test_undefined_variable_is_an_error_with_its_line() -> None:
    t = Texts({"t.j2": "fine\n{{ colour }}"})
    with pytest.raises(TemplateProblem) as e:
        t.render("t.j2", {"color": "red"})
    assert e.value.line == 2
    assert "'colour' is undefined" in e.value.message and "available: color" in e.value.message


def test_sandbox_refuses_class_walks() -> None:
    t = Texts({"x.j2": "{{ ''.__class__.__mro__ }}"})
    with pytest.raises(TemplateProblem, match="refused by the sandbox"):
        t.render("x.j2", {})


def test_sandbox_escape_is_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payloads = [
        "{{ cycler.__init__.__globals__.os.system('touch %s') }}",
        "{{ ''.__class__.__mro__[1].__subclasses__()[0].__init__.__globals__['os']"
        ".system('touch %s') }}",
        "{{ self._TemplateReference__context.cycler.__init__.__globals__.os"
        ".system('touch %s') }}",
        "{{ lipsum.__globals__['os'].popen('touch %s').read() }}",
    ]
    for i, p in enumerate(payloads):
        t = Texts({f"p{i}.j2": p % marker})
        with pytest.raises(TemplateProblem):
            t.render(f"p{i}.j2", {})
    assert not marker.exists()


def test_string_multiplication_is_bounded() -> None:
    t = Texts({"m.j2": "{{ 'x' * 1000000000 }}", "p.j2": "{{ 9 ** 9999 }}",
               "ok.j2": "{{ '-' * 3 }}"})
    with pytest.raises(TemplateProblem, match="longer than"):
        t.render("m.j2", {})
    with pytest.raises(TemplateProblem, match="exponent too large"):
        t.render("p.j2", {})
    assert t.render("ok.j2", {}) == "---"


def test_unknown_template() -> None:
    with pytest.raises(TemplateProblem, match="no such template"):
        Texts({}).render("nope.j2", {})


def test_runtime_errors_become_problems() -> None:
    t = Texts({"z.j2": "{{ 1 / 0 }}"})
    with pytest.raises(TemplateProblem, match="ZeroDivisionError"):
        t.render("z.j2", {})


@pytest.mark.parametrize(
    ("source", "message", "line"),
    [
        ("{% for a in range(9) %}\n{% for b in range(9) %}x{% endfor %}{% endfor %}",
         "loops inside loops", 2),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "macros and call blocks", 1),
        ("{% for a in [1] recursive %}{{ loop(a) }}{% endfor %}", "recursive loops", 1),
        ("{% for a in [1] %}{% include 'b.j2' %}{% endfor %}", "includes inside loops", 1),
    ],
)
def test_work_multiplying_features_are_refused(source: str, message: str, line: int) -> None:
    t = Texts({"a.j2": source, "b.j2": "b"})
    problems = t.check_all()
    assert [(p.template, p.line) for p in problems] == [("a.j2", line)]
    assert message in problems[0].message


def test_range_and_output_are_bounded() -> None:
    t = Texts({"r.j2": "{% for i in range(1000000) %}{% endfor %}",
               "o.j2": "{% for i in range(1000) %}{{ 'x' * 100 }}{% endfor %}",
               "ok.j2": "{% for i in range(3) %}{{ i }}{% endfor %}"})
    with pytest.raises(TemplateProblem, match="range"):
        t.render("r.j2", {})
    with pytest.raises(TemplateProblem, match="renders more than"):
        t.render("o.j2", {})
    assert t.render("ok.j2", {}) == "012"


def test_runaway_recursion_is_a_problem_not_a_crash() -> None:
    t = Texts({"self.j2": "{% include 'self.j2' %}"})
    with pytest.raises(TemplateProblem):
        t.render("self.j2", {})


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a'.center(1000000000) }}",
        "{{ 'ab'.ljust(99999999) }}",
        "{{ ('a' * 20000).replace('a', 'aaaa') }}",
        "{{ 'a'|replace('a', 'a' * 20000)|replace('a', 'a' * 20000) }}",
        "{{ 'x'|center(100000000) }}",
        "{{ 'x'|indent(100000000, true) }}",
        "{{ '%100000000s' % 'x' }}",
        "{{ '%100000000s'|format('x') }}",
        "{{ '{:>100000000}'.format('x') }}",
        "{{ lipsum(100000) }}",
    ],
)
def test_memory_bombs_are_refused(source: str) -> None:
    t = Texts({"bomb.j2": source})
    with pytest.raises(TemplateProblem):
        t.render("bomb.j2", {})


def test_set_and_namespace_are_refused() -> None:
    t = Texts({"s.j2": "{% set s = 'ab' %}{% set s = s ~ s %}{{ s }}"})
    assert "{% set %} is not allowed" in t.check_all()[0].message


def test_huge_template_is_refused() -> None:
    t = Texts({"big.j2": "x" * (64 * 1024 + 1)})
    assert "over 64 KB" in t.check_all()[0].message


def test_ordinary_formatting_still_works() -> None:
    t = Texts({"f.j2": "{{ '%05.2f'|format(3.14159) }} {{ 'ab'|center(6) }}|"
                       "{{ 'a-b'.replace('-', ' / ') }} {{ '{:>4}'.format(7) }}"})
    assert t.render("f.j2", {}) == "03.14   ab  |a / b    7"
