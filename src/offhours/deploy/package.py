"""The deployment zip for AWS Lambda: offhours and its runtime dependencies, built for the
function's Python version and architecture, byte-identical for the same inputs.

    build_package(out, runtime="python3.12", architecture="arm64",
                  holiday_countries=["US"]) -> PackageResult
    wheelhouse(dest, runtime="python3.12", architecture="arm64")   # for offline builds

    python -m offhours.deploy.package --out offhours.zip [--runtime R] [--architecture A]
                                      [--find-links DIR --no-index] [--holiday-country CC …]
    python -m offhours.deploy.package --wheelhouse DIR [--runtime R] [--architecture A ...]

How: the project is built to a wheel (``pip wheel --no-deps --no-build-isolation``, from a
copy, so the work tree stays untouched; without a checkout, the installed offhours is packed
into a wheel again). The build back-end is locked too: ``build-requirements.lock`` beside this
module pins setuptools with its hashes, installed with ``--require-hashes`` into a throwaway
venv whose interpreter builds the wheel, so neither the wheel's metadata (WHEEL's Generator)
nor the code run on the build machine changes when setuptools releases.
Its dependencies come from a lock, ``lambda-requirements.lock`` beside this module (shipped
as package data): every distribution the zip holds, pinned, with the SHA-256 of each of its
files, for every runtime (python3.11 …) and both architectures. They are installed with
``pip install --require-hashes --no-deps --only-binary=:all: --platform … --python-version …``,
so the same commit always ships the same bytes, whatever the index offers on the day, and a
wheel that differs from the one locked stops the build. ``python3 dev.py lock`` refreshes the
lock (see :func:`lambda_requirements`). pip ≥ 22.2.
What is left out:

- boto3, and what only boto3 needs (botocore, s3transfer, jmespath): the Lambda runtime has them.
  Dependencies that something else needs too stay in — python-dateutil (holidays) and urllib3
  (offhours itself wants ≥ 2) — so the zip relies on nothing the runtime ships but boto3's own.
- the CLI stack (typer, rich, and what only they need: click, shellingham, pygments,
  markdown-it-py, mdurl …): the handler never imports it.
- offhours' own code that the handler never imports: the CLI, ``offhours.testing``, the demo
  and the deploy tooling (a module of those that the handler's path does import, such as
  ``deploy.fingerprint``, stays: the imports are read from the sources, see _own_modules).
- files of the bundled distributions that nothing on the handler's path loads: ``.pyi``
  stubs, ``py.typed``, ``pydantic/v1``, dateutil's zoneinfo tarball, holidays' financial
  markets, slack_sdk's legacy and unused surfaces (see _NEVER_LOADED_TREES), and, with
  ``holiday_countries``, the holiday-name translations of other countries.
- console scripts (their shebang is the build's interpreter), the installed ``__pycache__``,
  tests, ``.pth`` files, directory entries, and the dist-info files that name the build
  machine or its paths (RECORD, INSTALLER, REQUESTED, direct_url.json). METADATA stays, so
  ``importlib.metadata`` works.

Bytecode: every shipped module is compiled by an interpreter of the runtime's Python version
(``offhours.deploy.bytecode``), since /var/task is read-only and a zip without bytecode compiles
at every cold start. With no such interpreter at hand the zip ships without bytecode, and
:attr:`PackageResult.notes` (and a warning) say so and what it costs: mismatched bytecode would
be ignored anyway. The runtime defaults to this interpreter's version.

Reproducible: entries sorted, every timestamp 1980-01-01 00:00 (or ``SOURCE_DATE_EPOCH``),
modes 0644 (0755 for executables), deflate level 9, no extra fields, bytecode hash-based
(``unchecked-hash``). The same wheels, the same Python and the same zlib give the same bytes.
"""

from __future__ import annotations

import argparse
import ast
import base64
import csv
import hashlib
import importlib.metadata
import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import venv
import zipfile
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from offhours.deploy.bytecode import Compiler, compile_tree, find_compiler
from offhours.errors import ConfigError, OffhoursError

__all__ = [
    "ARCHITECTURES",
    "BUILD_LOCK",
    "LEFT_OUT",
    "LOCK",
    "Architecture",
    "PackageResult",
    "build_package",
    "code_sha256",
    "default_runtime",
    "lambda_requirements",
    "locked_pins",
    "needed_distributions",
    "wheelhouse",
]

Architecture = Literal["x86_64", "arm64"]

log = logging.getLogger("offhours.deploy.package")

# Lambda's architecture name → the machine name in manylinux wheel tags.
ARCHITECTURES: Mapping[str, str] = MappingProxyType({"x86_64": "x86_64", "arm64": "aarch64"})

# Distributions left out of the zip with everything that only they need (see the docstring).
LEFT_OUT: Mapping[str, str] = MappingProxyType(
    {
        "boto3": "in the Lambda runtime",
        # pyproject's `cli` extra, which a Lambda install never asks for; listed in case an
        # older pyproject still names them as core dependencies.
        "typer": "command line only",
        "rich": "command line only",
        "tomlkit": "command line only",
    }
)

#: the lock of what the zip bundles (``python3 dev.py lock`` writes it)
LOCK = Path(__file__).with_name("lambda-requirements.lock")
#: the lock of the build back-end that makes offhours' own wheel (``python3 dev.py lock`` too)
BUILD_LOCK = Path(__file__).with_name("build-requirements.lock")
# One requirement of the lock: NAME==VERSION and its hashes, no marker, no other option.
_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)((?:\s+--hash=sha256:[0-9a-f]{64})+)")
_REFRESH = "refresh it with `python3 dev.py lock` in offhours' checkout"

MIN_PYTHON_MINOR = 11  # offhours' requires-python
# glibc of the Lambda images: Amazon Linux 2 up to python3.11, Amazon Linux 2023 from python3.12.
_GLIBC_MINOR = {11: 26, 12: 34}
_PIP_TIMEOUT_S = 900
_DROPPED_METADATA = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
_SKIPPED_COPY = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        ".wheelhouse",
        "build",
        "dist",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
        ".tox",
        ".nox",
        ".offhours",
        "node_modules",
    }
)
# offhours' own modules that the handler never imports: left out, unless an import on the
# handler's path names one of them (then it goes back in; see _own_modules).
_OFF_HANDLER_PATH = (
    "offhours.cli",
    "offhours.__main__",
    "offhours.demo",
    "offhours.demo-aws",  # demo-aws.toml, the AWS demo's configuration
    "offhours.examples",  # the configurations `offhours init --example` writes
    "offhours.testing",
    "offhours.deploy",
)
# Files of the bundled distributions that nothing on the handler's path loads: pydantic's v1
# API, holidays' financial markets, slack_sdk's legacy `slack` package, its surfaces other than
# the Web API and webhooks, and its asyncio clients (the notifier posts synchronously).
_NEVER_LOADED_TREES = (
    "pydantic/v1/",
    "holidays/financial/",
    "slack/",
    *(f"slack_sdk/{s}/" for s in ("audit_logs", "oauth", "rtm", "rtm_v2", "scim", "signature")),
    "slack_sdk/socket_mode/",
    "slack_sdk/web/async_",
    "slack_sdk/web/legacy_",
    "slack_sdk/webhook/async_",
    "slack_sdk/http_retry/async_",
    "slack_sdk/http_retry/builtin_async_",
    "slack_sdk/aiohttp_version_checker.py",
)
_NEVER_LOADED_FILES = frozenset({"dateutil/zoneinfo/dateutil-zoneinfo.tar.gz"})
_HOLIDAY_LOCALES = re.compile(r"holidays/locale/[^/]+/LC_MESSAGES/([^/]+)\.mo")
_COLD_COMPILE = "about 0.3 s more per cold start (docs/benchmarks.md)"
_EPOCH_1980 = 315_532_800  # the earliest time a zip entry can carry
_EPOCH_2107 = 4_354_819_199  # the latest


@dataclass(frozen=True)
class PackageResult:
    """A written zip: ``sha256`` is base64, as Lambda reports ``CodeSha256``."""

    path: Path
    size: int
    sha256: str
    files: int
    distributions: tuple[str, ...] = ()  # "name version" of each bundled distribution
    bytecode: str = ""  # the interpreter that compiled the zip's bytecode; "" when it has none
    notes: tuple[str, ...] = ()  # what the builder should know (no bytecode, and why)

    @property
    def sha256_hex(self) -> str:
        """The SHA-256 in hex, as ``sha256sum`` prints it."""
        return base64.b64decode(self.sha256).hex()


@dataclass(frozen=True)
class _Target:
    runtime: str
    architecture: str
    python: str  # "3.12"

    @classmethod
    def parse(cls, runtime: str, architecture: str) -> _Target:
        match = re.fullmatch(r"python3\.(\d+)", runtime)
        if match is None or int(match.group(1)) < MIN_PYTHON_MINOR:
            raise ConfigError(
                f"runtime {runtime!r} cannot run offhours, which needs Python "
                f"3.{MIN_PYTHON_MINOR} or newer; use python3.{MIN_PYTHON_MINOR} … python3.14"
            )
        if architecture not in ARCHITECTURES:
            raise ConfigError(
                f"architecture {architecture!r} is not one Lambda offers; "
                f"use {' or '.join(ARCHITECTURES)}"
            )
        return cls(runtime, architecture, f"3.{match.group(1)}")

    def pip_args(self) -> list[str]:
        """pip's options to pick wheels for this runtime rather than for the running Python."""
        minor = int(self.python.split(".")[1])
        glibc = _GLIBC_MINOR[min(max(minor, 11), 12)]
        machine = ARCHITECTURES[self.architecture]
        # Newest glibc first, as pip orders tags for its own platform; manylinux2014 last,
        # which pip widens to manylinux2010/manylinux1 itself.
        platforms = [f"manylinux_2_{v}_{machine}" for v in range(glibc, 16, -1)]
        platforms.append(f"manylinux2014_{machine}")
        args = ["--implementation", "cp", "--python-version", self.python, "--only-binary=:all:"]
        for platform in platforms:
            args += ["--platform", platform]
        return args

    def wheelhouse_command(self, dest: str) -> str:
        return (
            f"python -m offhours.deploy.package --wheelhouse {dest} "
            f"--runtime {self.runtime} --architecture {self.architecture}"
        )


@dataclass(frozen=True)
class _Index:
    find_links: tuple[Path, ...]
    no_index: bool

    def args(self) -> list[str]:
        args = ["--no-index"] if self.no_index else []
        for place in self.find_links:
            args += ["--find-links", str(place)]
        return args

    def env(self) -> dict[str, str]:
        if not self.no_index:
            return dict(os.environ)  # mirrors, proxies and certificates of the user's pip set-up
        # Offline means these wheelhouses only: no find-links or indexes from pip's config
        # files or PIP_* variables, for this pip and the build back-end's pip alike.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
        return env


# ----------------------------------------------------------------------------- public API


def build_package(
    out: Path,
    *,
    runtime: str | None = None,
    architecture: Architecture = "x86_64",
    find_links: Sequence[Path] = (),
    no_index: bool = False,
    project_root: Path | None = None,
    extra_files: Mapping[str, bytes] = MappingProxyType({}),
    lock: Path | None = None,
    build_lock: Path | None = None,
    holiday_countries: Collection[str] | None = None,
    bytecode: bool = True,
) -> PackageResult:
    """Write the Lambda zip for ``runtime``/``architecture`` to ``out``.

    ``runtime`` defaults to the one of this interpreter's version (:func:`default_runtime`),
    so its bytecode can be compiled here. ``extra_files`` maps a path inside the zip (e.g.
    ``offhours.toml``) to its content. ``find_links`` adds wheelhouses; with ``no_index`` they
    are the only place pip looks. ``lock`` and ``build_lock`` replace the project's locks (tests
    use them). ``holiday_countries``: the countries the configured calendars name (codes or
    aliases); only their holiday-name translations ship. None keeps every translation.
    ``bytecode``: compile it (when an interpreter of the runtime's version is at hand; when
    none is, the zip ships without and :attr:`PackageResult.notes` says what that costs).
    """
    target = _Target.parse(runtime or default_runtime(), architecture)
    index = _index(find_links, no_index)
    extras = {_zip_name(name): data for name, data in extra_files.items()}
    locales = None if holiday_countries is None else _translations_of(holiday_countries)
    compiler = find_compiler(target.python) if bytecode else None
    notes = (_no_bytecode(target),) if bytecode and compiler is None else ()
    for note in notes:
        log.warning("%s", note)
    stamp = _timestamp()
    root = _project_root(project_root)
    lock_file = _lock_file(root, lock)
    pins = locked_pins(lock_file)
    backend_lock = _lock_file(root, build_lock, BUILD_LOCK)
    if root is not None:
        locked_pins(backend_lock)  # a readable build lock, or a clear error before any work
    failure, hint = _install_failure(target, index)
    with tempfile.TemporaryDirectory(prefix="offhours-package-") as tmp:
        work = Path(tmp)
        wheel = _offhours_wheel(root, work, index, target, backend_lock)
        _check_lock_covers(wheel, pins, lock_file)
        common = [*target.pip_args(), *index.args()]
        deps, own = work / "deps", work / "own"
        _pip(
            [
                *("install", "--target", str(deps), "--no-deps", "--no-compile"),
                *("--require-hashes", "--requirement", str(lock_file)),
                *common,
            ],
            failure=failure,
            hint=hint,
            env=index.env(),
            lock=lock_file,
        )
        # offhours itself has no hash to check (it was just built), so it is installed apart.
        _pip(
            ["install", "--target", str(own), "--no-deps", "--no-compile", *common, str(wheel)],
            failure=failure,
            hint=hint,
            env=index.env(),
        )
        entries = {**_entries(deps, needle=tmp), **_entries(own, needle=tmp)}
        entries = _handler_files(entries, locales)
        if compiler is not None:
            entries.update(_bytecode(entries, compiler, work / "bytecode", needle=tmp))
        root_name = _normalise(wheel.name.split("-")[0])
        bundled = sorted({**pins, root_name: wheel.name.split("-")[1]}.items())
    for name in extras:
        if name in entries or any(entry.startswith(name + "/") for entry in entries):
            raise ConfigError(f"extra file {name!r} would replace a file of the package")
    entries.update({name: (data, False) for name, data in extras.items()})
    digest, size = _write_zip(out, entries, stamp)
    return PackageResult(
        path=out,
        size=size,
        sha256=digest,
        files=len(entries),
        distributions=tuple(f"{name} {version}" for name, version in bundled),
        bytecode=compiler.executable if compiler else "",
        notes=notes,
    )


#: the module Lambda loads first ([deploy]'s handler), as a file in the zip
HANDLER_FILE = "offhours/lambda_handler.py"


def check_package(code: bytes, what: str) -> None:
    """Refuse a zip Lambda could not run offhours from: not a zip, or one without the
    handler's module (``what`` names it in the error: ``--package FILE``)."""
    try:
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        raise ConfigError(
            f"{what}: not a zip file; build one with `offhours deploy package`"
        ) from None
    if HANDLER_FILE not in names:
        raise ConfigError(
            f"{what}: the zip has no {HANDLER_FILE}, the handler Lambda runs "
            f"(offhours.lambda_handler.handler); build it with `offhours deploy package`"
        )


def build_inputs(
    *,
    runtime: str | None = None,
    architecture: Architecture = "x86_64",
    holiday_countries: Collection[str] | None = None,
    project_root: Path | None = None,
    bytecode: bool = True,
) -> dict[str, str]:
    """What decides the bytes :func:`build_package` writes with these arguments (and the
    project's own locks): the target, the locks, offhours' own sources and pyproject, the
    calendars' translations, the interpreter that compiles the bytecode and the timestamp.
    Equal inputs give an equal zip, so a cache keyed on them may hand back an earlier build."""
    target = _Target.parse(runtime or default_runtime(), architecture)
    root = _project_root(project_root)
    compiler = find_compiler(target.python) if bytecode else None
    sources = root / "src" / "offhours" if root is not None else Path(__file__).parents[1]
    interpreter = ""
    if compiler is not None:
        # A patch release of the same Python may compile differently: its binary changes.
        stat = Path(compiler.executable).resolve().stat()
        interpreter = f"{compiler.executable} {stat.st_size} {stat.st_mtime_ns}"
        if compiler.executable == sys.executable:
            interpreter += " " + sys.version
    return {
        "target": f"{target.runtime}/{target.architecture}",
        "holidays": "*" if holiday_countries is None else ",".join(sorted(holiday_countries)),
        "lock": _file_digest(_lock_file(root, None)),
        "build_lock": _file_digest(_lock_file(root, None, BUILD_LOCK)),
        "pyproject": _file_digest(root / "pyproject.toml") if root is not None else "",
        "sources": _tree_digest(sources),
        "bytecode": interpreter,
        "timestamp": repr(_timestamp()),
    }


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "(unreadable)"  # the build itself says what is wrong with it


def _tree_digest(tree: Path) -> str:
    """One digest of every file under ``tree`` (names and contents), bytecode left out."""
    digest = hashlib.sha256()
    for path in sorted(tree.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(path.relative_to(tree).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def default_runtime() -> str:
    """The Lambda runtime of this interpreter's version, so its bytecode can be compiled here:
    the rule of ``[deploy] runtime``'s default (:func:`offhours.config.interpreter_runtime`)."""
    from offhours.config import interpreter_runtime

    return interpreter_runtime()


def wheelhouse(
    dest: Path,
    *,
    runtime: str | None = None,
    architecture: Architecture = "x86_64",
    project_root: Path | None = None,
    lock: Path | None = None,
    build_lock: Path | None = None,
) -> None:
    """Download into ``dest`` every wheel an offline :func:`build_package` needs.

    That is exactly the locked files for ``runtime``/``architecture`` (hash-checked as they
    arrive), and the locked build back-end that turns the project into a wheel. Fill one directory
    for several targets by calling this once per target.
    """
    target = _Target.parse(runtime or default_runtime(), architecture)
    root = _project_root(project_root)
    lock_file = _lock_file(root, lock)
    locked_pins(lock_file)  # a readable lock, or a clear error before any download
    dest.mkdir(parents=True, exist_ok=True)
    online = _Index((), no_index=False)
    failure = f"could not fill the wheelhouse {dest} for {target.runtime}/{target.architecture}"
    _pip(
        [
            *("download", "--dest", str(dest), "--no-deps"),
            *("--require-hashes", "--requirement", str(lock_file)),
            *target.pip_args(),
        ],
        failure=failure,
        env=online.env(),
        lock=lock_file,
    )
    if root is not None:
        backend_lock = _lock_file(root, build_lock, BUILD_LOCK)
        locked_pins(backend_lock)
        _pip(
            [
                *("download", "--dest", str(dest), "--no-deps", "--only-binary=:all:"),
                *("--require-hashes", "--requirement", str(backend_lock)),
            ],
            failure=f"could not download the build back-end into {dest}",
            env=online.env(),
            lock=backend_lock,
        )


def lambda_requirements(pyproject: Mapping[str, Any]) -> list[str]:
    """The requirements the lock is compiled from: offhours' runtime dependencies less those
    the zip leaves out (:data:`LEFT_OUT`), floors as written in ``pyproject.toml``."""
    requirements = pyproject.get("project", {}).get("dependencies", [])
    return [str(r) for r in requirements if _requirement_names([str(r)])[0] not in LEFT_OUT]


def locked_pins(lock: Path) -> dict[str, str]:
    """Name → version of every distribution in ``lock``; each must be ``==`` pinned and hashed,
    with no environment marker (one lock serves every runtime and architecture)."""
    try:
        text = lock.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the lock {lock} ({exc.strerror}); {_REFRESH}") from None
    pins: dict[str, str] = {}
    for number, line in _logical_lines(text):
        match = _PIN.fullmatch(line)
        if match is None:
            raise ConfigError(
                f"{lock}, line {number}: expected NAME==VERSION followed by --hash=sha256:… "
                f"options and nothing else, got {line[:80]!r}; {_REFRESH}"
            )
        pins[_normalise(match.group(1))] = match.group(2)
    if not pins:
        raise ConfigError(f"the lock {lock} pins nothing; {_REFRESH}")
    return pins


def needed_distributions(
    requires: Mapping[str, Iterable[str]],
    root: str,
    left_out: Collection[str] = tuple(LEFT_OUT),
) -> frozenset[str]:
    """The distributions reachable from ``root`` without passing through ``left_out``.

    ``requires`` maps each installed distribution to the ones it requires (normalised names);
    a requirement that is not installed (its marker excluded it) is no edge.
    """
    seen: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen or name in left_out or name not in requires:
            continue
        seen.add(name)
        todo.extend(requires[name])
    return frozenset(seen)


# --------------------------------------------------------------------------- inputs


def _index(find_links: Sequence[Path], no_index: bool) -> _Index:
    for place in find_links:
        if not Path(place).is_dir():
            raise ConfigError(
                f"wheelhouse {place} is not a directory; fill one with "
                "`python -m offhours.deploy.package --wheelhouse DIR --runtime … --architecture …`"
            )
    if no_index and not find_links:
        raise ConfigError("--no-index needs a --find-links wheelhouse to build from")
    return _Index(tuple(Path(p).resolve() for p in find_links), no_index)


def _zip_name(name: str) -> str:
    parts = name.split("/")
    if not name or "\\" in name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ConfigError(
            f"extra file name {name!r} must be a relative path inside the zip "
            "(like 'offhours.toml' or 'conf/offhours.toml'), with '/' separators"
        )
    return name


def _project_root(given: Path | None) -> Path | None:
    """The project to build offhours from; None: rebuild it from this installation."""
    if given is None:
        # src/offhours/deploy/package.py → the checkout that an editable install points into.
        checkout = Path(__file__).resolve().parents[3]
        return checkout if _project_name(checkout) == "offhours" else None
    if not (given / "pyproject.toml").is_file():
        raise ConfigError(f"{given} has no pyproject.toml: pass offhours' project directory")
    return given.resolve()


def _lock_file(root: Path | None, given: Path | None, installed: Path = LOCK) -> Path:
    """The lock to build from: the one given, the checkout's, or the one installed with us."""
    if given is not None:
        return given
    if root is not None:
        checkout = root / "src" / "offhours" / "deploy" / installed.name
        if checkout.is_file():
            return checkout
    return installed


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, joined line) of a requirements file, comments and blanks left out."""
    pending: list[str] = []
    first = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = "" if raw.lstrip().startswith("#") else raw.split(" #", 1)[0].strip()
        if not pending:
            first = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        joined = " ".join(part for part in pending if part)
        pending = []
        if joined:
            yield first, joined


def _check_lock_covers(wheel: Path, pins: Mapping[str, str], lock: Path) -> None:
    """Every dependency of the offhours wheel that the zip carries must be in the lock."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode("utf-8")
    requires = [
        line.split(":", 1)[1].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    missing = sorted(
        {n for n in _requirement_names(requires) if n not in LEFT_OUT and n not in pins}
    )
    if missing:
        raise ConfigError(
            f"offhours depends on {', '.join(missing)}, which the lock {lock} does not pin; "
            + _REFRESH
        )


def _pyproject(root: Path) -> dict[str, Any]:
    try:
        return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {root / 'pyproject.toml'}: {exc}") from exc


def _project_name(root: Path) -> str | None:
    if not (root / "pyproject.toml").is_file():
        return None
    return str(_pyproject(root).get("project", {}).get("name", ""))


def _timestamp() -> tuple[int, int, int, int, int, int]:
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    seconds = _EPOCH_1980
    if raw:
        if not raw.isdigit():
            raise ConfigError(f"SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds")
        seconds = min(max(int(raw), _EPOCH_1980), _EPOCH_2107)
    t = time.gmtime(seconds)
    # A zip's DOS time has two-second resolution; round down so it is the same everywhere.
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec - t.tm_sec % 2)


# ------------------------------------------------------------------------------ pip


def _offhours_wheel(
    root: Path | None, work: Path, index: _Index, target: _Target, build_lock: Path
) -> Path:
    if root is None:
        return _wheel_from_installation(work / "wheel")
    return _build_wheel(root, work, index, target, build_lock)


def _wheel_from_installation(wheels: Path) -> Path:
    """offhours as a wheel again, from the files of this (non-editable) installation.

    For a user who installed offhours from a wheel and has no checkout: the package directory
    and the metadata are all a pure-Python wheel holds.
    """
    package = Path(__file__).resolve().parents[1]
    try:
        dist = importlib.metadata.distribution(package.name)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ConfigError(
            f"{package} has neither a project directory nor installed metadata; "
            "pass offhours' project directory (project_root)"
        ) from exc
    info = f"{package.name}-{dist.version}.dist-info"
    files = {
        path.relative_to(package.parent).as_posix(): path.read_bytes()
        for path in sorted(package.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    for name in ("METADATA", "WHEEL", "entry_points.txt", "top_level.txt"):
        text = dist.read_text(name)
        if text is not None:
            files[f"{info}/{name}"] = text.encode()
    if f"{info}/WHEEL" not in files:
        files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([name, f"sha256={digest}", len(data)])
    writer.writerow([f"{info}/RECORD", "", ""])
    files[f"{info}/RECORD"] = record.getvalue().encode()
    wheels.mkdir(parents=True, exist_ok=True)
    wheel = wheels / f"{package.name}-{dist.version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def _build_wheel(root: Path, work: Path, index: _Index, target: _Target, lock: Path) -> Path:
    """offhours as a wheel, built from a clean copy (no stale build/ or egg-info leaks in) by
    the locked back-end, in a throwaway venv that holds nothing else."""
    source, wheels, backend = work / "project", work / "wheel", work / "backend"
    shutil.copytree(root, source, ignore=_skip_in_copy, symlinks=True)
    failure = f"could not build the offhours wheel from {root}" + (
        f" with the wheelhouse {_places(index)}" if index.no_index else ""
    )
    hint = (
        f"the wheelhouse needs the build back-end too: `{target.wheelhouse_command('DIR')}`"
        if index.no_index
        else ""
    )
    try:
        venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(backend)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise OffhoursError(f"{failure}: cannot create a venv at {backend}: {exc}") from exc
    python = backend / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # No PYTHONPATH: the back-end must be the locked one, not one found on the caller's path.
    env = {k: v for k, v in index.env().items() if k != "PYTHONPATH"}
    # This pip drives the venv's interpreter (--python), which runs the back-end.
    _pip(
        [
            *("--python", str(python), "install", "--no-deps", "--no-compile"),
            *("--only-binary=:all:", "--require-hashes", "--requirement", str(lock)),
            *index.args(),
        ],
        failure=f"{failure}: could not install the locked build back-end ({lock.name})",
        env=env,
        hint=hint,
        lock=lock,
    )
    _pip(
        [
            *("--python", str(python), "wheel", "--no-deps", "--no-build-isolation"),
            *("--wheel-dir", str(wheels), str(source)),
        ],
        failure=failure,
        env=env,
        hint=hint,
    )
    built = sorted(wheels.glob("*.whl"))
    if len(built) != 1:
        raise OffhoursError(f"building {root} gave {len(built)} wheels, expected one")
    return built[0]


def _skip_in_copy(directory: str, names: list[str]) -> set[str]:
    here = Path(directory)
    return {
        name
        for name in names
        if name in _SKIPPED_COPY
        or name.endswith((".egg-info", ".pyc"))
        or (here / name / "pyvenv.cfg").is_file()  # any virtualenv, whatever its name
    }


def _places(index: _Index) -> str:
    return ", ".join(str(p) for p in index.find_links)


def _install_failure(target: _Target, index: _Index) -> tuple[str, str]:
    """What failed, and how to fix it."""
    where = f"{target.runtime}/{target.architecture}"
    command = target.wheelhouse_command("DIR")
    if index.no_index:
        return (
            f"could not find wheels for {where} in the wheelhouse {_places(index)}",
            f"refill it on a machine with network access: `{command}`",
        )
    return (
        f"could not download wheels for {where}",
        f"to build offline, fill a wheelhouse with `{command}` "
        "and pass --find-links DIR --no-index",
    )


def _pip(
    args: list[str],
    *,
    failure: str,
    env: Mapping[str, str],
    hint: str = "",
    lock: Path | None = None,
) -> None:
    """Run pip in a subprocess; a failure becomes an OffhoursError with pip's last words."""
    cmd = [sys.executable, "-m", "pip", *args]
    cmd += ["--disable-pip-version-check", "--no-input", "--quiet"]
    try:
        proc = subprocess.run(  # noqa: S603 - this interpreter's pip, arguments we built
            cmd,
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=_PIP_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise OffhoursError(f"{failure}: pip did not finish within {_PIP_TIMEOUT_S} s") from exc
    except OSError as exc:
        raise OffhoursError(f"{failure}: cannot run {sys.executable} -m pip: {exc}") from exc
    if proc.returncode == 0:
        return
    said = _last_lines(proc.stderr or proc.stdout)
    if lock is not None and "DO NOT MATCH THE HASHES" in (proc.stderr + proc.stdout):
        raise OffhoursError(
            f"a wheel does not have the SHA-256 that the lock {lock} records for it, "
            "so it is not the file that was locked (a tampered wheel, index or lock); "
            f"nothing was built. pip said:\n  {said}\nIf the lock changed on purpose, {_REFRESH}"
        )
    if "No module named pip" in said:
        raise OffhoursError(
            f"{failure}: {sys.executable} has no pip; install it with "
            f"`{sys.executable} -m ensurepip`"
        )
    message = f"{failure} (pip exited with {proc.returncode}):\n  {said}"
    raise OffhoursError(f"{message}\n{hint}" if hint else message)


def _last_lines(text: str, count: int = 8) -> str:
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    # An index URL may carry credentials (https://user:token@host/simple): never repeat them.
    shown = [re.sub(r"(\w+://)[^/\s@]+@", r"\1***@", line) for line in lines[-count:]]
    return "\n  ".join(shown) or "(pip printed nothing)"


# --------------------------------------------------------------------- what goes in


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(lines: Iterable[str]) -> tuple[str, ...]:
    names = []
    for line in lines:
        requirement, _, marker = line.partition(";")
        if re.search(r"\bextra\s*==", marker):
            continue  # only for an extra; offhours asks for none
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        if match:
            names.append(_normalise(match.group(1)))
    return tuple(names)


def _record(info: Path) -> list[str]:
    with (info / "RECORD").open(newline="", encoding="utf-8") as record:
        return [row[0] for row in csv.reader(record) if row]


def _shipped(path: str) -> bool:
    parts = path.split("/")
    if parts[0] in ("..", "bin") or ".." in parts:
        return False  # console scripts: their shebang names the build's interpreter
    if "__pycache__" in parts or path.endswith((".pyc", ".pyo", ".pth")):
        return False  # .pth files do nothing in /var/task, which is no site directory
    if "tests" in parts[:-1]:
        return False
    return not (
        len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in _DROPPED_METADATA
    )


def _entries(site: Path, *, needle: str) -> dict[str, tuple[bytes, bool]]:
    """Zip name → (content, executable) for every shipped file installed in ``site``."""
    entries = {}
    marker = needle.encode()
    for info in sorted(site.glob("*.dist-info")):
        for name in _record(info):
            if not _shipped(name):
                continue
            path = site / name
            data = path.read_bytes()
            if marker in data:
                raise OffhoursError(
                    f"{name} names the build's temporary directory, "
                    "so the zip would differ from build to build"
                )
            entries[name] = (data, bool(path.stat().st_mode & 0o111))
    return entries


def _handler_files(
    entries: Mapping[str, tuple[bytes, bool]], locales: frozenset[str] | None
) -> dict[str, tuple[bytes, bool]]:
    """The entries the handler may load: its own modules (:func:`_own_modules`) and the
    distributions' files less those nothing on its path reads."""
    own = _own_modules({n: d for n, (d, _) in entries.items() if n.startswith("offhours/")})
    kept = {}
    for name, entry in entries.items():
        if name.startswith("offhours/"):
            if name in own:
                kept[name] = entry
            continue
        if (
            name.endswith(".pyi")
            or name.rsplit("/", 1)[-1] == "py.typed"
            or name.startswith(_NEVER_LOADED_TREES)
            or name in _NEVER_LOADED_FILES
        ):
            continue
        locale = _HOLIDAY_LOCALES.fullmatch(name)
        if locale and locales is not None and locale.group(1) not in locales:
            continue
        kept[name] = entry
    return kept


def _module_of(name: str) -> str:
    """``offhours/deploy/aws.py`` → ``offhours.deploy.aws``; a package's ``__init__.py`` is the
    package; a data file counts as a module of its stem (``offhours/demo.toml``: offhours.demo)."""
    stem = name.rsplit(".", 1)[0] if "." in name.rsplit("/", 1)[-1] else name
    return stem.removesuffix("/__init__").replace("/", ".")


def _own_modules(files: Mapping[str, bytes]) -> frozenset[str]:
    """offhours' files that ship: all but those of :data:`_OFF_HANDLER_PATH` (and markers such
    as ``py.typed``), plus any module of those that a shipped module imports, even inside a
    function, and the packages above it."""

    def off_path(name: str) -> bool:
        module = _module_of(name)
        return any(module == p or module.startswith(p + ".") for p in _OFF_HANDLER_PATH)

    by_module = {_module_of(n): n for n in files if n.endswith(".py")}
    kept = {n for n in files if not off_path(n) and not n.endswith("/py.typed")}
    todo = [n for n in kept if n.endswith(".py")]
    while todo:
        name = todo.pop()
        for module in _imports(name, files[name]):
            parts = module.split(".")
            for depth in range(1, len(parts) + 1):
                found = by_module.get(".".join(parts[:depth]))
                if found is not None and found not in kept:
                    kept.add(found)
                    todo.append(found)
    return frozenset(kept)


def _imports(name: str, source: bytes) -> Iterator[str]:
    """The absolute names a module imports, anywhere in it, with ``from a import b`` giving
    ``a`` and ``a.b`` (b may be a module); relative imports resolved against ``name``."""
    package = _module_of(name).split(".")
    if not name.endswith("/__init__.py"):
        package = package[:-1]
    for node in ast.walk(ast.parse(source, filename=name)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                above = package[: len(package) - node.level + 1]
                base = ".".join([*above, *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _translations_of(countries: Collection[str]) -> frozenset[str]:
    """The holiday-name catalogues (``locale/*/LC_MESSAGES/<code>.mo``) that the calendars of
    ``countries`` read: each country's own, and its parent's (PR reads US's too)."""
    import holidays

    codes = set()
    for given in countries:
        try:
            entity = holidays.country_holidays(given.strip().upper())
        except NotImplementedError:
            raise ConfigError(
                f"holiday country {given!r} is not one `holidays` knows; "
                "use an ISO 3166-1 alpha-2 code such as US, GB, DE"
            ) from None
        for each in (entity, getattr(entity, "parent_entity", None)):
            code = getattr(each, "country", None)
            if code:
                codes.add(str(code))
    return frozenset(codes)


def _no_bytecode(target: _Target) -> str:
    return (
        f"the zip has no bytecode: it would be compiled for Python {target.python} "
        f"({target.runtime}), but this is Python {sys.version_info.major}."
        f"{sys.version_info.minor} and no python{target.python} is on PATH, and bytecode of "
        f"another version is ignored. Each cold start compiles every module instead, "
        f"{_COLD_COMPILE}. Install Python {target.python}, or deploy runtime = "
        f'"{default_runtime()}"'
    )


def _bytecode(
    entries: Mapping[str, tuple[bytes, bool]], compiler: Compiler, tree: Path, *, needle: str
) -> dict[str, tuple[bytes, bool]]:
    """``__pycache__/*.pyc`` entries for the ``.py`` entries, compiled by ``compiler``."""
    for name, (data, _) in entries.items():
        if name.endswith(".py"):
            path = tree / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    compiled = compile_tree(compiler, tree)
    marker = needle.encode()
    leaked = [name for name, data in compiled.items() if marker in data]
    if leaked:
        raise OffhoursError(
            f"the bytecode of {leaked[0]} names the build's temporary directory, "
            "so the zip would differ from build to build"
        )
    return {name: (data, False) for name, data in compiled.items()}


def _write_zip(
    out: Path,
    entries: Mapping[str, tuple[bytes, bool]],
    stamp: tuple[int, int, int, int, int, int],
) -> tuple[str, int]:
    """Write the zip atomically; return its base64 SHA-256 and size.

    No directory entries: unzip and Lambda create directories from the file names.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.create_system = 3  # Unix, so the modes below apply on extraction
            data, executable = entries[name]
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    blob = buffer.getvalue()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(blob)
    partial.replace(out)
    return code_sha256(blob), len(blob)


def code_sha256(blob: bytes) -> str:
    """The zip's SHA-256 in base64: Lambda's ``CodeSha256``."""
    return base64.b64encode(hashlib.sha256(blob).digest()).decode()


# ------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m offhours.deploy.package",
        description="Build offhours' Lambda zip, or fill a wheelhouse for offline builds.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", type=Path, help="write the zip here")
    what.add_argument("--wheelhouse", type=Path, help="download wheels into this directory")
    parser.add_argument("--runtime", help="default: this Python's, e.g. python3.12")
    parser.add_argument(
        "--architecture",
        action="append",
        choices=list(ARCHITECTURES),
        help="x86_64 (default) or arm64; repeat with --wheelhouse to fill it for both",
    )
    parser.add_argument("--find-links", action="append", type=Path, default=[])
    parser.add_argument("--no-index", action="store_true")
    parser.add_argument("--project", type=Path, help="offhours' project directory")
    parser.add_argument(
        "--holiday-country",
        action="append",
        metavar="CODE",
        help="ship only the holiday-name translations of this country (repeat; default: all)",
    )
    args = parser.parse_args(argv)
    architectures: list[Architecture] = args.architecture or ["x86_64"]
    try:
        if args.wheelhouse is not None:
            for architecture in architectures:
                wheelhouse(
                    args.wheelhouse,
                    runtime=args.runtime,
                    architecture=architecture,
                    project_root=args.project,
                )
            count = len(list(args.wheelhouse.glob("*.whl")))
            print(f"wheelhouse {args.wheelhouse}: {count} wheels")
            return 0
        if len(architectures) > 1:
            parser.error("--out builds one zip: give one --architecture")
        result = build_package(
            args.out,
            runtime=args.runtime,
            architecture=architectures[0],
            find_links=args.find_links,
            no_index=args.no_index,
            project_root=args.project,
            holiday_countries=args.holiday_country,
        )
    except OffhoursError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(
        f"{result.path}: {result.size:,} bytes, {result.files} files, sha256 {result.sha256_hex} "
        f"(CodeSha256 {result.sha256})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
