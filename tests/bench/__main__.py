"""``make bench``: run every benchmark module; print one ``bench <name> <value> <unit>`` line per figure."""

from __future__ import annotations

import importlib
import sys
import traceback

MODULES = ["tests.bench.pathway", "tests.bench.engine", "tests.bench.monitoring", "tests.bench.http",
           "tests.bench.scheduler"]


def main() -> int:
    figures: dict[str, tuple[float, str]] = {}
    failed = 0
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                print(f"# {name}: not present", flush=True)
                continue
            raise
        print(f"# running {name}", flush=True)
        try:
            figures.update(module.run())
        except Exception:  # noqa: BLE001 - report and continue with the other benchmarks
            failed += 1
            traceback.print_exc()
    for key, (value, unit) in figures.items():
        print(f"bench {key} {value:.3f} {unit}" if value < 1000 else f"bench {key} {value:.0f} {unit}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
