"""The AWS price table: override keys, the pricer's order, the bundled file and its note."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.config import parse_config
from offhours.errors import ConfigError
from offhours.sources.aws import AwsSource
from offhours.sources.aws.prices import (
    ENGINES,
    FORMAT,
    PRODUCTS,
    OverrideKey,
    PriceSource,
    PriceTable,
    bundled_table,
    parse_override_key,
)
from offhours.sources.aws.settings import AwsSourceConfig

SOURCE = PriceSource(("ec2", "rds:postgres"), ("eu-west-1",), "2026-05-04T10:00:00Z", "a test")
TABLE = PriceTable(
    {
        "ec2": {"eu-west-1": {"m5.large": 0.107, "t3.micro": 0.0114}},
        "rds:postgres": {"eu-west-1": {"db.t3.micro": 0.019}},
    },
    (SOURCE,),
)


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("m5.large", OverrideKey(None, "ec2", "m5.large")),
        ("eu-west-1/m5.large", OverrideKey("eu-west-1", "ec2", "m5.large")),
        ("u-6tb1.metal", OverrideKey(None, "ec2", "u-6tb1.metal")),
        ("rds:postgres/db.t3.micro", OverrideKey(None, "rds:postgres", "db.t3.micro")),
        (
            "us-gov-west-1/rds:aurora-mysql:multi-az/db.r6g.large",
            OverrideKey("us-gov-west-1", "rds:aurora-mysql:multi-az", "db.r6g.large"),
        ),
        ("redshift/ra3.xlplus", OverrideKey(None, "redshift", "ra3.xlplus")),
        (
            "ap-southeast-2/sagemaker-notebook/ml.t3.medium",
            OverrideKey("ap-southeast-2", "sagemaker-notebook", "ml.t3.medium"),
        ),
        ("ec2/c7g.xlarge", OverrideKey(None, "ec2", "c7g.xlarge")),
    ],
)
def test_override_keys_parse(key: str, parsed: OverrideKey) -> None:
    assert parse_override_key(key) == parsed


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("db.t3.micro", "name its product: rds:<engine>/db.t3.micro"),
        ("ml.t3.medium", "name its product: sagemaker-notebook/ml.t3.medium"),
        ("rds:postgress/db.t3.micro", "no product 'rds:postgress' (engines: aurora-mysql"),
        ("rds/db.t3.micro", "no product 'rds'"),
        ("rds:postgres/m5.large", "'m5.large' is not a size of rds (e.g. db.t3.micro)"),
        ("eu-west/m5.large", "'eu-west' is not an AWS region"),
        ("EU-WEST-1/m5.large", "'EU-WEST-1' is not an AWS region"),
        ("eu-west-1/ec2/m5.large/x", "is not [REGION/][PRODUCT/]SIZE"),
        ("eu-west-1//m5.large", "is not [REGION/][PRODUCT/]SIZE"),
        ("", "is not [REGION/][PRODUCT/]SIZE"),
        ("m5", "'m5' is not a size of ec2 (e.g. m5.large)"),
        ("sagemaker-notebook/m5.large", "is not a size of sagemaker-notebook"),
    ],
)
def test_override_keys_that_can_never_match_say_why(key: str, says: str) -> None:
    with pytest.raises(ValueError, match="price key") as caught:
        parse_override_key(key)
    assert says in str(caught.value)


_regions = st.from_regex(
    r"[a-z]{2}(-gov|-iso)?-(north|south|east|west|central)+-[1-9]", fullmatch=True
)
_sizes_of = {
    "ec2": st.from_regex(
        r"[a-z][a-z0-9-]{0,5}\.[0-9]{0,2}x?(large|medium|metal)", fullmatch=True
    ).filter(lambda size: not size.startswith(("db.", "ml."))),  # RDS's and SageMaker's
    "rds": st.from_regex(r"db\.[a-z][a-z0-9]{1,4}\.[0-9]{0,2}x?large", fullmatch=True),
    "redshift": st.sampled_from(["dc2.large", "ra3.xlplus", "ra3.16xlarge"]),
    "sagemaker-notebook": st.from_regex(
        r"ml\.[a-z][a-z0-9]{1,4}\.(medium|x?large)", fullmatch=True
    ),
}


@st.composite
def _keys(draw: st.DrawFn) -> tuple[str, OverrideKey]:
    product = draw(st.sampled_from(sorted(PRODUCTS)))
    size = draw(_sizes_of["rds" if product.startswith("rds:") else product])
    region = draw(st.none() | _regions)
    named = product != "ec2" or draw(st.booleans())
    key = "/".join([*([region] if region else []), *([product] if named else []), size])
    return key, OverrideKey(region, product, size)


@given(_keys())
def test_every_well_formed_key_parses_to_its_parts(case: tuple[str, OverrideKey]) -> None:
    key, parts = case
    assert parse_override_key(key) == parts


def _aws(prices: str) -> str:
    return f'[[sources]]\ntype = "aws"\nprices = {prices}\n'


@pytest.mark.parametrize(
    ("prices", "problem"),
    [
        ('{ "db.t3.micro" = 0.02 }', "name its product: rds:<engine>/db.t3.micro"),
        ('{ "m5.large" = -1 }', "-1 must be 0 or more"),
        ('{ "m5.large" = nan }', "finite number"),
        ('{ "m5.large" = "cheap" }', "m5.large"),
    ],
)
def test_the_config_refuses_an_override_that_cannot_apply(prices: str, problem: str) -> None:
    import tomllib

    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(_aws(prices)))
    assert any(problem in p and "sources[0].prices" in p for p in caught.value.problems), (
        caught.value.problems
    )


def test_the_config_keeps_good_overrides() -> None:
    import tomllib

    text = _aws('{ "m5.large" = 0.1, "eu-west-1/m5.large" = 0.09, "redshift/dc2.large" = 0 }')
    (source,) = parse_config(tomllib.loads(text)).sources
    assert isinstance(source, AwsSourceConfig)
    assert source.prices == {"m5.large": 0.1, "eu-west-1/m5.large": 0.09, "redshift/dc2.large": 0}


def test_an_override_for_the_region_wins_over_one_for_all_which_wins_over_the_table() -> None:
    price = TABLE.pricer({"m5.large": 0.2, "eu-west-1/m5.large": 0.15, "t3.micro": 0.01})
    assert price("ec2", "eu-west-1", "m5.large", 1) == (0.15, None)
    assert price("ec2", "us-east-2", "m5.large", 1) == (0.2, None)  # no table price needed
    assert price("ec2", "eu-west-1", "t3.micro", 1) == (0.01, None)
    assert TABLE.pricer()("ec2", "eu-west-1", "m5.large", 1) == (0.107, None)


def test_units_multiply_the_unit_price() -> None:
    hourly, note = TABLE.pricer()("rds:postgres", "eu-west-1", "db.t3.micro", 3)
    assert note is None
    assert hourly == pytest.approx(0.057)


@pytest.mark.parametrize(
    ("product", "region", "size", "says"),
    [
        ("ec2", "eu-west-1", "m9.huge", "m9.huge is not in the ec2 prices for eu-west-1"),
        ("ec2", "sa-east-1", "m5.large", "no ec2 prices in sa-east-1"),
        ("redshift", "eu-west-1", "ra3.xlplus", "the bundled table has no redshift prices"),
        ("ec2", "eu-west-1", None, "eu-west-1 gave no size"),
    ],
)
def test_an_unknown_price_is_none_with_why_and_how_to_fix_never_zero(
    product: str, region: str, size: str | None, says: str
) -> None:
    hourly, note = TABLE.pricer()(product, region, size, 2)
    assert hourly is None
    assert note is not None
    assert note.startswith("price unknown: ")
    assert says in note
    if size:
        assert "set prices = {" in note
        assert region in note


def test_the_unknown_note_names_the_override_key_to_write() -> None:
    _, note = TABLE.pricer()("rds:mysql", "eu-west-1", "db.m5.large", 1)
    assert note is not None
    key = note.split('"')[1]
    assert parse_override_key(key) == OverrideKey("eu-west-1", "rds:mysql", "db.m5.large")


@pytest.mark.parametrize(
    ("overrides", "note"),
    [
        (0, "Prices: AWS on-demand list prices of 2026-05-04 (Linux, shared tenancy)"),
        (1, "Prices: AWS on-demand list prices of 2026-05-04 (Linux, shared tenancy); 1 override"),
        (3, "Prices: AWS on-demand list prices of 2026-05-04 (Linux, shared tenancy); 3 overrides"),
    ],
)
def test_the_note_states_the_date_and_the_overrides(overrides: int, note: str) -> None:
    assert TABLE.note(overrides) == note


def test_the_table_date_is_the_oldest_of_its_sources() -> None:
    newer = PriceSource(("redshift",), ("eu-west-1",), "2026-09-01T00:00:00Z", "b")
    table = TABLE.merged(PriceTable({"redshift": {"eu-west-1": {"dc2.large": 0.3}}}, (newer,)))
    assert table.date == "2026-05-04"
    assert PriceTable({}).date is None
    assert "(no bundled table)" in PriceTable({}).note()


def test_two_inputs_pricing_the_same_product_and_region_is_an_error() -> None:
    with pytest.raises(ValueError, match="ec2 in eu-west-1 is priced by two inputs"):
        TABLE.merged(PriceTable({"ec2": {"eu-west-1": {"m5.large": 0.1}}}))


_sizes = st.from_regex(r"[a-z][a-z0-9]{0,4}\.[a-z0-9]{1,8}", fullmatch=True)
_prices = st.floats(min_value=0.0001, max_value=500, allow_nan=False, allow_infinity=False)
_tables = st.dictionaries(
    st.sampled_from(["ec2", "redshift", "rds:postgres:multi-az"]),
    st.dictionaries(
        st.sampled_from(["us-east-1", "eu-west-1", "ap-south-2"]),
        st.dictionaries(_sizes, _prices, min_size=1, max_size=5),
        min_size=1,
        max_size=2,
    ),
    max_size=3,
)


@given(_tables)
def test_the_file_form_round_trips_and_is_the_same_bytes_for_the_same_table(
    prices: dict[str, dict[str, dict[str, float]]],
) -> None:
    table = PriceTable(prices, (SOURCE,))
    data = table.to_bytes()
    again = PriceTable.from_bytes(data)
    assert again == PriceTable(
        {p: {r: dict(s) for r, s in rs.items()} for p, rs in prices.items()}, (SOURCE,)
    )
    # Insertion order does not matter: the bytes are sorted.
    shuffled = {p: dict(reversed(rs.items())) for p, rs in reversed(prices.items())}
    assert PriceTable(shuffled, (SOURCE,)).to_bytes() == data
    assert data[4:8] == b"\0\0\0\0"  # no timestamp in the gzip header


def _file(doc: object) -> bytes:
    return gzip.compress(json.dumps(doc).encode(), mtime=0)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"not gzip", "not a gzip'd JSON price table"),
        (gzip.compress(b"{nope", mtime=0), "not a gzip'd JSON price table"),
        (_file({"format": FORMAT + 1, "prices": {}}), f"not a price table of format {FORMAT}"),
        (_file({"format": FORMAT, "prices": []}), "not nested objects"),
        (_file({"format": FORMAT, "prices": {"ec2": {"r": {"m5.large": -1}}}}), "negative"),
        (_file({"format": FORMAT, "prices": {"ec2": {"r": {"m5.large": True}}}}), "not a price"),
        (_file({"format": FORMAT, "prices": {"ec2": {"r": {"m5.large": "1"}}}}), "not a price"),
    ],
)
def test_a_damaged_table_file_is_refused_with_where(data: bytes, says: str) -> None:
    with pytest.raises(ValueError, match=r"prices\.json\.gz") as caught:
        PriceTable.from_bytes(data)
    assert says in str(caught.value)


def test_the_bundled_table_is_dated_sourced_and_priced_above_zero() -> None:
    table = bundled_table()
    assert bundled_table() is table  # read once per process
    assert table.date is not None
    assert table.note() == (
        f"Prices: AWS on-demand list prices of {table.date} (Linux, shared tenancy)"
    )
    assert table.sources
    assert all(s.origin and s.published[:10] >= table.date for s in table.sources)
    covered = {(p, r) for p, r, n in table.coverage() if n}
    assert covered == {(p, r) for s in table.sources for p in s.products for r in s.regions}
    for regions in table.prices.values():
        for sizes in regions.values():
            assert all(math.isfinite(v) and v > 0 for v in sizes.values())
    products = set(table.prices)
    assert products <= {"ec2", "redshift", "sagemaker-notebook"} | {
        f"rds:{e}{m}" for e in ENGINES for m in ("", ":multi-az")
    }
    # A spot check against the public list price (us-east-1, Linux, on demand).
    assert table.price("ec2", "us-east-1", "m5.large") == 0.096
    assert table.price("ec2", "us-east-1", "t3.micro") == 0.0104


def test_the_bundled_file_is_small_and_ships_as_package_data() -> None:
    path = Path(__file__).parents[2] / "src" / "offhours" / "sources" / "aws" / "prices.json.gz"
    assert path.stat().st_size < 512 * 1024  # every region and product: ~450 KB
    assert PriceTable.from_bytes(path.read_bytes()).to_bytes() == path.read_bytes()
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert '"sources/aws/prices.json.gz"' in pyproject


def test_the_source_prices_with_its_overrides_and_states_the_note_once() -> None:
    source = AwsSource("aws", regions=["us-east-1"], prices={"us-east-1/m5.large": 0.5})
    price = source.pricer()
    assert price is not None
    assert price("ec2", "us-east-1", "m5.large", 2) == (1.0, None)
    assert price("ec2", "us-east-1", "t3.micro", 1) == (0.0104, None)
    source.pricer()
    date = bundled_table().date
    assert source.notes == [
        f"Prices: AWS on-demand list prices of {date} (Linux, shared tenancy); 1 override"
    ]
