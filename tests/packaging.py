"""The Lambda zip's build fixtures, shared by test_package.py and test_lock.py.

A real build (pip, a build back-end venv, bytecode) takes many seconds, so the reference x86_64
zip is built once per session (once per xdist worker) from a snapshot of the project, offline
from the wheelhouse, with every temporary file under one directory whose name the tests then
search the zip for. Registered as a plugin in tests/conftest.py.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from offhours.deploy.package import PackageResult, build_package, default_runtime

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = default_runtime()
CONFIG = b'[[sources]]\ntype = "ravello"\n'
# Puerto Rico's calendar reads its parent's (the US) holiday names too.
COUNTRIES = ("PR", "DE")


@pytest.fixture(scope="session")
def wheels() -> Path:
    place = Path(os.environ.get("OFFHOURS_WHEELHOUSE", ROOT / ".wheelhouse"))
    if not any(place.glob("pydantic_core-*.whl")):
        pytest.fail(
            f"no wheelhouse at {place}: the package tests build offline from it. Fill it "
            f"(needs network access) with `python3 dev.py test`, or:\n  {sys.executable} -m "
            f"offhours.deploy.package --wheelhouse {place} --runtime {RUNTIME} "
            "--architecture x86_64 --architecture arm64",
            pytrace=False,
        )
    return place


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot of the project, so that every build of the session sees the same sources."""
    copy = tmp_path_factory.mktemp("project-3b9d")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(ROOT / "src", copy / "src", ignore=skip)
    return copy


@pytest.fixture(scope="session")
def build_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for every temporary file of the builds, to search the zips for it."""
    return tmp_path_factory.mktemp("build-temp-7c1e")


@contextmanager
def building_in(root: Path) -> Iterator[None]:
    """Temporary files under ``root``, and no SOURCE_DATE_EPOCH from the caller's shell."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", str(root))
        mp.setattr(tempfile, "tempdir", str(root))
        mp.delenv("SOURCE_DATE_EPOCH", raising=False)
        yield


@pytest.fixture(scope="session")
def x86(
    tmp_path_factory: pytest.TempPathFactory, wheels: Path, project: Path, build_temp: Path
) -> PackageResult:
    """The reference zip: x86_64, this interpreter's runtime, a config file, two calendars."""
    out = tmp_path_factory.mktemp("x86") / "offhours.zip"
    with building_in(build_temp):
        return build_package(
            out,
            runtime=RUNTIME,
            find_links=[wheels],
            no_index=True,
            project_root=project,
            extra_files={"offhours.toml": CONFIG},
            holiday_countries=COUNTRIES,
        )


@pytest.fixture(scope="session")
def unpacked(x86: PackageResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(x86.path) as archive:
        archive.extractall(dest)
    return dest
