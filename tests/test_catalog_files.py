"""Every whole-file error names the file (issue 12 item 11).

A catalog path that can't be read as a file gives one problem naming that path, exit 1, no
traceback, and never hangs: symlink loops (a file, the ``skus`` directory), a directory where a
file should be (``reconciler.yaml``, ``rates.yaml``, ``stock.csv``) and a file where a directory
should be (``skus``, ``templates``), a named pipe or a device (reading one would block or never
end), a file over the size limit, a file that is not UTF-8. Each case runs ``validate`` in a
subprocess with a timeout, so a regression that hangs fails instead of blocking the suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.test_validate_cli import BASE

ROOT = Path(__file__).resolve().parent.parent


def _replace_with_dir(cat: Path, rel: str) -> None:
    (cat / rel).unlink()
    (cat / rel).mkdir()
    (cat / rel / "inner.yaml").write_text("a: 1\n", "utf-8")


def _replace_with_file(cat: Path, rel: str) -> None:
    shutil.rmtree(cat / rel)
    (cat / rel).write_text("not a directory\n", "utf-8")


def _loop(cat: Path, rel: str) -> None:
    p = cat / rel
    if p.is_dir():
        shutil.rmtree(p)
    elif p.exists():
        p.unlink()
    p.symlink_to(p.name)  # points at itself


def _fifo(cat: Path, rel: str) -> None:
    (cat / rel).unlink()
    os.mkfifo(cat / rel)


def _device(cat: Path, rel: str) -> None:
    (cat / rel).unlink()
    (cat / rel).symlink_to("/dev/zero")


def _huge(cat: Path, rel: str) -> None:
    with (cat / rel).open("ab") as fh:
        fh.truncate(60 * 1024 * 1024)  # sparse: instant, never read


def _latin1(cat: Path, rel: str) -> None:
    (cat / rel).write_bytes("sku,location,on_hand\nCAF\xc9,central,3\n".encode("latin-1"))


CASES: list[tuple[str, Callable[[Path, str], None], str, str]] = [
    ("reconciler.yaml", _loop, "reconciler.yaml", "symlink loop"),
    ("skus/mug.yaml", _loop, "skus/mug.yaml", "symlink loop"),
    ("skus", _loop, "skus", "symlink loop"),
    ("templates/title.en.j2", _loop, "templates/title.en.j2", "symlink loop"),
    ("reconciler.yaml", _replace_with_dir, "reconciler.yaml", "is a directory"),
    ("rates.yaml", _replace_with_dir, "rates.yaml", "is a directory"),
    ("stock.csv", _replace_with_dir, "stock.csv", "is a directory"),
    ("skus", _replace_with_file, "skus", "is not a directory"),
    ("templates", _replace_with_file, "templates", "is not a directory"),
    ("stock.csv", _fifo, "stock.csv", "not a regular file"),
    ("pricing.yaml", _fifo, "pricing.yaml", "not a regular file"),
    ("stock.csv", _device, "stock.csv", "outside the catalog"),
    ("reconciler.yaml", _huge, "reconciler.yaml", "over the 5 MB limit"),
    ("stock.csv", _huge, "stock.csv", "over the 50 MB limit"),
    ("stock.csv", _latin1, "stock.csv", "not valid UTF-8"),
]


@pytest.mark.parametrize(
    ("rel", "make", "named", "message"), CASES, ids=[f"{c[1].__name__}-{c[0]}" for c in CASES]
)
def test_whole_file_error_names_the_file(
    tmp_path: Path, rel: str, make: Callable[[Path, str], None], named: str, message: str
) -> None:
    cat = tmp_path / "catalog"
    shutil.copytree(BASE, cat)
    make(cat, rel)
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", str(cat)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out and "unexpected error" not in out, out
    lines = [ln for ln in out.splitlines() if ln.startswith(f"  - {named}")]
    assert lines and message in lines[0], out
