#!/usr/bin/env python3
"""Set-up and checks in one place, needing only Python 3.11+.

    python3 dev.py demo [ARGS]   create .venv if needed, install offhours[cli], run `offhours demo`
    python3 dev.py test [ARGS]   create .venv if needed, install offhours[dev], fill the offline
                                 wheelhouse the packaging tests use, run ruff, mypy and pytest
                                 (in parallel: pytest-xdist's -n auto --dist worksteal; ARGS go
                                 to pytest, and -n 0 runs it in one process)
    python3 dev.py bench [ARGS]  run the benchmarks in bench/ (not part of the tests); `bench aws`
                                 also installs the `bench` extra (Cloud Custodian) into a venv
                                 of its own, .venv-custodian
    python3 dev.py lock          recompile src/offhours/deploy/lambda-requirements.lock, the
                                 pinned and hashed dependencies of the Lambda zip, and
                                 build-requirements.lock, the build back-end (setuptools) that
                                 makes offhours' wheel, from pyproject.toml (needs network
                                 access; uses uv in a throwaway venv, or the uv on PATH)

The venv is rebuilt only when pyproject.toml changes; the wheelhouse is refilled when
pyproject.toml or either lock changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("OFFHOURS_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
LOCK = ROOT / "src" / "offhours" / "deploy" / "lambda-requirements.lock"
LOCK_HEADER = """\
# The Lambda zip's dependencies: each pinned, with the SHA-256 of every file of that version,
# so one lock serves python3.11 … and both architectures, and a build installs exactly these
# bytes (pip --require-hashes). boto3 and the CLI stack are not in the zip, nor here.
# Do not edit by hand: `python3 dev.py lock` compiles it from pyproject.toml.
"""
BUILD_LOCK = LOCK.with_name("build-requirements.lock")
BUILD_LOCK_HEADER = """\
# The build back-end that turns offhours into a wheel: pinned, with the SHA-256 of every file
# of that version, so the wheel's metadata (WHEEL's Generator, METADATA's format) and the code
# that runs on the build machine are the locked ones (pip --require-hashes). setuptools needs
# nothing else to build a wheel (it has bdist_wheel itself since 70.1; `wheel` is not needed).
# Do not edit by hand: `python3 dev.py lock` compiles it from pyproject.toml's build-system.
"""


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
    inputs = (ROOT / "pyproject.toml", LOCK, BUILD_LOCK)
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in inputs)).hexdigest()
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


def ensure_custodian() -> None:
    """Cloud Custodian for `bench aws`, in its own venv: it pins boto3 and others exactly, which
    would move the project venv's."""
    home = ROOT / ".venv-custodian"
    wanted = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]["bench"]
    stamp = home / ".offhours-installed"
    if stamp.is_file() and stamp.read_text() == "\n".join(wanted):
        return
    print(f"+ creating {home}", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(home)
    python = home / ("Scripts" if os.name == "nt" else "bin") / "python"
    run(python, "-m", "pip", "install", "--quiet", *wanted)
    stamp.write_text("\n".join(wanted))


def lock() -> None:
    """Compile the Lambda lock and the build back-end's lock with uv: universal (every Python
    from 3.11, every platform), so each lists every file of each pinned version with its hash."""
    sys.path.insert(0, str(ROOT / "src"))  # the module needs nothing but the standard library
    from offhours.deploy.package import lambda_requirements

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="offhours-lock-") as tmp:
        work = Path(tmp)
        uv = shutil.which("uv")
        if uv is None:
            print("+ installing uv into a throwaway venv", flush=True)
            venv.EnvBuilder(with_pip=True).create(work / "venv")
            tool_bin = work / "venv" / ("Scripts" if os.name == "nt" else "bin")
            run(tool_bin / "python", "-m", "pip", "install", "--quiet", "uv")
            uv = str(tool_bin / "uv")
        wanted = work / "lambda-requirements.in"
        wanted.write_text("\n".join(lambda_requirements(pyproject)) + "\n", encoding="utf-8")
        compiled = work / "lambda-requirements.lock"
        run(
            uv,
            *("pip", "compile", "--universal", "--generate-hashes", "--python-version", "3.11"),
            *("--no-header", "--no-annotate", "--quiet", "--output-file", compiled, wanted),
        )
        LOCK.write_text(LOCK_HEADER + compiled.read_text(encoding="utf-8"), encoding="utf-8")
        print(f"wrote {LOCK.relative_to(ROOT)}", flush=True)
        # The back-end alone: its own dependencies are all optional extras (it vendors them).
        backend = work / "build-requirements.in"
        requires = pyproject.get("build-system", {}).get("requires", ["setuptools"])
        backend.write_text("\n".join(requires) + "\n", encoding="utf-8")
        compiled = work / "build-requirements.lock"
        run(
            uv,
            *("pip", "compile", "--universal", "--generate-hashes", "--python-version", "3.11"),
            *("--no-header", "--no-annotate", "--quiet", "--output-file", compiled, backend),
        )
        text = BUILD_LOCK_HEADER + compiled.read_text(encoding="utf-8")
        BUILD_LOCK.write_text(text, encoding="utf-8")
        print(f"wrote {BUILD_LOCK.relative_to(ROOT)}", flush=True)


def _pytest_args(args: list[str]) -> list[str]:
    # One worker per core; a given -n wins. Tests, not files, are shared out, and an idle worker
    # steals from a busy one: with whole files per worker, the slowest file (Terraform against
    # moto, the packaging builds) was the critical path. The builds and moto are session
    # fixtures, made at most once per worker.
    if any(a.startswith(("-n", "--numprocesses")) for a in args):
        return args
    return ["-n", "auto", "--dist", "worksteal", *args]


def main(argv: list[str]) -> None:
    what, args = (argv[0], argv[1:]) if argv else ("", [])
    if what == "demo":
        ensure_venv("[cli]")  # the command line is an extra: `pip install offhours` is the core
        run(BIN / "offhours", "demo", *args)
    elif what == "test":
        ensure_venv("[dev]")
        ensure_wheelhouse()
        run(BIN / "ruff", "check", "src", "tests", "bench", "scripts", "dev.py")
        run(BIN / "ruff", "format", "--check", "src", "tests", "bench", "scripts", "dev.py")
        run(BIN / "mypy")
        run(PY, "-m", "pytest", *_pytest_args(args))
    elif what == "lock":
        lock()
    elif what == "bench":
        ensure_venv("[dev]")
        if args[:1] in (["aws"], []):
            ensure_custodian()
        run(PY, "bench/run.py", *args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
