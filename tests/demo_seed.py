"""Regenerate the embedded emulator's demo seed from a catalog (a maintainer's script):

    python -m tests.demo_seed catalog > reconciler/emulator/data/demo_seed.json

It lives here, not in the emulator, because the emulator never imports the catalog stage."""

from __future__ import annotations

import sys
from datetime import date

from reconciler.catalog.loader import load_desired
from reconciler.emulator.demo import seed_json


def main(argv: list[str]) -> int:
    catalog = argv[0] if argv else "catalog"
    sys.stdout.write(seed_json(load_desired(catalog, today=date.today())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
