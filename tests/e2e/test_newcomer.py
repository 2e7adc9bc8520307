"""A newcomer follows the README: the wheel built and installed into a fresh venv, then
`offhours --version`, `init` with flags, `check`, `audit --dry-run` against the Ravello
simulator, and `schedule`, each through the venv's own `offhours` executable.

Offline, as the rest of the suite: the wheel is built from a snapshot of the project with the
build back-end from the wheelhouse (`python3 dev.py test` fills it; CI too). The wheelhouse
holds the Lambda zip's locked wheels, not the whole `cli` extra (tomlkit, platformdirs), so the
wheel goes into the venv with --no-deps and the venv sees its dependencies through a .pth line
naming this interpreter's site-packages (what `--system-site-packages` would do, had this
interpreter not been a venv itself). offhours itself is the wheel's: the test checks that.

The wheel and the venv are built once per session (per xdist worker; the tests share the
`xdist_group`, so `--dist loadgroup` keeps them on one).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from tests.conftest import RAVELLO_PASSWORD, RAVELLO_USER
from tests.leakguard import leaks

pytestmark = pytest.mark.xdist_group("wheel")

# Monday 2026-11-30, 23:00 in New York: off hours, and not a holiday.
NIGHT = "2026-11-30T23:00:00-05:00"
BIN = "Scripts" if os.name == "nt" else "bin"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path
    offhours: Path


@pytest.fixture(scope="session")
def wheel(project: Path, wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """offhours' wheel, as `pip wheel .` makes it, offline (project, wheels: tests/packaging)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(  # noqa: S603 - pip, on the project's own snapshot
        [
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--quiet"),
            *("--find-links", str(wheels), "--wheel-dir", str(out), str(project)),
        ],
        check=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
    )
    (built,) = out.glob("offhours-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A fresh venv with the wheel installed, and nothing of this checkout on its path."""
    home = tmp_path_factory.mktemp("newcomer") / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(home)
    python = home / BIN / "python"
    subprocess.run(  # noqa: S603 - this interpreter's pip, installing into the new venv
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--no-deps", "--no-index", str(wheel)),
        ],
        check=True,
        timeout=300,
    )
    site = subprocess.run(  # noqa: S603 - the new venv's interpreter
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    # The dependencies, from this interpreter's site-packages (see the module docstring).
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (Path(site) / "zz-test-dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    return Installed(wheel, python, home / BIN / "offhours")


def _run(exe: Path, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the installed entry point, fixed arguments
        [str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_wheel_holds_the_examples_the_locks_py_typed_and_the_entry_point(
    wheel: Path,
) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = archive.read(f"{dist}/entry_points.txt").decode()
        metadata = archive.read(f"{dist}/METADATA").decode()
    for example in ("offhours.toml", "minimal.toml", "aws.toml", "aws-secrets.toml"):
        assert f"offhours/examples/{example}" in names
    for lock in ("lambda-requirements.lock", "build-requirements.lock"):
        assert f"offhours/deploy/{lock}" in names
    assert "offhours/py.typed" in names
    assert "offhours/cli/init.py" in names
    assert "[console_scripts]\noffhours = offhours.cli:main" in entry_points
    # The extras the README's pipx commands name.
    assert "Provides-Extra: cli" in metadata and "Provides-Extra: charts" in metadata
    assert 'Requires-Dist: tomlkit>=0.13; extra == "cli"' in metadata


def test_a_newcomer_installs_inits_checks_audits_and_reads_a_schedule(
    installed: Installed, tmp_path: Path, ravello: RavelloSimulator, slack: SlackSink
) -> None:
    start = datetime.fromisoformat(NIGHT) - timedelta(hours=15)
    ravello.set_apps(
        [make_app(10 + i, f"lab-{i}", "Ada Lovelace", publish_start=start) for i in (2, 10)]
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OFFHOURS_", "PYTHON")) and k != "VIRTUAL_ENV"
    }
    env["PATH"] = f"{installed.offhours.parent}{os.pathsep}{env.get('PATH', '')}"
    env |= {
        "RAVELLO_USER": RAVELLO_USER,
        "RAVELLO_PASSWORD": RAVELLO_PASSWORD,
        "SLACK_WEBHOOK_URL": slack.url,
    }
    outputs = []

    def offhours(*args: str) -> str:
        run = _run(installed.offhours, *args, cwd=tmp_path, env=env)
        outputs.append(run.stdout + run.stderr)
        assert run.returncode == 0, (args, run.stdout, run.stderr)
        return run.stdout

    where = subprocess.run(  # noqa: S603 - the venv's interpreter
        [str(installed.python), "-c", "import offhours; print(offhours.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert Path(where.strip()).is_relative_to(installed.python.parent.parent)

    version = installed.wheel.name.split("-")[1]
    assert offhours("--version").strip() == f"offhours {version}"

    said = offhours(
        "init",
        *("--source", "ravello", "--ravello-url", ravello.base_url),
        *("--user", "env:RAVELLO_USER", "--password", "env:RAVELLO_PASSWORD"),
        *("--slack-webhook", "env:SLACK_WEBHOOK_URL"),
        *("--timezone", "America/New_York", "--country", "US"),
    )
    assert "Wrote offhours.toml" in said
    exports = "export RAVELLO_USER=… RAVELLO_PASSWORD=… SLACK_WEBHOOK_URL=…"
    assert exports in said
    # What the README's "Using it" says, in the order it says it.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    using = readme.split("## Using it", 1)[1]
    steps = ["offhours init ", exports, "offhours check ", "offhours audit --dry-run "]
    assert [using.index(step) for step in steps] == sorted(using.index(step) for step in steps)
    assert "offhours init --source ravello --user env:RAVELLO_USER" in using
    assert "offhours check" in said and "offhours audit --dry-run" in said
    assert "# Secrets are references, never values" in (tmp_path / "offhours.toml").read_text()

    checked = offhours("check")
    assert "offhours.toml: OK" in checked
    assert "America/New_York" in checked and "holidays: US" in checked
    assert "source:    ravello (ravello)" in checked

    audited = offhours("audit", "--dry-run", "--now", NIGHT)
    assert "lab-2" in audited and "lab-10" in audited
    assert audited.index("lab-2") < audited.index("lab-10")
    assert "dry run: would send to notifier 'slack'" in audited
    assert slack.messages == []

    scheduled = offhours("schedule", "cron(0 18-23 ? * MON-FRI *)", "--tz", "America/New_York")
    assert "Monday through Friday" in scheduled and "next 5 fire times" in scheduled

    found = leaks("\n".join(outputs), values=[slack.url])
    assert not found, found
