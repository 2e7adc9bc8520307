#!/usr/bin/env python3
"""Set-up and checks in one place, needing only Python 3.11+.

    python3 dev.py demo [ARGS]   create .venv if needed, install offhours, run `offhours demo`
    python3 dev.py test [ARGS]   create .venv if needed, install offhours[dev], fill the offline
                                 wheelhouse the packaging tests use, run ruff, mypy and pytest
                                 (ARGS go to pytest)
    python3 dev.py bench [ARGS]  run the benchmarks in bench/ (not part of the tests)

The venv is rebuilt only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("OFFHOURS_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT)  # noqa: S603 - our own tools
    if code:
        sys.exit(code)


def ensure_venv(extra: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py itself may run on an older Python
        sys.exit(f"offhours needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extra.encode()).hexdigest()
    stamp = VENV / ".offhours-installed"
    if stamp.is_file() and stamp.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        print(f"+ creating {VENV}", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except Exception as exc:  # noqa: BLE001 - explain the usual cause instead of a traceback
            sys.exit(
                f"could not create a venv at {VENV} ({exc}); on Debian/Ubuntu: "
                "apt-get install python3-venv"
            )
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "--quiet", "-e", f".{extra}")
    stamp.write_text(digest)


def ensure_wheelhouse() -> None:
    """Wheels for offline Lambda package builds: the tests build zips without the network."""
    house = Path(os.environ.get("OFFHOURS_WHEELHOUSE", ROOT / ".wheelhouse"))
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = house / ".offhours-filled"
    if stamp.is_file() and stamp.read_text() == digest:
        return
    # The venv's Python: the unpacked test zips are imported by it.
    runtime = subprocess.check_output(  # noqa: S603 - our own venv's interpreter
        [str(PY), "-c", "import sys; print(f'python3.{sys.version_info.minor}')"], text=True
    ).strip()
    run(
        PY,
        "-m",
        "offhours.deploy.package",
        "--wheelhouse",
        house,
        "--runtime",
        runtime,
        "--architecture",
        "x86_64",
        "--architecture",
        "arm64",
    )
    stamp.write_text(digest)


def main(argv: list[str]) -> None:
    what, args = (argv[0], argv[1:]) if argv else ("", [])
    if what == "demo":
        ensure_venv("")
        run(BIN / "offhours", "demo", *args)
    elif what == "test":
        ensure_venv("[dev]")
        ensure_wheelhouse()
        run(BIN / "ruff", "check", "src", "tests", "bench", "dev.py")
        run(BIN / "ruff", "format", "--check", "src", "tests", "bench", "dev.py")
        run(BIN / "mypy")
        run(PY, "-m", "pytest", *args)
    elif what == "bench":
        ensure_venv("[dev]")
        run(PY, "bench/run.py", *args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
