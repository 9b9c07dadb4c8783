"""Mutation testing of the pure stages on a seeded random sample of mutants (mutmut 3).

``[tool.mutmut]`` in pyproject.toml says what is mutated (the pure stages) and which tests run.
mutmut itself cannot sample, so this script lists every mutant mutmut generated, draws a sample
with :class:`random.Random` (same seed and same code: same sample), runs only those, and prints
the score. ``--only GLOB`` runs every mutant whose name matches instead (e.g. all safety checks:
``--only 'reconciler.plan.safety.*'``).

Mutants listed in ``bench/mutation_equivalent.txt`` (one name a line, ``#`` and a reason after
it) were judged equivalent by hand: they cannot change behaviour, so the score leaves them out.
Mutant names follow the code (``x_<function>__mutmut_<n>``): re-check that list when a mutated
function changes.

Usage (from the repository root, after ``pip install -e '.[test,mutation]'``)::

    python bench/mutation_sample.py --fresh --seed 13 --size 480
    python bench/mutation_sample.py --only 'reconciler.plan.safety.*'

Needs fork (Linux, macOS). Takes tens of minutes on 2 cores: not for CI. The summary goes to
stdout, the details to ``bench/results/mutation-<label>.json``, mutmut's own output to
``bench/results/mutation-<label>.log``. ``mutmut show NAME`` prints a mutant's diff.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
RESULTS = ROOT / "bench" / "results"
EQUIVALENT = ROOT / "bench" / "mutation_equivalent.txt"
# A mutant that always exists: running it alone makes mutmut generate every mutant and collect
# which tests reach which function, so the others can be listed.
BOOTSTRAP = "reconciler.catalog.allocation.x_allocate__mutmut_1"

# mutmut's exit codes (mutmut/stats.py); anything else is "suspicious"
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests",
          34: "skipped", 35: "suspicious", 36: "timeout", 37: "caught by type check",
          -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout", -11: "segfault",
          -9: "segfault", None: "not checked"}
DETECTED = {"killed", "timeout", "caught by type check", "segfault"}


def mutmut_exe() -> str:
    exe = Path(sys.executable).parent / "mutmut"
    found = str(exe) if exe.exists() else shutil.which("mutmut")
    if not found:
        sys.exit("mutmut is not installed: pip install -e '.[mutation]'")
    return found


def results() -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        out.update(json.loads(meta.read_text("utf-8"))["exit_code_by_key"])
    return out


def equivalents() -> dict[str, str]:
    out = {}
    if EQUIVALENT.exists():
        for line in EQUIVALENT.read_text("utf-8").splitlines():
            name, _, reason = line.partition("#")
            if name.strip():
                out[name.strip()] = reason.strip()
    return out


def run(names: list[str], max_children: int, log: Path) -> None:
    with log.open("a", encoding="utf-8") as out:
        cmd = [mutmut_exe(), "run", "--max-children", str(max_children), *names]
        out.write(f"$ mutmut run --max-children {max_children} <{len(names)} names>\n")
        out.flush()
        subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--size", type=int, default=480)
    ap.add_argument("--only", metavar="GLOB", help="every mutant matching GLOB, no sample")
    ap.add_argument("--max-children", type=int, default=2)
    ap.add_argument("--fresh", action="store_true",
                    help="delete mutants/ first (needed after changing existing tests)")
    args = ap.parse_args(argv)

    label = f"only-{args.only.replace('*', '_')}" if args.only else f"seed{args.seed}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = RESULTS / f"mutation-{label}.log"
    log.write_text("", "utf-8")
    if args.fresh and MUTANTS.exists():
        shutil.rmtree(MUTANTS)
    started = time.monotonic()
    if not results():
        run([BOOTSTRAP], args.max_children, log)
    everything = sorted(results())
    if not everything:
        print(f"mutmut generated no mutants: see {log}", file=sys.stderr)
        return 2
    if args.only:
        chosen = [n for n in everything if fnmatch.fnmatch(n, args.only)]
    else:
        size = min(args.size, len(everything))
        chosen = sorted(random.Random(args.seed).sample(everything, size))
    run(chosen, args.max_children, log)
    elapsed = time.monotonic() - started

    codes = results()
    eq = equivalents()
    status = {n: STATUS.get(codes.get(n), "suspicious") for n in chosen}
    counts = Counter(status.values())
    survivors = sorted(n for n, s in status.items() if s not in DETECTED)
    real = [n for n in survivors if n not in eq]
    judged = [n for n in survivors if n in eq]
    scored = len(chosen) - len(judged)
    killed = sum(1 for s in status.values() if s in DETECTED)
    by_file: dict[str, Counter[str]] = {}
    for n, s in status.items():
        by_file.setdefault(re.split(r"\.x[_ǁ]", n)[0], Counter())[s] += 1

    what = f"every mutant matching {args.only}" if args.only else (
        f"seed {args.seed}, {len(chosen)} of {len(everything)} mutants")
    print(f"mutation testing: {what}, {elapsed / 60:.1f} min")
    for module, c in sorted(by_file.items()):
        print(f"  {module:36} " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    print(f"  statuses: {dict(sorted(counts.items()))}")
    print(f"  survivors: {len(survivors)} ({len(judged)} judged equivalent, {len(real)} not)")
    print(f"  score: {killed}/{len(chosen)} = {killed / len(chosen):.1%} of all mutants; "
          f"{killed}/{scored} = {killed / max(scored, 1):.1%} of non-equivalent ones")
    for n in real:
        print(f"  SURVIVED {n}")
    report = {
        "seed": None if args.only else args.seed, "only": args.only, "size": len(chosen),
        "total_mutants": len(everything), "minutes": round(elapsed / 60, 1),
        "statuses": dict(counts), "killed": killed, "scored": scored,
        "equivalent": {n: eq[n] for n in judged}, "survived": real, "sample": chosen,
    }
    (RESULTS / f"mutation-{label}.json").write_text(json.dumps(report, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
