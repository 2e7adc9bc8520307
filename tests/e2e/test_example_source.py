"""A third-party source is one module plus an entry point: the example package under
examples/offhours-example-source, found by the real `offhours` command through its entry point,
validated by its own model and reported."""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

import offhours
from tests.conftest import Run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "offhours-example-source"
# Monday 2026-11-30, 23:00 UTC: outside 08:00-18:00.
NIGHT = "2026-11-30T23:00:00Z"

CONFIG = """
[hours]
timezone = "UTC"
start = "08:00"
end = "18:00"

[[sources]]
type = "example"
name = "workshop"
cost_per_hour = 0.25
machines = [
  {{ id = "m-1", name = "build-box", owner = "Ada", running_since = 2026-11-30T08:00:00Z }},
  {{ id = "m-2", name = "spare", running = false }},{extra}
]
"""

CliRun = Callable[..., Run]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example installed as pip leaves it: its module and a ``.dist-info`` whose
    ``entry_points.txt`` is written from the example's own pyproject.toml, as setuptools
    writes it (a pip build, with an isolated setuptools, gives the same files in ~13 s)."""
    pyproject = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    project = pyproject["project"]
    place = tmp_path_factory.mktemp("site")
    for module in pyproject["tool"]["setuptools"]["py-modules"]:
        shutil.copy(EXAMPLE / f"{module}.py", place)
    info = place / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    groups = [
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in entries.items())
        for group, entries in project["entry-points"].items()
    ]
    (info / "entry_points.txt").write_text("\n".join(groups))
    return place


def run_with(cli: CliRun, tmp_path: Path, site: Path, *args: str, extra: str = "") -> Run:
    (tmp_path / "offhours.toml").write_text(CONFIG.format(extra=extra))
    # The example beside this checkout's offhours, ahead of anything installed.
    paths = [str(site), str(Path(offhours.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
    run: Run = cli(*args, env={"PYTHONPATH": os.pathsep.join(p for p in paths if p)})
    assert "Traceback" not in run.stderr, run.stderr
    return run


def test_the_example_declares_its_entry_point() -> None:
    pyproject = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"] == {
        "offhours.sources": {"example": "offhours_example_source:ExampleSource"}
    }


def test_check_finds_the_example_source(cli: CliRun, tmp_path: Path, site: Path) -> None:
    run = run_with(cli, tmp_path, site, "check")
    assert run.code == 0, run.stderr
    assert "source:    workshop (example)" in run.stdout


def test_an_audit_reports_what_the_example_source_collects(
    cli: CliRun, tmp_path: Path, site: Path
) -> None:
    run = run_with(cli, tmp_path, site, "audit", "--dry-run", "--now", NIGHT, "--format", "json")
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["sources"] == ["workshop"]
    assert report["totals"]["checked"] == 2
    [finding] = report["findings"]
    assert finding["name"] == "build-box"
    assert finding["kind"] == "example.machine"
    assert finding["key"] == "example/workshop//example.machine/m-1"
    assert finding["hourly_cost"] == 0.25
    assert finding["reason"].startswith("outside business hours")


def test_the_example_table_is_validated_by_its_own_model(
    cli: CliRun, tmp_path: Path, site: Path
) -> None:
    bad = (
        '\n  { id = "m-3" },'
        '\n  { id = "m-4", name = "x", colour = "red" },'
        '\n  { id = "m-5", name = "y", running_since = 2026-11-30T08:00:00 },'
    )
    run = run_with(cli, tmp_path, site, "check", extra=bad)
    assert run.code == 2
    # Every problem at once, each at its key path, as for offhours' own tables.
    for expected in (
        "sources[0].machines[2].name: missing; this key is required",
        "sources[0].machines[3].colour: unknown key; expected one of: id, name, owner, running, "
        "running_since, tags",
        "sources[0].machines[4].running_since: ",
    ):
        assert expected in run.stderr
