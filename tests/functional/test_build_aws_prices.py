"""scripts/build_aws_prices.py on small offer files in the real bulk layout, over loopback.

The files follow the AWS Price List's paths (index.json → region_index.json → the offer file
per region, in its CSV form: five preamble rows, the header, one row per price and term).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import IO

import pytest

from offhours.sources.aws.prices import PriceTable
from offhours.testing._http import LoopbackHandler, LoopbackServer, send_text

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_aws_prices.py"
PUBLISHED = "2026-10-01T18:04:12Z"

_spec = importlib.util.spec_from_file_location("build_aws_prices", SCRIPT)
assert _spec is not None and _spec.loader is not None
build: ModuleType = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = build  # its dataclasses look their module up
_spec.loader.exec_module(build)

# The columns of the offer files, as AWS names them (a subset: the rest are ignored anyway).
COMMON = [
    "SKU", "OfferTermCode", "RateCode", "TermType", "PriceDescription", "EffectiveDate",
    "StartingRange", "EndingRange", "Unit", "PricePerUnit", "Currency", "RelatedTo",
    "LeaseContractLength", "PurchaseOption", "OfferingClass", "Product Family", "serviceCode",
    "Location", "Location Type", "Instance Type", "usageType", "operation", "Region Code",
]  # fmt: skip
HEADERS = {
    "AmazonEC2": [
        *COMMON, "Tenancy", "Operating System", "License Model", "CapacityStatus",
        "Pre Installed S/W", "MarketOption",
    ],
    "AmazonRDS": [
        *COMMON, "Database Engine", "Database Edition", "License Model", "Deployment Option",
    ],
    "AmazonNeptune": COMMON,
    "AmazonDocDB": COMMON,
    "AmazonRedshift": COMMON,
    "AmazonSageMaker": [*COMMON, "Component"],
}  # fmt: skip
RDS_ENGINES = {"postgres", "mysql", "aurora-postgresql", "oracle-se2", "sqlserver-se"}
LOCATION = {"us-east-1": "US East (N. Virginia)", "eu-west-1": "EU (Ireland)"}

Row = Mapping[str, str]


def _price(region: str, price: str, **attrs: str) -> dict[str, str]:
    return {
        "TermType": "OnDemand",
        "Unit": "Hrs",
        "PricePerUnit": price,
        "Currency": "USD",
        "Location": LOCATION[region],
        "Location Type": "AWS Region",
        "Region Code": region,
        **attrs,
    }


def _ec2(region: str, size: str, price: str, **attrs: str) -> dict[str, str]:
    linux = {
        "Product Family": "Compute Instance",
        "Instance Type": size,
        "Tenancy": "Shared",
        "Operating System": "Linux",
        "License Model": "No License required",
        "CapacityStatus": "Used",
        "Pre Installed S/W": "NA",
        "MarketOption": "OnDemand",
    }
    return _price(region, price, **{**linux, **attrs})


def _rds(region: str, size: str, price: str, engine: str, **attrs: str) -> dict[str, str]:
    base = {
        "Product Family": "Database Instance",
        "Instance Type": size,
        "Database Engine": engine,
        "License Model": "No license required",
        "Deployment Option": "Single-AZ",
        "usageType": f"InstanceUsage:{size}",
    }
    return _price(region, price, **{**base, **attrs})


def _db(region: str, size: str, price: str, usage: str = "InstanceUsage") -> dict[str, str]:
    """A Neptune or DocumentDB instance row (their offers name no engine)."""
    return _price(
        region,
        price,
        **{"Product Family": "Database Instance", "Instance Type": size},
        usageType=f"EU-{usage}:{size}",
    )


def _ml(region: str, usage: str, price: str) -> dict[str, str]:
    """A SageMaker row: the instance is in the usage type, the Instance Type column empty."""
    return _price(region, price, **{"Product Family": "ML Instance"}, usageType=usage)


FAMILY = "Product Family"
METAL = {FAMILY: "Compute Instance (bare metal)"}
MULTI_AZ = {"Deployment Option": "Multi-AZ"}
READABLE = {"Deployment Option": "Multi-AZ (readable standbys)"}
ORACLE_LI = {"Database Edition": "Standard Two", "License Model": "License included"}
ORACLE_BYOL = {"Database Edition": "Standard Two", "License Model": "Bring your own license"}
SQLSERVER_LI = {"Database Edition": "Standard", "License Model": "License included"}
IO_OPTIMIZED = "InstanceUsageIOOptimized:db.r6g.large"

OFFERS: dict[str, dict[str, list[dict[str, str]]]] = {
    "AmazonEC2": {
        "us-east-1": [
            _ec2("us-east-1", "m5.large", "0.0960000000"),
            # each a price of another product or term: none is the m5.large's
            _ec2("us-east-1", "m5.large", "0.1880000000", **{"Operating System": "Windows"}),
            _ec2("us-east-1", "m5.large", "0.1010000000", Tenancy="Dedicated"),
            _ec2(
                "us-east-1", "m5.large", "0.0000000000", CapacityStatus="UnusedCapacityReservation"
            ),
            _ec2("us-east-1", "m5.large", "0.0580000000", TermType="Reserved"),
            _ec2("us-east-1", "m5.large", "0.1200000000", **{"Pre Installed S/W": "SQL Std"}),
            _ec2("us-east-1", "m5.large", "0.1100000000", **{"Location Type": "AWS Local Zone"}),
            _ec2("us-east-1", "m5.large", "0.0300000000", MarketOption="CapacityBlock"),
            _ec2("us-east-1", "m5.large", "7.0000000000", Unit="Quantity"),
            _ec2("us-east-1", "t3.micro", "0.0104000000"),
            _ec2("us-east-1", "c5.metal", "4.0800000000", **METAL),
            # two different prices for one key: left out, not guessed
            _ec2("us-east-1", "x9.odd", "1.0000000000"),
            _ec2("us-east-1", "x9.odd", "2.0000000000"),
        ],
        "eu-west-1": [_ec2("eu-west-1", "m5.large", "0.1070000000")],
    },
    "AmazonRDS": {
        "us-east-1": [
            _rds("us-east-1", "db.t3.micro", "0.0180000000", "PostgreSQL"),
            _rds("us-east-1", "db.t3.micro", "0.0360000000", "PostgreSQL", **MULTI_AZ),
            _rds("us-east-1", "db.t3.micro", "0.0400000000", "PostgreSQL", **READABLE),
            _rds("us-east-1", "db.t3.micro", "0.0170000000", "MySQL"),
            _rds("us-east-1", "db.r6g.large", "0.2600000000", "Aurora PostgreSQL"),
            _rds("us-east-1", "db.r6g.large", "0.338", "Aurora PostgreSQL", usageType=IO_OPTIMIZED),
            _rds("us-east-1", "db.m5.large", "0.4650000000", "Oracle", **ORACLE_LI),
            _rds("us-east-1", "db.m5.large", "0.1710000000", "Oracle", **ORACLE_BYOL),
            _rds("us-east-1", "db.m5.large", "0.9770000000", "SQL Server", **SQLSERVER_LI),
            _rds("us-east-1", "db.m5.large", "0.5000000000", "Db2"),
            # extended support: priced per vCPU-hour, no instance type
            _rds("us-east-1", "", "0.1", "Aurora MySQL", **{FAMILY: ""}, Unit="vCPU-hour"),
        ],
    },
    "AmazonNeptune": {"eu-west-1": [_db("eu-west-1", "db.r5.large", "0.3890000000")]},
    "AmazonDocDB": {
        "eu-west-1": [
            _db("eu-west-1", "db.r5.large", "0.3050000000"),
            _db("eu-west-1", "db.r5.large", "0.3350000000", "InstanceUsageIOOptimized"),
        ],
    },
    "AmazonRedshift": {
        "us-east-1": [
            _price(
                "us-east-1",
                "1.0860000000",
                **{FAMILY: "Compute Instance", "Instance Type": "ra3.xlplus"},
                usageType="Node:ra3.xlplus",
            ),
            _price("us-east-1", "0.375", **{FAMILY: "Serverless"}, usageType="ServerlessUsage"),
        ],
    },
    "AmazonSageMaker": {
        "us-east-1": [
            _ml("us-east-1", "USE1-Notebk:ml.t3.medium", "0.0500000000"),
            _ml("us-east-1", "USE1-Train:ml.m5.xlarge", "0.2300000000"),
            _ml("us-east-1", "USE1-Studio:JupyterLab-ml.t3.medium", "0.0500000000"),
        ],
    },
}

EXPECTED = {
    "ec2": {
        "us-east-1": {"m5.large": 0.096, "t3.micro": 0.0104, "c5.metal": 4.08},
        "eu-west-1": {"m5.large": 0.107},
    },
    "rds:postgres": {"us-east-1": {"db.t3.micro": 0.018}},
    "rds:postgres:multi-az": {"us-east-1": {"db.t3.micro": 0.036}},
    "rds:mysql": {"us-east-1": {"db.t3.micro": 0.017}},
    "rds:aurora-postgresql": {"us-east-1": {"db.r6g.large": 0.26}},
    "rds:oracle-se2": {"us-east-1": {"db.m5.large": 0.465}},
    "rds:sqlserver-se": {"us-east-1": {"db.m5.large": 0.977}},
    "rds:neptune": {"eu-west-1": {"db.r5.large": 0.389}},
    "rds:docdb": {"eu-west-1": {"db.r5.large": 0.305}},
    "redshift": {"us-east-1": {"ra3.xlplus": 1.086}},
    "sagemaker-notebook": {"us-east-1": {"ml.t3.medium": 0.05}},
}


def offer_csv(offer: str, rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(["FormatVersion", "v1.0"])
    writer.writerow(["Disclaimer", "This pricing list is for informational purposes only."])
    writer.writerow(["Publication Date", PUBLISHED])
    writer.writerow(["Version", "20261001180412"])
    writer.writerow(["OfferCode", offer])
    header = HEADERS[offer]
    writer.writerow(header)
    for n, row in enumerate(rows):
        assert set(row) <= set(header), set(row) - set(header)
        writer.writerow([row.get(h, f"SKU{n}" if h == "SKU" else "") for h in header])
    return out.getvalue().encode()


def write_price_list(root: Path, *, region_index_prefix: str = "") -> Path:
    """The price list's tree under ``root``, as the bulk endpoint serves it."""
    base = root / "offers" / "v1.0" / "aws"
    index: dict[str, object] = {"formatVersion": "v1.0", "publicationDate": PUBLISHED}
    offers = {}
    for offer, regions in OFFERS.items():
        region_index = f"/offers/v1.0/aws/{offer}/current/region_index.json"
        offers[offer] = {
            "offerCode": offer,
            "currentVersionUrl": f"/offers/v1.0/aws/{offer}/current/index.json",
            "currentRegionIndexUrl": region_index_prefix + region_index,
        }
        listed = {}
        for region, rows in regions.items():
            version = f"/offers/v1.0/aws/{offer}/20261001180412/{region}/index.json"
            listed[region] = {"regionCode": region, "currentVersionUrl": version}
            target = root / version.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.with_suffix(".csv").write_bytes(offer_csv(offer, rows))
        path = root / region_index.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"regions": listed}))
    index["offers"] = offers
    base.mkdir(parents=True, exist_ok=True)
    (base / "index.json").write_text(json.dumps(index))
    return root


class PriceList(LoopbackHandler):
    """Serves the tree; ``/same/…`` redirects on this host, ``/away/…`` to another one."""

    def do_GET(self) -> None:
        root: Path = self.context
        if self.path.startswith(("/same/", "/away/")):
            host = "127.0.0.1" if self.path.startswith("/same/") else "localhost"
            port = self.server.server_address[1]
            location = f"http://{host}:{port}{self.path[len('/same') :]}"
            send_text(self, 302, b"", headers={"Location": location})
            return
        file = root / self.path.lstrip("/")
        if not file.is_file():
            send_text(self, 404, b"no such file")
            return
        send_text(self, 200, file.read_bytes(), content_type="application/octet-stream")


def serve(root: Path) -> LoopbackServer:
    handler: type[BaseHTTPRequestHandler] = PriceList
    return LoopbackServer(handler, context=root)


@pytest.fixture
def price_list(tmp_path: Path) -> Iterator[tuple[LoopbackServer, Path]]:
    root = write_price_list(tmp_path / "list")
    with serve(root) as server:
        yield server, root


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(  # noqa: S603 - this interpreter, the script, fixed arguments
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_script_builds_the_table_from_the_bulk_files_as_a_maintainer_runs_it(
    price_list: tuple[LoopbackServer, Path], tmp_path: Path
) -> None:
    server, _ = price_list
    out = tmp_path / "prices.json.gz"
    done = _run("--endpoint", server.url, "--out", str(out))
    assert done.returncode == 0, done.stderr
    table = PriceTable.from_bytes(out.read_bytes())
    assert table.prices == EXPECTED
    assert table.date == PUBLISHED[:10]
    assert f"wrote {out} (" in done.stdout
    assert f"prices of {PUBLISHED[:10]}" in done.stdout
    assert "  ec2 us-east-1: 3" in done.stdout
    assert "left out 1 prices given twice differently: ec2/us-east-1/x9.odd" in done.stdout
    by_offer = {s.origin.split("(")[1].split(",")[0]: s for s in table.sources}
    assert set(by_offer) == set(OFFERS)
    assert by_offer["AmazonEC2"].regions == ("eu-west-1", "us-east-1")
    assert by_offer["AmazonEC2"].products == ("ec2",)
    assert by_offer["AmazonRDS"].products == tuple(
        sorted(
            p for p in EXPECTED if p.startswith("rds:") and "neptune" not in p and "docdb" not in p
        )
    )
    assert all(s.published == PUBLISHED for s in table.sources)
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    # The same files give the same bytes.
    again = tmp_path / "again.json.gz"
    assert _run("--endpoint", server.url, "--out", str(again)).returncode == 0
    assert again.read_bytes() == out.read_bytes()


def test_saved_files_give_the_same_table_and_regions_narrow_it(
    price_list: tuple[LoopbackServer, Path], tmp_path: Path
) -> None:
    server, root = price_list
    online, saved = tmp_path / "online.json.gz", tmp_path / "saved.json.gz"
    assert build.main(["--endpoint", server.url, "--out", str(online)]) == 0
    assert build.main(["--from", str(root), "--out", str(saved)]) == 0
    assert PriceTable.from_bytes(saved.read_bytes()).prices == EXPECTED
    assert saved.read_bytes() != online.read_bytes()  # the origin says where they came from
    narrow = tmp_path / "narrow.json.gz"
    args = ["--from", str(root), "--regions", "eu-west-1", "--offers", "AmazonEC2"]
    assert build.main([*args, "--out", str(narrow)]) == 0
    assert PriceTable.from_bytes(narrow.read_bytes()).prices == {
        "ec2": {"eu-west-1": {"m5.large": 0.107}}
    }


def test_a_redirect_on_the_same_host_is_followed(tmp_path: Path) -> None:
    root = write_price_list(tmp_path / "list", region_index_prefix="/same")
    out = tmp_path / "prices.json.gz"
    with serve(root) as server:
        assert build.main(["--endpoint", server.url, "--out", str(out)]) == 0
    assert PriceTable.from_bytes(out.read_bytes()).prices == EXPECTED


def _fails(args: list[str], capsys: pytest.CaptureFixture[str], out: Path) -> str:
    assert build.main([*args, "--out", str(out)]) == 1
    assert not out.exists()  # nothing half-written
    err = capsys.readouterr().err
    assert err.startswith("error: ") or "\nerror: " in err
    return err


def test_a_redirect_to_another_host_is_not_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_price_list(tmp_path / "list", region_index_prefix="/away")
    with serve(root) as server:
        err = _fails(["--endpoint", server.url], capsys, tmp_path / "p.json.gz")
    assert "redirected to another host (localhost:" in err
    assert "not followed" in err


def test_an_oversized_file_is_cut_off_at_the_cap(
    price_list: tuple[LoopbackServer, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, root = price_list
    err = _fails(["--endpoint", server.url, "--max-bytes", "2000"], capsys, tmp_path / "p.gz")
    assert "larger than 2,000 bytes; raise --max-bytes" in err
    err = _fails(["--from", str(root), "--max-bytes", "2000"], capsys, tmp_path / "p.gz")
    assert "larger than 2,000 bytes" in err


def _read_all(body: IO[bytes]) -> None:
    while body.read(100):
        pass


def test_a_file_read_past_its_deadline_is_abandoned(
    price_list: tuple[LoopbackServer, Path],
) -> None:
    server, _ = price_list
    ticks = iter(range(0, 10_000, 100))  # each look at the clock: 100 s later
    reader = build.Reader(endpoint=server.url, timeout=250, clock=lambda: float(next(ticks)))
    path = "/offers/v1.0/aws/AmazonEC2/20261001180412/us-east-1/index.csv"
    with reader.open(path) as body, pytest.raises(build.BuildError, match="not read in time"):
        _read_all(body)


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda text: "", "not a price list CSV"),
        (lambda text: text.replace('"Publication Date"', '"Published"'), "no Publication Date"),
        (lambda text: text.replace('"PricePerUnit"', '"Price"'), "has no priceperunit column"),
        (lambda text: text.replace('"0.0960000000"', '"cheap"'), "price 'cheap' is not a number"),
        (lambda text: text + '"only","three","fields"\n', "3 fields, not"),
        (lambda text: text + '"unclosed\n', "malformed CSV"),
    ],
)
def test_a_malformed_offer_file_is_refused_with_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: object, says: str
) -> None:
    root = write_price_list(tmp_path / "list")
    file = root / "offers/v1.0/aws/AmazonEC2/20261001180412/us-east-1/index.csv"
    file.write_text(damage(file.read_text()))  # type: ignore[operator]
    with serve(root) as server:
        err = _fails(["--endpoint", server.url], capsys, tmp_path / "p.json.gz")
    assert says in err
    assert "AmazonEC2/20261001180412/us-east-1/index.csv" in err


@pytest.mark.parametrize(
    ("index", "says"),
    [
        ("{not json", "index.json: not JSON"),
        ('{"offers": {}}', "no offer AmazonEC2 with a currentRegionIndexUrl"),
    ],
)
def test_a_malformed_index_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], index: str, says: str
) -> None:
    root = write_price_list(tmp_path / "list")
    (root / "offers/v1.0/aws/index.json").write_text(index)
    with serve(root) as server:
        assert says in _fails(["--endpoint", server.url], capsys, tmp_path / "p.json.gz")


def test_a_missing_file_and_a_plain_http_endpoint_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(tmp_path) as server:
        assert "HTTP 404" in _fails(["--endpoint", server.url], capsys, tmp_path / "p.gz")
    err = _fails(["--endpoint", "http://pricing.example.test"], capsys, tmp_path / "p.gz")
    assert "use https (http only on loopback)" in err
    err = _fails(["--from", str(tmp_path / "empty")], capsys, tmp_path / "p.gz")
    assert "index.json: missing; save the price list's" in err


KARPENTER = """\
package pricing

// generated at 2026-07-20T13:44:30Z for us-east-1

var InitialOnDemandPricesAWS = map[string]map[ec2types.InstanceType]float64{
	// us-east-1
	"us-east-1": {
		// m5 family
		"m5.large": 0.096000, "m5.xlarge": 0.192000,
		// t3 family
		"t3.micro": 0.010400,
	},
}
"""


def test_karpenters_generated_table_is_an_input_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    go = tmp_path / "zz_generated.pricing_aws.go"
    go.write_text(KARPENTER)
    out = tmp_path / "prices.json.gz"
    args = ["--karpenter", str(go), "--karpenter-ref", "karpenter@abc", "--out", str(out)]
    assert build.main(args) == 0
    table = PriceTable.from_bytes(out.read_bytes())
    assert table.prices == {
        "ec2": {"us-east-1": {"m5.large": 0.096, "m5.xlarge": 0.192, "t3.micro": 0.0104}}
    }
    (source,) = table.sources
    assert source.published == "2026-07-20T13:44:30Z"
    assert source.origin.startswith("karpenter@abc/zz_generated.pricing_aws.go, AWS Price List")
    gov = tmp_path / "zz_generated.pricing_aws_us_gov.go"
    gov.write_text(KARPENTER.replace('"us-east-1": {', '"us-gov-west-1": {'))
    assert build.main(["--karpenter", str(go), str(gov), "--out", str(out)]) == 0
    both = PriceTable.from_bytes(out.read_bytes())
    assert set(both.prices["ec2"]) == {"us-east-1", "us-gov-west-1"}
    assert [s.regions for s in both.sources] == [("us-east-1",), ("us-gov-west-1",)]
    go.write_text(KARPENTER.replace("// generated at", "// made at"))
    assert "no '// generated at <time> for <region>' line" in _fails(
        ["--karpenter", str(go)], capsys, tmp_path / "x.gz"
    )


def test_two_inputs_for_the_same_prices_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_price_list(tmp_path / "list")
    go = tmp_path / "zz_generated.pricing_aws.go"
    go.write_text(KARPENTER.replace('m5.large": 0.096000', 'm5.large": 0.5'))
    args = ["--karpenter", str(go), "--from", str(root), "--offers", "AmazonEC2"]
    assert "ec2 in us-east-1 is priced by two inputs" in _fails(args, capsys, tmp_path / "p.gz")
