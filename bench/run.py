"""Run a benchmark by name: `python3 dev.py bench slack|package|cache|hostile|aws|memory [ARGS]`
(default: all)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aws_fleet
import hostile_servers
import lambda_package
import memory
import package_cache
import slack_batching

BENCHES = {
    "slack": slack_batching.main,
    "package": lambda_package.main,
    "cache": package_cache.main,
    "hostile": hostile_servers.main,
    "aws": aws_fleet.main,
    "memory": memory.main,
}


def main(argv: list[str]) -> None:
    if argv and argv[0] in BENCHES:
        BENCHES[argv[0]](argv[1:])
        return
    if argv:
        sys.exit(f"unknown benchmark {argv[0]!r}; known: {', '.join(BENCHES)}")
    for bench in BENCHES.values():
        bench([])


if __name__ == "__main__":
    main(sys.argv[1:])
