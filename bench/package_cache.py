"""The Lambda zip `deploy plan` and `apply` need: built (an empty cache) against reused from the
build cache — side by side, in one run.

    python3 dev.py bench cache [--rounds 3] [--wheelhouse DIR]

Each round starts with an empty cache directory: the cold call builds the zip as `deploy plan`
does without `--package` (pip installs from the hashed lock, the bytecode is compiled) and keeps
it; the warm call that follows computes the key, checks the kept zip's hash and copies it. Both
go through `offhours.deploy.package_cache.cached_package`, the one step plan and apply call.
The figure is the median of the rounds; the ratio is against the cold build (the baseline).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from offhours.deploy.package import default_runtime
from offhours.deploy.package_cache import cached_package

ROOT = Path(__file__).resolve().parents[1]


def _once(cache: Path, out: Path, wheelhouse: Path | None) -> tuple[float, bool]:
    start = time.perf_counter()
    _, reused = cached_package(
        out,
        runtime=default_runtime(),
        architecture="x86_64",
        find_links=[wheelhouse] if wheelhouse else [],
        no_index=wheelhouse is not None,
        holiday_countries=["US"],
        directory=cache,
    )
    return time.perf_counter() - start, reused


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="dev.py bench cache", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    default = os.environ.get("OFFHOURS_WHEELHOUSE") or str(ROOT / ".wheelhouse")
    parser.add_argument("--wheelhouse", type=Path, default=Path(default))
    args = parser.parse_args(argv)
    wheelhouse = args.wheelhouse if args.wheelhouse.is_dir() else None
    cold: list[float] = []
    warm: list[float] = []
    for n in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="offhours-bench-cache-") as tmp:
            cache, out = Path(tmp) / "cache", Path(tmp) / "out"
            built, reused_first = _once(cache, out / "cold.zip", wheelhouse)
            again, reused = _once(cache, out / "warm.zip", wheelhouse)
            if reused_first or not reused:
                sys.exit("the cache did not behave: the first call must build, the second reuse")
            cold.append(built)
            warm.append(again)
            print(f"round {n + 1}: cold {built:.2f} s, warm {again:.2f} s", flush=True)
    base = statistics.median(cold)
    print()
    print(
        "| the zip plan needs | "
        + " | ".join(f"round {i + 1} (s)" for i in range(len(cold)))
        + " | median (s) | vs cold |"
    )
    print("|---|" + "---:|" * (len(cold) + 2))
    for name, values in (("cold (built)", cold), ("warm (reused from the cache)", warm)):
        cells = " | ".join(f"{v:.2f}" for v in values)
        median = statistics.median(values)
        print(f"| {name} | {cells} | {median:.2f} | {median / base:.3f}× |")


if __name__ == "__main__":
    main(sys.argv[1:])
