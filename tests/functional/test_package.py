"""The Lambda zip, built offline from the wheelhouse that the test set-up fills.

The wheelhouse is `.wheelhouse/` at the project root (or $OFFHOURS_WHEELHOUSE), filled for this
Python on both architectures by:

    python -m offhours.deploy.package --wheelhouse .wheelhouse --runtime python3.11 \
        --architecture x86_64 --architecture arm64
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from offhours.deploy.bytecode import find_compiler
from offhours.deploy.package import (
    BUILD_LOCK,
    LOCK,
    PackageResult,
    build_package,
    locked_pins,
    needed_distributions,
)
from offhours.errors import ConfigError, OffhoursError
from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from tests.aws import Aws
from tests.packaging import CONFIG, COUNTRIES, RUNTIME, building_in

ROOT = Path(__file__).resolve().parents[2]
HANDLER = "offhours.lambda_handler"
LEFT_OUT = ("boto3", "botocore", "s3transfer", "jmespath", "typer", "rich", "click", "pygments")
LEFT_OUT += ("markdown_it", "mdurl", "shellingham", "pip", "setuptools", "wheel", "_distutils_hack")
# What the Lambda runtime provides besides the standard library: boto3 and its dependencies.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")


@pytest.fixture(scope="module")
def temp_root(build_temp: Path, project: Path) -> Iterator[Path]:
    """The session's build directory, in force for every build of this module."""
    with building_in(build_temp), pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys.modules[__name__], "PROJECT", project)
        yield build_temp


PROJECT = ROOT  # the snapshot, while temp_root is in use


def build(out: Path, wheels: Path, **kwargs: object) -> PackageResult:
    return build_package(
        out,
        runtime=kwargs.pop("runtime", RUNTIME),  # type: ignore[arg-type]
        find_links=[wheels],
        no_index=True,
        project_root=PROJECT,
        **kwargs,  # type: ignore[arg-type]
    )


# The reference zip (x86) and its unpacked tree are session fixtures: tests/packaging.py.


# ------------------------------------------------------------------ reproducible, well formed


def test_the_same_inputs_give_a_byte_identical_zip(
    x86: PackageResult, wheels: Path, temp_root: Path, tmp_path: Path
) -> None:
    again = build(
        tmp_path / "again.zip",
        wheels,
        extra_files={"offhours.toml": CONFIG},
        holiday_countries=COUNTRIES,
    )
    first, second = x86.path.read_bytes(), again.path.read_bytes()
    assert base64.b64encode(hashlib.sha256(first).digest()).decode() == x86.sha256
    assert (again.sha256, again.size, again.files) == (x86.sha256, x86.size, x86.files)
    assert first == second
    assert x86.size == len(first)


def test_the_wheel_metadata_names_the_locked_build_backend(x86: PackageResult) -> None:
    version = locked_pins(BUILD_LOCK)["setuptools"]
    with zipfile.ZipFile(x86.path) as archive:
        wheel = archive.read("offhours-0.1.0.dist-info/WHEEL").decode()
    assert f"Generator: setuptools ({version})\n" in wheel


def test_entries_are_sorted_with_fixed_times_modes_and_no_extra_fields(x86: PackageResult) -> None:
    with zipfile.ZipFile(x86.path) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert not [i.filename for i in infos if i.is_dir()]  # no directory entries
    files = [i for i in infos if not i.is_dir()]
    assert x86.files == len(files)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
        assert info.extra == b"", info.filename
        assert info.create_system == 3, info.filename
        mode = info.external_attr >> 16
        if info.is_dir():
            assert mode == 0o40755, info.filename
        else:
            assert info.compress_type == zipfile.ZIP_DEFLATED, info.filename
            assert mode in (0o100644, 0o100755), info.filename
    executables = [i.filename for i in files if i.external_attr >> 16 == 0o100755]
    assert executables and all(name.endswith(".so") for name in executables)


# ------------------------------------------------------------------------------ contents


def test_zip_holds_the_handler_and_its_dependencies_for_x86_64(x86: PackageResult) -> None:
    with zipfile.ZipFile(x86.path) as archive:
        names = archive.namelist()
        assert archive.read("offhours.toml") == CONFIG
    top = {name.split("/")[0] for name in names}
    assert HANDLER.replace(".", "/") + ("/__init__.py" if "." not in HANDLER else ".py") in names
    assert {"pydantic", "pydantic_core", "holidays", "tzdata", "slack_sdk", "urllib3"} <= top
    # needed by holidays as well as by boto3, so not left to the runtime's copy
    assert "dateutil" in top
    so = [n for n in names if n.startswith("pydantic_core/") and n.endswith(".so")]
    assert so and all(f"cpython-3{sys.version_info.minor}-x86_64-linux-gnu" in n for n in so)
    assert not top & set(LEFT_OUT)
    assert not [n for n in top if n.split("-")[0].lower() in LEFT_OUT]  # nor their dist-info
    assert not [n for n in names if n.endswith((".pth", ".pyo"))]
    # Bytecode for this runtime beside each module, and for nothing else.
    tag = sys.implementation.cache_tag
    sources = {n for n in names if n.endswith(".py") and n != "offhours.toml"}
    compiled = {n for n in names if n.endswith(".pyc")}
    assert compiled == {_cached(n, tag) for n in sources}
    assert x86.bytecode == sys.executable
    assert x86.notes == ()
    assert not [n for n in names if "/tests/" in n or n.startswith(("bin/", "tests/"))]
    infos = [n for n in names if ".dist-info/" in n]
    assert f"offhours-{_version()}.dist-info/METADATA" in infos
    dropped = ("/RECORD", "/INSTALLER", "/REQUESTED", "/direct_url.json")
    assert not [n for n in infos if n.endswith(dropped)]
    bundled = {d.split()[0] for d in x86.distributions}
    assert {"offhours", "pydantic-core", "python-dateutil", "six"} <= bundled
    assert not bundled & {"boto3", "botocore", "s3transfer", "jmespath", "typer", "rich"}
    assert x86.size < 50 * 1024 * 1024  # Lambda's limit for a direct upload


def test_no_file_names_the_build_directories(
    x86: PackageResult, temp_root: Path, project: Path
) -> None:
    places = [str(p).encode() for p in (temp_root, project, ROOT)]
    with zipfile.ZipFile(x86.path) as archive:
        leaked = [
            info.filename
            for info in archive.infolist()
            if any(place in archive.read(info) for place in places)
        ]
    assert leaked == []


def test_unpacked_zip_imports_without_the_cli_stack(unpacked: Path, tmp_path: Path) -> None:
    # Stand-in for the Lambda runtime's /var/runtime: boto3 and its dependencies, nothing else.
    import boto3

    packages = Path(boto3.__file__).parents[1]
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PROVIDED:
        (runtime / name).symlink_to(packages / name)
    code = f"""
import gc, importlib.metadata, importlib.util, json, sys
compiled = []
sys.addaudithook(lambda event, args: event == "compile" and compiled.append(str(args[1])))
sys.path[:0] = sys.argv[1:3]
import {HANDLER}, offhours.audit, pydantic_core, boto3
import offhours.sources.ravello, offhours.notifiers.slack
import datetime, os
from offhours.hours import HolidayCalendar
os.environ["LANGUAGE"] = "en_US"  # as Lambda's LANG=en_US.UTF-8 asks of gettext
new_year = {{c: HolidayCalendar(country=c).country_holiday(datetime.date(2026, 1, 1))
            for c in ("DE", "FR")}}
print(json.dumps({{
    "new_year": new_year,
    "compiled": [name for name in compiled if name.startswith(sys.argv[1])],
    "frozen": gc.get_freeze_count(),
    "offhours": sys.modules["offhours"].__file__,
    "pydantic_core": pydantic_core.__file__,
    "urllib3": sys.modules["urllib3"].__file__ if "urllib3" in sys.modules else None,
    "boto3": boto3.__file__,
    "version": importlib.metadata.version("offhours"),
    "cli_loaded": sorted(m for m in ("typer", "rich", "click") if m in sys.modules),
    "cli_present": sorted(m for m in ("typer", "rich", "click") if importlib.util.find_spec(m)),
}}))
"""
    # -I -S: no site-packages, no .pth files, so the venv's editable offhours stays invisible.
    # -B: nothing written, as on Lambda's read-only /var/task.
    proc = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-I", "-S", "-B", "-c", code, str(unpacked), str(runtime)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert Path(seen["offhours"]).is_relative_to(unpacked)
    assert Path(seen["pydantic_core"]).is_relative_to(unpacked)
    assert Path(seen["boto3"]).is_relative_to(runtime)
    assert seen["version"] == _version()
    assert seen["cli_loaded"] == []
    assert seen["cli_present"] == []
    assert seen["compiled"] == []  # the shipped bytecode was used: nothing compiled at import
    assert seen["frozen"] > 0  # the handler froze what its imports made (gc.freeze)
    # a configured country's names come translated; another's, in its own language, no error
    assert seen["new_year"] == {"DE": "New Year's Day", "FR": "Jour de l'an"}


def test_the_zip_leaves_out_what_the_handler_never_loads(x86: PackageResult) -> None:
    with zipfile.ZipFile(x86.path) as archive:
        names = archive.namelist()
    own = {n for n in names if n.startswith("offhours/") and "__pycache__" not in n}
    never = ("offhours/cli", "offhours/__main__.py", "offhours/testing/", "offhours/demo")
    never += ("offhours/examples/",)  # what `offhours init --example` writes
    assert not [n for n in own if n.startswith(never)]
    # of the deploy tooling, only what the handler's path imports: the config's state key, and
    # the schedule grammar that validates a `[deploy]` table left in a packaged configuration
    schedule = {
        f"offhours/deploy/schedule/{p.name}"
        for p in (ROOT / "src" / "offhours" / "deploy" / "schedule").glob("*.py")
    }
    assert {n for n in own if n.startswith("offhours/deploy/")} == {
        "offhours/deploy/__init__.py",
        "offhours/deploy/fingerprint.py",
        *schedule,
    }
    assert {"offhours/lambda_handler.py", "offhours/sources/ravello.py"} <= own
    assert "offhours/sources/aws/prices.json.gz" in own  # package data the AWS source reads
    assert not [n for n in names if n.endswith((".pyi", "/py.typed"))]
    assert not [n for n in names if n.startswith(("pydantic/v1/", "slack/", "holidays/financial"))]
    assert "dateutil/zoneinfo/dateutil-zoneinfo.tar.gz" not in names
    unused_slack = ("oauth", "socket_mode", "rtm", "scim", "audit_logs", "web/async_client.py")
    assert not [n for n in names if n.startswith(tuple(f"slack_sdk/{u}" for u in unused_slack))]
    # holiday names: Germany's, Puerto Rico's and its parent's (US), in each of their languages
    catalogues = {n.rsplit("/", 1)[1] for n in names if n.endswith(".mo")}
    assert catalogues == {"DE.mo", "PR.mo", "US.mo"}
    assert "holidays/locale/en_US/LC_MESSAGES/US.mo" in names
    assert x86.size <= 8 * 1024 * 1024  # the target for the lean zip


@pytest.mark.parametrize(
    ("countries", "catalogues"),
    [((), set()), (("us",), {"US"}), (("UK", "DE"), {"GB", "DE"}), (("PR",), {"PR", "US"})],
)
def test_the_translations_kept_are_the_configured_calendars(
    countries: tuple[str, ...], catalogues: set[str]
) -> None:
    from offhours.deploy.package import _translations_of

    assert _translations_of(countries) == catalogues


def test_an_unknown_holiday_country_is_refused_before_building(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="holiday country 'XX' is not one `holidays` knows"):
        build_package(tmp_path / "x.zip", project_root=ROOT, holiday_countries=["XX"])
    assert not (tmp_path / "x.zip").exists()


def test_bytecode_is_compiled_only_by_an_interpreter_of_the_runtimes_version(
    tmp_path: Path,
) -> None:
    here = f"3.{sys.version_info.minor}"
    assert find_compiler(here) is not None
    assert find_compiler(here).executable == sys.executable  # type: ignore[union-attr]
    # Another version: only a python3.X on PATH that says it is one.
    (tmp_path / "python3.99").write_text("#!/bin/sh\necho cpython-311\n")
    (tmp_path / "python3.99").chmod(0o755)
    assert find_compiler("3.99", path=str(tmp_path)) is None  # a liar (or a pyenv shim)
    assert find_compiler("3.98", path=str(tmp_path)) is None  # none at all
    (tmp_path / "python3.97").write_text("#!/bin/sh\necho cpython-397\n")
    (tmp_path / "python3.97").chmod(0o755)
    found = find_compiler("3.97", path=str(tmp_path))
    assert found is not None
    assert found.executable == str(tmp_path / "python3.97")


def test_without_a_matching_interpreter_the_zip_says_what_it_costs() -> None:
    from offhours.deploy.package import _no_bytecode, _Target

    note = _no_bytecode(_Target.parse("python3.99", "x86_64"))
    assert note.startswith("the zip has no bytecode: it would be compiled for Python 3.99")
    assert "no python3.99 is on PATH" in note
    assert "Each cold start compiles every module instead, about 0.3 s more" in note
    assert f'deploy runtime = "python3.{sys.version_info.minor}"' in note


def _cached(source: str, tag: str) -> str:
    folder, _, name = source.rpartition("/")
    return f"{folder}/__pycache__/{name[:-3]}.{tag}.pyc".lstrip("/")


def _pip(*args: str | Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    proc = subprocess.run(  # noqa: S603 - this interpreter's pip, fixed arguments
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.fixture(scope="session")
def installed(
    wheels: Path, project: Path, build_temp: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """offhours installed from its wheel, as a user without a checkout has it (the zip no
    longer carries the deploy code, so it cannot stand in for an installation)."""
    work = tmp_path_factory.mktemp("installed")
    offline = ("--no-index", "--find-links", wheels)
    with building_in(build_temp):
        _pip("wheel", "--no-deps", *offline, "--wheel-dir", work / "wheel", project)
        (wheel,) = (work / "wheel").glob("offhours-*.whl")
        _pip("install", "--no-deps", "--no-compile", *offline, "--target", work / "site", wheel)
    return work / "site"


def test_the_locks_ship_inside_the_installed_package(installed: Path) -> None:
    deploy = installed / "offhours" / "deploy"
    assert (deploy / "lambda-requirements.lock").read_bytes() == LOCK.read_bytes()
    assert (deploy / "build-requirements.lock").read_bytes() == BUILD_LOCK.read_bytes()


def test_an_installed_offhours_without_checkout_builds_the_same_zip(
    x86: PackageResult,
    installed: Path,
    unpacked: Path,
    wheels: Path,
    temp_root: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "from-installed.zip"
    code = (
        "import sys; sys.path[:0] = [sys.argv.pop(1), sys.argv.pop(1)]; "
        "from offhours.deploy.package import main; sys.exit(main())"
    )
    args = ["--out", str(out), "--runtime", RUNTIME, "--find-links", str(wheels), "--no-index"]
    args += [f"--holiday-country={country}" for country in COUNTRIES]
    # The installed offhours first; its dependency holidays (read for the translations to
    # keep) from the unpacked zip.
    proc = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-I", "-S", "-c", code, str(installed), str(unpacked), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(x86.path) as first, zipfile.ZipFile(out) as second:
        expected = {i.filename: i.CRC for i in first.infolist() if i.filename != "offhours.toml"}
        assert {i.filename: i.CRC for i in second.infolist()} == expected


def test_arm64_zip_carries_aarch64_binaries_and_source_date_epoch(
    wheels: Path, temp_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764161401")  # 2025-11-26 12:50:01 UTC
    result = build(tmp_path / "arm64.zip", wheels, architecture="arm64")
    with zipfile.ZipFile(result.path) as archive:
        so = [n for n in archive.namelist() if n.endswith(".so")]
        stamps = {info.date_time for info in archive.infolist()}
    assert so and all(f"cpython-3{sys.version_info.minor}-aarch64-linux-gnu" in n for n in so)
    assert stamps == {(2025, 11, 26, 12, 50, 0)}  # zip times have two-second steps


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("runtime", "architecture", "says"),
    [
        ("python3.10", "x86_64", "needs Python 3.11 or newer"),
        ("python2.7", "x86_64", "needs Python 3.11 or newer"),
        ("python3", "x86_64", "use python3.11"),
        ("nodejs20.x", "arm64", "cannot run offhours"),
        ("python3.12", "aarch64", "use x86_64 or arm64"),
        ("python3.12", "amd64", "is not one Lambda offers"),
    ],
)
def test_unknown_runtime_or_architecture_is_refused(
    runtime: str, architecture: str, says: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=says):
        build_package(tmp_path / "x.zip", runtime=runtime, architecture=architecture)  # type: ignore[arg-type]
    assert not (tmp_path / "x.zip").exists()


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../offhours.toml", "a\\b", "a//b", "./x"])
def test_extra_file_names_must_stay_inside_the_zip(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a relative path inside the zip"):
        build_package(tmp_path / "x.zip", extra_files={name: b""}, project_root=ROOT)


def test_extra_file_may_not_replace_a_package_file(
    wheels: Path, temp_root: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"'offhours/__init__\.py' would replace"):
        build(tmp_path / "x.zip", wheels, extra_files={"offhours/__init__.py": b""})
    assert not (tmp_path / "x.zip").exists()


@pytest.mark.parametrize("value", ["yesterday", "-5", "1.5"])
def test_source_date_epoch_must_be_whole_seconds(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    with pytest.raises(ConfigError, match=f"SOURCE_DATE_EPOCH='{value}' is not a whole number"):
        build_package(tmp_path / "x.zip", project_root=ROOT)


def test_no_index_needs_a_wheelhouse(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--no-index needs a --find-links wheelhouse"):
        build_package(tmp_path / "x.zip", no_index=True)


def test_missing_wheelhouse_says_how_to_fill_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a directory; fill one with `python -m offh"):
        build_package(tmp_path / "x.zip", find_links=[tmp_path / "nowhere"], no_index=True)


def test_wheelhouse_without_dependencies_names_what_is_missing(
    wheels: Path, temp_root: Path, tmp_path: Path
) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    for wheel in wheels.glob("setuptools-*.whl"):  # the build back-end, and nothing else
        shutil.copy(wheel, partial)
    with pytest.raises(OffhoursError) as caught:
        build(tmp_path / "x.zip", partial)
    message = str(caught.value)
    assert f"could not find wheels for {RUNTIME}/x86_64 in the wheelhouse {partial}" in message
    assert "No matching distribution" in message  # pip's own words
    assert f"--wheelhouse DIR --runtime {RUNTIME} --architecture x86_64" in message
    assert not (tmp_path / "x.zip").exists()


def test_unreachable_index_suggests_an_offline_wheelhouse(
    wheels: Path, temp_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = tmp_path / "backend"
    backend.mkdir()
    for wheel in wheels.glob("setuptools-*.whl"):
        shutil.copy(wheel, backend)
    # An index on a closed loopback port stands in for a machine without network access.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    with pytest.raises(OffhoursError) as caught:
        build_package(
            tmp_path / "x.zip", runtime=RUNTIME, find_links=[backend], project_root=PROJECT
        )
    message = str(caught.value)
    assert message.startswith(f"could not download wheels for {RUNTIME}/x86_64 (pip exited")
    assert "to build offline, fill a wheelhouse with `python -m offhours.deploy.package" in message
    assert message.endswith("and pass --find-links DIR --no-index")


def test_wheelhouse_without_build_backend_says_so(temp_root: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(OffhoursError, match="could not build the offhours wheel") as caught:
        build(tmp_path / "x.zip", empty, architecture="arm64")
    assert "the wheelhouse needs the build back-end too" in str(caught.value)


# ------------------------------------------------------------------- what is left out, as logic

GRAPH = {
    "offhours": ["pydantic", "holidays", "urllib3", "typer", "rich", "boto3"],
    "pydantic": ["pydantic-core", "typing-extensions"],
    "pydantic-core": ["typing-extensions"],
    "typing-extensions": [],
    "holidays": ["python-dateutil"],
    "python-dateutil": ["six"],
    "six": [],
    "urllib3": [],
    "typer": ["click", "rich", "typing-extensions"],
    "click": [],
    "rich": ["pygments", "markdown-it-py"],
    "markdown-it-py": ["mdurl"],
    "mdurl": [],
    "pygments": [],
    "boto3": ["botocore", "s3transfer", "jmespath"],
    "botocore": ["python-dateutil", "urllib3", "jmespath"],
    "s3transfer": ["botocore"],
    "jmespath": [],
}
RUNTIME_SIDE = {"botocore", "s3transfer", "jmespath", "boto3"}
CLI_SIDE = {"typer", "click", "rich", "pygments", "markdown-it-py", "mdurl"}


@pytest.mark.parametrize(
    ("left_out", "expected"),
    [
        ((), set(GRAPH)),
        (("boto3",), set(GRAPH) - RUNTIME_SIDE),
        (("boto3", "typer", "rich"), set(GRAPH) - RUNTIME_SIDE - CLI_SIDE),
        # typer alone: rich stays, offhours needs it directly
        (("typer",), set(GRAPH) - {"typer", "click"}),
        # a left-out distribution stays out even though another one needs it
        (("rich",), set(GRAPH) - {"rich", "pygments", "markdown-it-py", "mdurl"}),
        (("offhours",), set()),
    ],
)
def test_needed_distributions(left_out: tuple[str, ...], expected: set[str]) -> None:
    assert needed_distributions(GRAPH, "offhours", left_out) == expected


def test_requirements_that_are_not_installed_are_no_edges() -> None:
    graph = {"offhours": ["pydantic", "tomli"], "pydantic": ["email-validator"]}
    assert needed_distributions(graph, "offhours", ()) == {"offhours", "pydantic"}


def _version() -> str:
    import tomllib

    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def test_the_unpacked_zip_runs_the_handler_against_moto_and_the_simulators(
    unpacked: Path, tmp_path: Path, aws: Aws, ravello: RavelloSimulator, slack: SlackSink
) -> None:
    """moto cannot invoke Lambda without docker: run the built zip's handler in a fresh
    interpreter that sees only the zip and the runtime's boto3, as Lambda would."""
    import boto3

    from tests.functional.test_lambda_handler import EVENT, FUNCTION, NIGHT, deployed_config

    packages = Path(boto3.__file__).parents[1]
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PROVIDED:
        (runtime / name).symlink_to(packages / name)
    config = deployed_config(aws, ravello, slack)
    aws.client("ssm").put_parameter(
        Name=f"/offhours/{FUNCTION}/config", Value=json.dumps(config), Type="String"
    )
    start = NIGHT - timedelta(hours=3)
    ravello.set_apps([make_app(i, f"zip-lab-{i}", "Ada", publish_start=start) for i in range(4)])
    code = f"""
import json, sys
sys.path[:0] = sys.argv[1:3]
from offhours.lambda_handler import handler
print(json.dumps(handler({json.dumps(EVENT)}, None)))
"""
    env = {
        **os.environ,
        "OFFHOURS_CONFIG_SSM": f"/offhours/{FUNCTION}/config",
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
    }
    proc = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-I", "-S", "-c", code, str(unpacked), str(runtime)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["flagged"] == 4
    assert summary["notified"] == {"slack": 1}
    assert len(slack.messages) == 1
    assert "zip-lab-3" in json.dumps(slack.messages[0])
