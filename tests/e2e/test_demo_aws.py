"""``offhours demo --source aws``: the same audit against moto's AWS emulator, no AWS account;
and what it says when the emulator (a dev extra) is not installed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import Run

CliRun = Callable[..., Run]


def test_the_aws_demo_reports_every_kind_grouped_by_project_with_costs(cli: CliRun) -> None:
    run = cli("demo", "--source", "aws", timeout=240)
    assert run.code == 0, run.stderr
    out = run.stdout
    assert "message 1 of 1" in out
    # Grouped by project, each group with its count and cost; one line per resource.
    assert "atlas — " in out and "zeus — " in out and "hermes — " in out
    for name in (
        "atlas-asg",
        "atlas-db",
        "atlas-aurora",
        "atlas-web",
        "atlas-notebook",
        "atlas-dw",
    ):
        assert name in out
    assert "atlas-k8s/atlas-nodes" in out
    assert "running since at least" in out  # RDS gives no start time: never invented
    assert "so far" in out and "price unknown" in out
    assert "Prices: AWS on-demand list prices of" in out
    assert "Running but exempt" in out and "ci-runner" in out
    assert "Traceback" not in run.stderr


def test_without_moto_the_aws_demo_says_how_to_install_it(cli: CliRun, tmp_path: Path) -> None:
    # A package named moto that cannot be imported stands in for a missing one.
    shadow = tmp_path / "shadow" / "moto"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named moto')\n")
    run = cli("demo", "--source", "aws", env={"PYTHONPATH": str(shadow.parent)})
    assert run.code == 2, (run.stdout, run.stderr)
    assert "offhours: error:" in run.stderr
    assert "pip install" in run.stderr and "moto" in run.stderr
    assert "Traceback" not in run.stderr
