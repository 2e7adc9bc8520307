#!/usr/bin/env python3
"""Builds offhours' bundled AWS price table (src/offhours/sources/aws/prices.json.gz).

Maintainers run it; the tests run it on fixtures over loopback and never touch the network.

    python scripts/build_aws_prices.py                         # the AWS Price List bulk files
    python scripts/build_aws_prices.py --regions us-east-1 eu-west-1
    python scripts/build_aws_prices.py --from DIR              # the same files, saved in DIR
    python scripts/build_aws_prices.py --karpenter FILE…       # karpenter's generated EC2 tables

It reads the offer index (``/offers/v1.0/aws/index.json``), each offer's ``region_index.json``
and, per region, the offer file in its CSV form. The CSV form is chosen over the JSON one
because it streams with the standard library: one row at a time through ``csv``, in constant
memory, where a JSON offer file of hundreds of MB would need an incremental parser (a new
dependency) to avoid being held whole. Each row is one price of one product and term, so the
filters below are plain column tests.

Which rows make a price (on-demand, hourly, USD, in an AWS Region — not a Local Zone or an
Outpost — and above 0):

* ``ec2``: Linux, shared tenancy, no pre-installed software, capacity status Used, on-demand
  market (AmazonEC2);
* ``rds:<engine>`` / ``rds:<engine>:multi-az``: "Database Instance" rows, Single-AZ or Multi-AZ,
  the engine as RDS names it; licensed engines (Oracle, SQL Server) are taken License Included
  and BYOL rows are skipped; Aurora's I/O-Optimized rows are skipped (the standard
  configuration is priced) (AmazonRDS, AmazonNeptune, AmazonDocDB);
* ``redshift``: "Compute Instance" rows, by node type (AmazonRedshift);
* ``sagemaker-notebook``: the ``Notebk:ml.*`` usage types (AmazonSageMaker; its Instance Type
  column is mostly empty, the usage type names the instance).

A key two rows price differently is left out (and said so): unknown beats a guess. Every
download has a deadline and a size cap, and a redirect is followed only on the same host.
The file is written sorted, gzip'd without a timestamp: the same prices give the same bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import urllib3

from offhours.sources.aws.prices import BUNDLED, ENGINES, PriceSource, PriceTable
from offhours.transport import is_loopback

ENDPOINT = "https://pricing.us-east-1.amazonaws.com"
INDEX = "/offers/v1.0/aws/index.json"
OFFERS = (
    "AmazonEC2",
    "AmazonRDS",
    "AmazonNeptune",
    "AmazonDocDB",
    "AmazonRedshift",
    "AmazonSageMaker",
)
OUT = Path(__file__).resolve().parents[1] / "src" / "offhours" / "sources" / "aws" / BUNDLED

INDEX_MAX_BYTES = 16 * 2**20
OFFER_MAX_BYTES = 2 * 2**30
MAX_REDIRECTS = 3
_PREAMBLE_ROWS = 20

Clock = Callable[[], float]


class BuildError(Exception):
    """Something the maintainer must fix: the message says what, where and how."""


# ---------------------------------------------------------------------------------------------
# Reading: over HTTP (bounded) or from a directory holding the same paths


class _Bounded(io.RawIOBase):
    """A body read at most ``max_bytes`` and only until ``deadline`` (by ``clock``)."""

    def __init__(
        self,
        read: Callable[[int], bytes],
        where: str,
        max_bytes: int,
        deadline: float,
        clock: Clock,
    ) -> None:
        self._read, self._where, self._max, self._deadline, self._clock = (
            read,
            where,
            max_bytes,
            deadline,
            clock,
        )
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._clock() > self._deadline:
            raise BuildError(f"{self._where}: not read in time (the deadline passed)")
        data = self._read(min(len(buffer), 1 << 16, self._max + 1 - self.size))
        self.size += len(data)
        if self.size > self._max:
            raise BuildError(
                f"{self._where}: larger than {self._max:,} bytes; raise --max-bytes if AWS's "
                "offer files really grew that much"
            )
        buffer[: len(data)] = data
        return len(data)


@dataclass
class Reader:
    """Opens price list paths (``/offers/…``) at ``endpoint`` (an https URL, or http on
    loopback) or under the directory ``local``."""

    endpoint: str = ENDPOINT
    local: Path | None = None
    timeout: float = 600.0
    max_bytes: int = OFFER_MAX_BYTES
    clock: Clock = time.monotonic
    _pool: urllib3.PoolManager | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.local is None:
            parts = urlsplit(self.endpoint)
            loopback = is_loopback(parts.hostname or "")
            if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
                raise BuildError(f"{self.endpoint}: use https (http only on loopback)")
            self._pool = urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=10.0, read=60.0),
                retries=urllib3.Retry(
                    total=3,
                    redirect=0,
                    backoff_factor=1.0,
                    status_forcelist=(429, 500, 502, 503, 504),
                    raise_on_status=False,
                ),
            )

    @contextlib.contextmanager
    def open(self, path: str, *, max_bytes: int | None = None) -> Iterator[IO[bytes]]:
        """The bytes at ``path``, bounded in size and time."""
        cap = self.max_bytes if max_bytes is None else max_bytes
        deadline = self.clock() + self.timeout
        if self.local is not None:
            file = self._local(path)
            if file.stat().st_size > cap:
                raise BuildError(f"{file}: larger than {cap:,} bytes; raise --max-bytes")
            with file.open("rb") as handle:
                yield io.BufferedReader(_Bounded(handle.read, str(file), cap, deadline, self.clock))
            return
        url = urljoin(self.endpoint, path)
        response = self._get(url)
        try:
            yield io.BufferedReader(_Bounded(response.read, url, cap, deadline, self.clock))
        finally:
            response.release_conn()

    def _local(self, path: str) -> Path:
        assert self.local is not None
        root = self.local.resolve()
        file = (root / path.lstrip("/")).resolve()
        if not file.is_relative_to(root):
            raise BuildError(f"{path}: outside {root}")
        if not file.is_file():
            raise BuildError(f"{file}: missing; save the price list's {path} there")
        return file

    def _get(self, url: str) -> urllib3.BaseHTTPResponse:
        assert self._pool is not None
        origin = urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = self._pool.request(
                    "GET", url, redirect=False, preload_content=False, decode_content=True
                )
            except urllib3.exceptions.HTTPError as exc:
                raise BuildError(f"{url}: {exc}") from None
            if response.status in (301, 302, 303, 307, 308):
                target = urljoin(url, response.headers.get("Location", ""))
                response.release_conn()
                if urlsplit(target).netloc != origin:
                    raise BuildError(
                        f"{url}: redirected to another host ({urlsplit(target).netloc}); "
                        "not followed"
                    )
                url = target
                continue
            if response.status != 200:
                response.release_conn()
                raise BuildError(f"{url}: HTTP {response.status}")
            return response
        raise BuildError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def json(self, path: str) -> Any:
        with self.open(path, max_bytes=min(self.max_bytes, INDEX_MAX_BYTES)) as body:
            try:
                return json.load(body)
            except ValueError as exc:
                raise BuildError(f"{path}: not JSON ({exc})") from None


# ---------------------------------------------------------------------------------------------
# The offer files: which rows are a price


def _column(name: str) -> str:
    """A CSV header ("Pre Installed S/W") or JSON attribute ("preInstalledSw") as one word."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


_RDS_ENGINES = {
    ("postgresql", ""): "postgres",
    ("mysql", ""): "mysql",
    ("mariadb", ""): "mariadb",
    ("aurorapostgresql", ""): "aurora-postgresql",
    ("auroramysql", ""): "aurora-mysql",
    ("oracle", "standardtwo"): "oracle-se2",
    ("oracle", "enterprise"): "oracle-ee",
    ("sqlserver", "standard"): "sqlserver-se",
    ("sqlserver", "enterprise"): "sqlserver-ee",
    ("sqlserver", "express"): "sqlserver-ex",
    ("sqlserver", "web"): "sqlserver-web",
}
_FIXED_ENGINE = {"AmazonNeptune": "neptune", "AmazonDocDB": "docdb"}
_NOTEBOOK = re.compile(r"(?:^|-)Notebk:(ml\.[a-z0-9-]+\.[a-z0-9-]+)$")
_SIZE = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$")
_REQUIRED = ("termtype", "unit", "priceperunit", "currency")


def _ec2(row: dict[str, str]) -> tuple[str, str] | None:
    if row.get("productfamily") not in ("Compute Instance", "Compute Instance (bare metal)"):
        return None
    wanted = {
        "operatingsystem": "Linux",
        "tenancy": "Shared",
        "preinstalledsw": "NA",
        "capacitystatus": "Used",
    }
    if any(row.get(k) != v for k, v in wanted.items()):
        return None
    if row.get("marketoption", "OnDemand") not in ("", "OnDemand"):
        return None
    return "ec2", row.get("instancetype", "")


def _database(offer: str) -> Callable[[dict[str, str]], tuple[str, str] | None]:
    def product(row: dict[str, str]) -> tuple[str, str] | None:
        if row.get("productfamily") != "Database Instance":
            return None
        if "iooptimized" in _column(row.get("usagetype", "")):
            return None
        if _column(row.get("licensemodel", "")) == "bringyourownlicense":
            return None
        engine = (
            _FIXED_ENGINE.get(offer)
            or _RDS_ENGINES.get(
                (_column(row.get("databaseengine", "")), _column(row.get("databaseedition", "")))
            )
            or _RDS_ENGINES.get((_column(row.get("databaseengine", "")), ""))
        )
        if engine is None or engine not in ENGINES:
            return None
        deployment = row.get("deploymentoption") or "Single-AZ"
        if deployment == "Single-AZ":
            return f"rds:{engine}", row.get("instancetype", "")
        if deployment == "Multi-AZ":
            return f"rds:{engine}:multi-az", row.get("instancetype", "")
        return None

    return product


def _redshift(row: dict[str, str]) -> tuple[str, str] | None:
    if row.get("productfamily") != "Compute Instance":
        return None
    return "redshift", row.get("instancetype", "")


def _sagemaker(row: dict[str, str]) -> tuple[str, str] | None:
    match = _NOTEBOOK.search(row.get("usagetype", ""))
    return ("sagemaker-notebook", match.group(1)) if match else None


def _product_of(offer: str) -> Callable[[dict[str, str]], tuple[str, str] | None]:
    if offer == "AmazonEC2":
        return _ec2
    if offer in ("AmazonRDS", "AmazonNeptune", "AmazonDocDB"):
        return _database(offer)
    if offer == "AmazonRedshift":
        return _redshift
    if offer == "AmazonSageMaker":
        return _sagemaker
    raise BuildError(f"no rules for the offer {offer}")


@dataclass
class Collected:
    """Prices gathered so far, and the keys two rows priced differently."""

    prices: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)
    ambiguous: set[tuple[str, str, str]] = field(default_factory=set)
    sources: list[PriceSource] = field(default_factory=list)

    def add(self, key: tuple[str, str, str], price: Decimal) -> None:
        seen = self.prices.setdefault(key, price)
        if seen != price:
            self.ambiguous.add(key)

    def table(self) -> PriceTable:
        prices: dict[str, dict[str, dict[str, float]]] = {}
        for (product, region, size), price in self.prices.items():
            if (product, region, size) not in self.ambiguous:
                prices.setdefault(product, {}).setdefault(region, {})[size] = float(price)
        return PriceTable(prices, tuple(self.sources))


def read_offer_csv(
    body: IO[bytes], offer: str, region: str, where: str, into: Collected
) -> tuple[str, int]:
    """The prices in one offer file (CSV form) into ``into``: (its publication date, count)."""
    text = io.TextIOWrapper(body, encoding="utf-8-sig", newline="")
    rows = csv.reader(text, strict=True)
    meta: dict[str, str] = {}
    header: list[str] | None = None
    try:
        for _ in range(_PREAMBLE_ROWS):
            first = next(rows)
            if first and first[0] == "SKU":
                header = [_column(h) for h in first]
                break
            if len(first) >= 2:
                meta[_column(first[0])] = first[1]
    except (StopIteration, csv.Error) as exc:
        raise BuildError(f"{where}: not a price list CSV (no header row: {exc})") from None
    published = meta.get("publicationdate", "")
    if header is None or not re.match(r"^\d{4}-\d{2}-\d{2}", published):
        raise BuildError(f"{where}: not a price list CSV (no Publication Date and SKU header)")
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise BuildError(f"{where}: the CSV has no {', '.join(missing)} column")
    product_of = _product_of(offer)
    count = 0
    try:
        for line, fields in enumerate(rows, start=len(meta) + 2):
            if len(fields) != len(header):
                raise BuildError(f"{where}, row {line}: {len(fields)} fields, not {len(header)}")
            row = dict(zip(header, fields, strict=True))
            if (
                row["termtype"] != "OnDemand"
                or row["unit"] != "Hrs"
                or row["currency"] != "USD"
                or row.get("locationtype", "AWS Region") != "AWS Region"
                or row.get("regioncode", region) != region
            ):
                continue
            found = product_of(row)
            if found is None or not _SIZE.match(found[1]):
                continue
            try:
                price = Decimal(row["priceperunit"])
            except InvalidOperation:
                raise BuildError(
                    f"{where}, row {line}: price {row['priceperunit'][:40]!r} is not a number"
                ) from None
            if not price.is_finite() or price <= 0:
                continue  # a zero or odd price is no price: the resource shows "unknown"
            into.add((found[0], region, found[1]), price)
            count += 1
    except csv.Error as exc:
        raise BuildError(f"{where}: malformed CSV ({exc})") from None
    return published, count


def from_offers(
    reader: Reader, offers: tuple[str, ...], regions: list[str] | None, into: Collected
) -> None:
    """Every wanted region of every offer, as the price list's indexes list them."""
    index = reader.json(INDEX)
    for offer in offers:
        entry = (index.get("offers") or {}).get(offer) if isinstance(index, dict) else None
        if not isinstance(entry, dict) or "currentRegionIndexUrl" not in entry:
            raise BuildError(f"{INDEX}: no offer {offer} with a currentRegionIndexUrl")
        region_index = reader.json(str(entry["currentRegionIndexUrl"]))
        listed = region_index.get("regions") if isinstance(region_index, dict) else None
        if not isinstance(listed, dict):
            raise BuildError(f"{entry['currentRegionIndexUrl']}: no regions")
        done: list[str] = []
        dates: set[str] = set()
        for region in sorted(listed if regions is None else set(regions) & set(listed)):
            version = str((listed[region] or {}).get("currentVersionUrl", ""))
            if not version.endswith(".json"):
                raise BuildError(f"{offer} {region}: no currentVersionUrl")
            path = version[: -len(".json")] + ".csv"
            with reader.open(path) as body:
                published, count = read_offer_csv(body, offer, region, path, into)
            print(f"  {offer} {region}: {count} prices, published {published}", file=sys.stderr)
            done.append(region)
            dates.add(published)
        if done:
            products = sorted({p for p, r, _ in into.prices if r in done and _offer_of(p) == offer})
            origin = f"AWS Price List bulk offer files ({offer}, CSV) at {reader.endpoint}"
            if reader.local is not None:
                origin = f"AWS Price List bulk offer files ({offer}, CSV), saved copies"
            into.sources.append(
                PriceSource(tuple(products), tuple(done), min(dates), origin)  # oldest: honest
            )


def _offer_of(product: str) -> str:
    if product == "ec2":
        return "AmazonEC2"
    if product.startswith(("rds:neptune", "rds:docdb")):
        return {"rds:neptune": "AmazonNeptune", "rds:docdb": "AmazonDocDB"}[
            product.removesuffix(":multi-az")
        ]
    if product.startswith("rds:"):
        return "AmazonRDS"
    return {"redshift": "AmazonRedshift", "sagemaker-notebook": "AmazonSageMaker"}[product]


# ---------------------------------------------------------------------------------------------
# An input adapter: karpenter's generated on-demand EC2 table (a Go source file of data)

_KARPENTER_HEADER = re.compile(r"^// generated at (\S+) for (\S+)\s*$", re.M)
_KARPENTER_REGION = re.compile(r'^\s*"([a-z]{2}(?:-[a-z]+)+-\d)": \{', re.M)
_KARPENTER_PRICE = re.compile(r'"([a-z][a-z0-9-]*\.[a-z0-9-]+)": ([0-9]+(?:\.[0-9]+)?)')


#: how karpenter's generator selects its prices (hack/code/prices_gen, pkg/providers/pricing)
KARPENTER_FILTERS = (
    "AWS Price List Query API (GetProducts): Linux, shared tenancy (bare metal: dedicated), "
    "preInstalledSw NA, capacitystatus Used, on-demand"
)


def from_karpenter(text: str, origin: str, into: Collected) -> None:
    """EC2 prices from karpenter-provider-aws's ``zz_generated.pricing_aws*.go`` (USD ones:
    ``pricing_aws.go`` and ``pricing_aws_us_gov.go``; the China one is in CNY).

    karpenter builds it with the AWS Price List Query API (GetProducts) filtered as the ``ec2``
    product here: Linux, shared tenancy (dedicated for bare metal), preInstalledSw NA,
    capacitystatus Used, on-demand. Its header gives the date it was generated.
    """
    header = _KARPENTER_HEADER.search(text)
    if header is None:
        raise BuildError("the karpenter file has no '// generated at <time> for <region>' line")
    published = header.group(1)
    regions: list[str] = []
    marks = list(_KARPENTER_REGION.finditer(text))
    for mark, after in zip(marks, [*marks[1:], None], strict=True):
        region = mark.group(1)
        block = text[mark.end() : after.start() if after else len(text)]
        prices = _KARPENTER_PRICE.findall(block)
        for size, price in prices:
            if Decimal(price) > 0:
                into.add(("ec2", region, size), Decimal(price))
        if prices:
            regions.append(region)
    if not regions:
        raise BuildError("the karpenter file holds no prices")
    into.sources.append(PriceSource(("ec2",), tuple(sorted(regions)), published, origin))


# ---------------------------------------------------------------------------------------------


def write(table: PriceTable, out: Path) -> int:
    """``table`` to ``out`` atomically; its size in bytes."""
    data = table.to_bytes()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, prefix=out.name, delete=False) as tmp:
        tmp.write(data)
    os.chmod(tmp.name, 0o644)  # a package data file, not a secret
    os.replace(tmp.name, out)
    return len(data)


def build(args: argparse.Namespace) -> PriceTable:
    """The table from every input given; two inputs pricing the same product and region is
    an error (their dates and origins would be mixed up)."""
    inputs: list[Collected] = []
    for file in args.karpenter or ():
        origin = f"{args.karpenter_ref.rstrip('/')}/{file.name}, {KARPENTER_FILTERS}"
        inputs.append(Collected())
        from_karpenter(file.read_text(encoding="utf-8"), origin, inputs[-1])
    if args.local or not args.karpenter:
        reader = Reader(
            endpoint=args.endpoint, local=args.local, timeout=args.timeout, max_bytes=args.max_bytes
        )
        inputs.append(Collected())
        from_offers(reader, tuple(args.offers), args.regions, inputs[-1])
    table = PriceTable({})
    for each in inputs:
        table = table.merged(each.table())
        if each.ambiguous:
            shown = ", ".join("/".join(k) for k in sorted(each.ambiguous)[:5])
            print(f"left out {len(each.ambiguous)} prices given twice differently: {shown}")
    if not table.count():
        raise BuildError("no prices found: check --regions and --offers")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT}")
    parser.add_argument("--endpoint", default=ENDPOINT, help="the price list's base URL")
    parser.add_argument(
        "--from", dest="local", type=Path, help="read saved offer files (the URL paths) from DIR"
    )
    parser.add_argument("--regions", nargs="+", help="only these regions (default: all)")
    parser.add_argument("--offers", nargs="+", default=list(OFFERS), choices=OFFERS)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per file")
    parser.add_argument("--max-bytes", type=int, default=OFFER_MAX_BYTES, help="per file")
    parser.add_argument(
        "--karpenter", type=Path, nargs="+", help="karpenter's zz_generated.pricing_aws*.go"
    )
    parser.add_argument(
        "--karpenter-ref",
        default="karpenter-provider-aws",
        help="where those files come from (owner/repo@commit/path)",
    )
    args = parser.parse_args(argv)
    try:
        table = build(args)
        size = write(table, args.out)
    except (BuildError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({size:,} bytes): {table.count()} prices of {table.date}")
    for product, region, sizes in table.coverage():
        print(f"  {product} {region}: {sizes}")
    for source in table.sources:
        print(f"  from {source.origin}, published {source.published}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
