"""On-demand hourly prices of AWS resources: the bundled, dated table and the config's overrides.

The table (``prices.json.gz`` beside this module) is built by ``scripts/build_aws_prices.py``
from the AWS Price List bulk offer files. It holds the on-demand hourly USD price per
(product, region, size), each product and region with the date and origin of its prices:

============================  =====================================================================
product                       what is priced, and the rows of the offer file it comes from
============================  =====================================================================
``ec2``                       an instance type: Linux, shared tenancy, no pre-installed software,
                              capacity status Used (AmazonEC2)
``rds:<engine>``              a DB instance class, Single-AZ, as RDS names the engine (``postgres``,
``rds:<engine>:multi-az``     ``aurora-mysql``, ``oracle-se2``…) or Multi-AZ; licensed engines are
                              priced License Included, never BYOL (AmazonRDS, AmazonNeptune,
                              AmazonDocDB)
``redshift``                  a node type (AmazonRedshift)
``sagemaker-notebook``        an ``ml.*`` notebook instance type (AmazonSageMaker)
============================  =====================================================================

Overrides come from the source's ``prices`` table; a key is ``[REGION/][PRODUCT/]SIZE``
(PRODUCT defaults to ``ec2``)::

    prices = { "m5.large" = 0.1, "eu-west-1/m5.large" = 0.09, "rds:postgres/db.t3.micro" = 0.02 }

An override wins over the table, and one for a region wins over one for every region. A key
that can never match (an unknown product or engine, a size of another product's shape, a
malformed region) is refused when the configuration is validated (:func:`parse_override_key`).
A price the table does not have and no override gives is unknown — ``None`` with a reason,
never 0.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

from offhours.sources.aws.reading import Pricer

__all__ = [
    "ENGINES",
    "FORMAT",
    "PRODUCTS",
    "OverrideKey",
    "PriceSource",
    "PriceTable",
    "bundled_table",
    "parse_override_key",
]

#: the version of the bundled file's layout (the build script writes it, :meth:`load` checks)
FORMAT = 1
BUNDLED = "prices.json.gz"

#: RDS engine names, as the RDS API gives them, that the table can price
ENGINES = frozenset(
    {
        "postgres",
        "mysql",
        "mariadb",
        "aurora-postgresql",
        "aurora-mysql",
        "neptune",
        "docdb",
        "oracle-se2",
        "oracle-ee",
        "sqlserver-se",
        "sqlserver-ee",
        "sqlserver-ex",
        "sqlserver-web",
    }
)

#: every product word a price can be for
PRODUCTS = frozenset(
    {"ec2", "redshift", "sagemaker-notebook"}
    | {f"rds:{e}" for e in ENGINES}
    | {f"rds:{e}:multi-az" for e in ENGINES}
)

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
# The shape of a size, per product family: what keeps "db.t3.micro" from being read as EC2.
_SIZE = {
    "ec2": re.compile(r"^(?!db\.|ml\.)[a-z][a-z0-9-]*\.[a-z0-9-]+$"),
    "rds": re.compile(r"^db\.[a-z0-9-]+\.[a-z0-9-]+$"),
    "redshift": re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$"),
    "sagemaker-notebook": re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9-]+$"),
}
_SIZE_EXAMPLE = {
    "ec2": "m5.large",
    "rds": "db.t3.micro",
    "redshift": "ra3.xlplus",
    "sagemaker-notebook": "ml.t3.medium",
}


def _family(product: str) -> str:
    return "rds" if product.startswith("rds:") else product


class OverrideKey(NamedTuple):
    """A parsed ``prices`` key: ``region`` None means every region."""

    region: str | None
    product: str
    size: str


def parse_override_key(key: str) -> OverrideKey:
    """``[REGION/][PRODUCT/]SIZE`` as its parts; raises ``ValueError`` saying what is wrong
    with a key that could never match a resource."""
    parts = key.split("/")
    if len(parts) > 3 or any(not p.strip() for p in parts):
        raise ValueError(
            f"price key {key!r} is not [REGION/][PRODUCT/]SIZE "
            '(e.g. "m5.large", "eu-west-1/m5.large", "rds:postgres/db.t3.micro")'
        )
    region: str | None = None
    looks_like_region = "-" in parts[0] and ":" not in parts[0] and parts[0] not in PRODUCTS
    if len(parts) == 3 or (len(parts) == 2 and looks_like_region):
        region = parts.pop(0)
        if not _REGION.match(region):
            raise ValueError(f"price key {key!r}: {region!r} is not an AWS region (eu-west-1)")
    product = parts[0] if len(parts) == 2 else "ec2"
    size = parts[-1]
    if product not in PRODUCTS:
        hint = (
            f"engines: {', '.join(sorted(ENGINES))}"
            if product.startswith("rds:")
            else "rds:<engine>[:multi-az], redshift, sagemaker-notebook or ec2"
        )
        raise ValueError(f"price key {key!r}: no product {product!r} ({hint})")
    family = _family(product)
    if not _SIZE[family].match(size):
        if product == "ec2" and len(parts) == 1:
            for other in ("rds", "sagemaker-notebook"):
                if _SIZE[other].match(size):
                    needs = "rds:<engine>/" if other == "rds" else "sagemaker-notebook/"
                    raise ValueError(
                        f"price key {key!r}: {size!r} is not an EC2 instance type; "
                        f"name its product: {needs}{size}"
                    )
        raise ValueError(
            f"price key {key!r}: {size!r} is not a size of {family} (e.g. {_SIZE_EXAMPLE[family]})"
        )
    return OverrideKey(region, product, size)


@dataclass(frozen=True)
class PriceSource:
    """Where the prices of some products in some regions come from, and of when."""

    products: tuple[str, ...]
    regions: tuple[str, ...]
    #: the offer files' publicationDate (ISO 8601, UTC)
    published: str
    origin: str

    def as_json(self) -> dict[str, Any]:
        return {
            "products": list(self.products),
            "regions": list(self.regions),
            "published": self.published,
            "origin": self.origin,
        }


@dataclass(frozen=True)
class PriceTable:
    """Hourly USD per (product, region, size), with the sources and dates they come from."""

    prices: Mapping[str, Mapping[str, Mapping[str, float]]]
    sources: tuple[PriceSource, ...] = ()

    @property
    def date(self) -> str | None:
        """The table's date: the oldest publication date of its prices (YYYY-MM-DD)."""
        dates = sorted(s.published[:10] for s in self.sources)
        return dates[0] if dates else None

    def price(self, product: str, region: str, size: str) -> float | None:
        return self.prices.get(product, {}).get(region, {}).get(size)

    def note(self, overrides: int = 0) -> str:
        """The line the report states once about where its prices come from."""
        when = f"of {self.date}" if self.date else "(no bundled table)"
        text = f"Prices: AWS on-demand list prices {when} (Linux, shared tenancy)"
        if overrides:
            text += f"; {overrides} override{'' if overrides == 1 else 's'}"
        return text

    def pricer(self, overrides: Mapping[str, float] | None = None) -> Pricer:
        """A :data:`~.reading.Pricer` over this table and ``overrides`` (validated keys)."""
        parsed = {parse_override_key(k): float(v) for k, v in (overrides or {}).items()}

        def price(
            product: str, region: str, size: str | None, units: int
        ) -> tuple[float | None, str | None]:
            if not size:
                return None, f"price unknown: {region} gave no size for this {product} resource"
            hourly = parsed.get(OverrideKey(region, product, size))
            if hourly is None:
                hourly = parsed.get(OverrideKey(None, product, size))
            if hourly is None:
                hourly = self.price(product, region, size)
            if hourly is None:
                return None, self._unknown(product, region, size)
            return hourly * max(units, 0), None

        return price

    def _unknown(self, product: str, region: str, size: str) -> str:
        key = size if product == "ec2" else f"{product}/{size}"
        fix = f'set prices = {{ "{region}/{key}" = <USD per hour> }} in the aws source'
        if product not in self.prices:
            return f"price unknown: the bundled table has no {product} prices; {fix}"
        if region not in self.prices[product]:
            return f"price unknown: the bundled table has no {product} prices in {region}; {fix}"
        return f"price unknown: {size} is not in the {product} prices for {region}; {fix}"

    # -- the bundled file ---------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The table as the bundled file: gzip'd JSON, sorted, the same bytes for the same
        table (no timestamp in the gzip header)."""
        doc = {
            "format": FORMAT,
            "currency": "USD",
            "unit": "hour",
            "date": self.date,
            "sources": [s.as_json() for s in sorted(self.sources, key=_source_order)],
            "prices": {
                p: {r: dict(sorted(sizes.items())) for r, sizes in sorted(regions.items())}
                for p, regions in sorted(self.prices.items())
            },
        }
        text = json.dumps(doc, indent=0, sort_keys=True, ensure_ascii=True, allow_nan=False)
        return gzip.compress(text.encode("ascii") + b"\n", compresslevel=9, mtime=0)

    @classmethod
    def from_bytes(cls, data: bytes, *, where: str = BUNDLED) -> PriceTable:
        """A table from :meth:`to_bytes`' form; ``ValueError`` naming ``where`` if it is not."""
        try:
            doc = json.loads(gzip.decompress(data))
        except (OSError, EOFError, ValueError) as exc:
            raise ValueError(f"{where}: not a gzip'd JSON price table ({exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"{where}: not a price table of format {FORMAT}; rebuild it")
        prices: dict[str, dict[str, dict[str, float]]] = {}
        for product, regions in _mapping(doc.get("prices"), where).items():
            for region, sizes in _mapping(regions, where).items():
                prices.setdefault(product, {})[region] = {
                    size: _price(value, f"{where}: {product}/{region}/{size}")
                    for size, value in _mapping(sizes, where).items()
                }
        sources = tuple(
            PriceSource(
                tuple(s["products"]), tuple(s["regions"]), str(s["published"]), str(s["origin"])
            )
            for s in doc.get("sources") or ()
        )
        return cls(prices, sources)

    def merged(self, other: PriceTable) -> PriceTable:
        """This table and ``other``; a (product, region) both price is an error, not a guess."""
        prices = {p: dict(regions) for p, regions in self.prices.items()}
        for product, regions in other.prices.items():
            for region, sizes in regions.items():
                if region in prices.get(product, {}):
                    raise ValueError(f"{product} in {region} is priced by two inputs")
                prices.setdefault(product, {})[region] = sizes
        return PriceTable(prices, self.sources + other.sources)

    def count(self) -> int:
        return sum(len(s) for regions in self.prices.values() for s in regions.values())

    def coverage(self) -> Iterable[tuple[str, str, int]]:
        """(product, region, number of sizes), sorted: what the table covers."""
        for product, regions in sorted(self.prices.items()):
            for region, sizes in sorted(regions.items()):
                yield product, region, len(sizes)


def _source_order(s: PriceSource) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    return s.products, s.regions, s.origin


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: the price table's prices are not nested objects")
    return value


def _price(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: {value!r} is not a price")
    if value < 0:
        raise ValueError(f"{where}: a negative price")
    return float(value)


@cache
def bundled_table() -> PriceTable:
    """The table shipped with offhours, read on first use, once per process."""
    data = resources.files(__package__).joinpath(BUNDLED).read_bytes()
    return PriceTable.from_bytes(data)
