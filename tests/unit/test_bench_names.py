"""Every `python3 dev.py bench NAME` the docs show is a benchmark bench/run.py knows."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_benchmark_the_docs_name_is_known() -> None:
    spec = importlib.util.spec_from_file_location("offhours_bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    docs = "".join(
        (ROOT / name).read_text(encoding="utf-8") for name in ("README.md", "docs/benchmarks.md")
    )
    named = set(re.findall(r"dev\.py bench (\w+)", docs))
    assert "package" in named
    assert named <= set(run.BENCHES)
