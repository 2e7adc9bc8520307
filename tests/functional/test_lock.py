"""The Lambda lock: what it pins agrees with pyproject.toml, and the build trusts nothing else.

Offline: the wheels come from the wheelhouse the test set-up fills (see test_package.py).
"""

from __future__ import annotations

import os
import re
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from offhours.deploy.package import (
    BUILD_LOCK,
    LEFT_OUT,
    LOCK,
    PackageResult,
    build_package,
    default_runtime,
    lambda_requirements,
    locked_pins,
    wheelhouse,
)
from offhours.errors import ConfigError, OffhoursError

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = default_runtime()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PINS = locked_pins(LOCK)
BACKEND = locked_pins(BUILD_LOCK)
# The environments the zip runs in: every Lambda Python offhours supports, both machines.
ENVIRONMENTS = [
    {
        "python_version": f"3.{minor}",
        "python_full_version": f"3.{minor}.0",
        "platform_machine": machine,
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }
    for minor in (11, 12, 13, 14)
    for machine in ("x86_64", "aarch64")
]


# `wheels` (the offline wheelhouse) and `x86` (the reference zip, built once per session from
# a snapshot of the project) are fixtures of tests/packaging.py.


def test_the_lock_is_the_one_in_the_checkout() -> None:
    assert LOCK == ROOT / "src" / "offhours" / "deploy" / "lambda-requirements.lock"


def test_every_runtime_dependency_of_the_lambda_is_pinned_above_its_floor() -> None:
    wanted = lambda_requirements(PYPROJECT)
    assert {canonicalize_name(Requirement(r).name) for r in wanted} == {
        "pydantic",
        "holidays",
        "tzdata",
        "urllib3",
        "slack-sdk",
    }
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in PINS, f"{name} is a runtime dependency the lock does not pin"
        assert requirement.specifier.contains(Version(PINS[name]), prereleases=True), (
            f"{name}=={PINS[name]} in the lock is below pyproject's {requirement.specifier}"
        )


def test_the_lock_leaves_out_what_the_zip_leaves_out() -> None:
    runtime_only = {"boto3", "botocore", "s3transfer", "jmespath", "typer", "rich", "click"}
    assert not (set(PINS) & (runtime_only | set(LEFT_OUT)))


def _metadata(wheels: Path, name: str, version: str) -> str:
    stem = f"{name.replace('-', '_')}-{version}-"
    for wheel in sorted(wheels.glob("*.whl")):
        if wheel.name.lower().startswith(stem.lower()):
            with zipfile.ZipFile(wheel) as archive:
                info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
                return archive.read(info).decode("utf-8")
    raise AssertionError(f"no wheel of {name} {version} in {wheels}")


def test_the_lock_is_closed_under_its_own_dependencies(wheels: Path) -> None:
    """Every requirement of a pinned distribution, on any runtime or machine, is pinned too."""
    for name, version in PINS.items():
        for line in _metadata(wheels, name, version).splitlines():
            if not line.startswith("Requires-Dist:"):
                continue
            requirement = Requirement(line.split(":", 1)[1].strip())
            marker = requirement.marker or Marker("python_version >= '3'")
            if not any(marker.evaluate(env) for env in ENVIRONMENTS):
                continue  # only for an extra, or for platforms Lambda is not
            needed = canonicalize_name(requirement.name)
            assert needed in PINS, f"{name} needs {needed}, which the lock does not pin"
            assert requirement.specifier.contains(Version(PINS[needed]), prereleases=True)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("six>=1.16 \\\n    --hash=sha256:" + "a" * 64 + "\n", "expected NAME==VERSION"),
        ("six==1.17.0\n", "expected NAME==VERSION followed by --hash"),
        ("six==1.17.0 ; python_version < '3.12' --hash=sha256:" + "a" * 64 + "\n", "line 1"),
        ("six==1.17.0 --hash=md5:" + "a" * 32 + "\n", "expected NAME==VERSION"),
        ("# nothing\n\n", "pins nothing"),
    ],
)
def test_a_lock_that_is_not_pinned_and_hashed_is_refused(
    tmp_path: Path, text: str, says: str
) -> None:
    lock = tmp_path / "lambda-requirements.lock"
    lock.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(says)) as info:
        locked_pins(lock)
    assert "python3 dev.py lock" in str(info.value)


def _tampered(tmp_path: Path, name: str, lock: Path = LOCK) -> Path:
    """The lock with every hash of ``name`` replaced: as if the wheel had been swapped."""
    lines = lock.read_text(encoding="utf-8").splitlines(keepends=True)
    out, inside = [], False
    for line in lines:
        if not line.startswith(" "):
            inside = line.startswith(f"{name}==")
        if inside and "--hash=sha256:" in line:
            line = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, line)
        out.append(line)
    lock = tmp_path / "tampered.lock"
    lock.write_text("".join(out), encoding="utf-8")
    return lock


def offline_build(out: Path, wheels: Path, **options: Any) -> PackageResult:
    """The Lambda zip for this interpreter's runtime, built from ``wheels`` only."""
    options.setdefault("project_root", ROOT)
    return build_package(out, runtime=RUNTIME, find_links=[wheels], no_index=True, **options)


def test_a_wheel_that_does_not_match_its_locked_hash_stops_the_build(
    wheels: Path, tmp_path: Path
) -> None:
    out = tmp_path / "offhours.zip"
    with pytest.raises(OffhoursError) as info:
        offline_build(out, wheels, lock=_tampered(tmp_path, "six"))
    message = str(info.value)
    assert "a wheel does not have the SHA-256 that the lock" in message
    assert "six==1.17.0" in message  # pip names the file
    assert "python3 dev.py lock" in message
    assert not out.exists()


def test_a_dependency_the_lock_does_not_pin_stops_the_build(wheels: Path, tmp_path: Path) -> None:
    text = LOCK.read_text(encoding="utf-8")
    drop = re.compile(r"^urllib3==.*?(?=^\S|\Z)", re.S | re.M)
    lock = tmp_path / "stale.lock"
    lock.write_text(drop.sub("", text), encoding="utf-8")
    assert "urllib3" not in locked_pins(lock)
    with pytest.raises(ConfigError, match="offhours depends on urllib3, which the lock"):
        offline_build(tmp_path / "x.zip", wheels, lock=lock)


def test_the_wheelhouse_holds_exactly_the_locked_files(
    wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shared wheelhouse stands in for the index (it holds more than the lock: boto3 …).
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    dest = tmp_path / "house"
    wheelhouse(dest, runtime=RUNTIME, architecture="x86_64", project_root=ROOT)
    names = {canonicalize_name(w.name.split("-")[0]) for w in dest.glob("*.whl")}
    assert names == set(PINS) | set(BACKEND)
    for wheel in dest.glob("*.whl"):
        pins = BACKEND if wheel.name.startswith("setuptools-") else PINS
        assert f"-{pins[canonicalize_name(wheel.name.split('-')[0])]}-" in wheel.name


def test_the_zip_bundles_the_locked_distributions_but_not_the_locks(x86: PackageResult) -> None:
    """The locks are package data of offhours (test_package.py::
    test_the_locks_ship_inside_the_installed_package), which the handler never reads."""
    with zipfile.ZipFile(x86.path) as archive:
        assert not [n for n in archive.namelist() if n.endswith(".lock")]
    assert sorted(x86.distributions) == sorted(
        [f"{name} {version}" for name, version in PINS.items()]
        + [f"offhours {PYPROJECT['project']['version']}"]
    )


# ------------------------------------------------------------------- the build back-end's lock


def test_the_build_lock_pins_the_back_end_above_pyprojects_floor(wheels: Path) -> None:
    assert BUILD_LOCK == ROOT / "src" / "offhours" / "deploy" / "build-requirements.lock"
    requires = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    assert {canonicalize_name(r.name) for r in requires} == set(BACKEND) == {"setuptools"}
    for requirement in requires:
        version = Version(BACKEND[canonicalize_name(requirement.name)])
        assert requirement.specifier.contains(version, prereleases=True)
    # Modern setuptools builds wheels alone: every requirement it declares is for an extra.
    metadata = _metadata(wheels, "setuptools", BACKEND["setuptools"])
    for line in metadata.splitlines():
        if line.startswith("Requires-Dist:"):
            assert "extra ==" in line, f"setuptools needs {line}, which the build lock lacks"


def test_a_build_backend_that_does_not_match_its_locked_hash_stops_the_build(
    wheels: Path, tmp_path: Path
) -> None:
    out = tmp_path / "offhours.zip"
    tampered = _tampered(tmp_path, "setuptools", BUILD_LOCK)
    with pytest.raises(OffhoursError) as info:
        offline_build(out, wheels, build_lock=tampered)
    message = str(info.value)
    assert f"a wheel does not have the SHA-256 that the lock {tampered}" in message
    assert f"setuptools=={BACKEND['setuptools']}" in message  # pip names the file
    assert "python3 dev.py lock" in message
    assert not out.exists()


def _fake_setuptools(dest: Path, version: str, marker: Path) -> None:
    """A newer "setuptools" whose back-end, once run, leaves ``marker`` behind."""
    info = f"setuptools-{version}.dist-info"
    files = {
        "setuptools/__init__.py": "",
        "setuptools/build_meta.py": f"open({str(marker)!r}, 'w').close()\nraise SystemExit(1)\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: setuptools\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(dest / f"setuptools-{version}-py3-none-any.whl", "w") as archive:
        for name, text in {**files, f"{info}/RECORD": record}.items():
            archive.writestr(name, text)


def test_a_newer_setuptools_on_offer_is_neither_run_nor_shipped(
    wheels: Path, tmp_path: Path
) -> None:
    """Before the build lock, pip's isolated build took the newest setuptools it could find."""
    house = tmp_path / "house"
    house.mkdir()
    for wheel in wheels.glob("*.whl"):
        (house / wheel.name).symlink_to(wheel)
    marker = tmp_path / "the-unlocked-back-end-ran"
    _fake_setuptools(house, "999.0.0", marker)
    result = offline_build(tmp_path / "offhours.zip", house)
    assert not marker.exists()
    with zipfile.ZipFile(result.path) as archive:
        wheel = archive.read(f"offhours-{PYPROJECT['project']['version']}.dist-info/WHEEL")
    assert f"Generator: setuptools ({BACKEND['setuptools']})" in wheel.decode()


def test_the_cli_stack_is_an_extra_that_a_lambda_install_never_resolves() -> None:
    def names(requirements: list[str]) -> set[str]:
        return {canonicalize_name(Requirement(r).name) for r in requirements}

    extras = PYPROJECT["project"]["optional-dependencies"]
    core = names(PYPROJECT["project"]["dependencies"])
    assert {"typer", "rich"} <= names(extras["cli"])
    assert not core & {"typer", "rich", "click"}
    # the tests and the demo run the command line
    assert any(
        canonicalize_name(Requirement(r).name) == "offhours" and "cli" in Requirement(r).extras
        for r in extras["dev"]
    )
    assert not {canonicalize_name(Requirement(r).name) for r in lambda_requirements(PYPROJECT)} & {
        "typer",
        "rich",
        "boto3",
    }
