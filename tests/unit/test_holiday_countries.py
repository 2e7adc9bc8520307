"""Which countries `holidays` knows: answered from its registry, without importing them all."""

from __future__ import annotations

import json
import subprocess
import sys

import holidays
import pytest

from offhours import hours


def test_the_registry_answers_what_list_supported_countries_does() -> None:
    hours._countries.cache_clear()
    expected = {code.upper() for code in holidays.list_supported_countries()}
    assert hours._countries() == expected
    assert {"US", "GB", "UK", "GBR", "DE"} <= hours._countries()


@pytest.mark.parametrize(
    ("country", "subdivision", "says"),
    [
        ("XX", None, "unknown country 'XX'; use an ISO 3166-1 alpha-2 code such as US, GB, DE"),
        ("usa", "Nowhere", "unknown subdivision 'Nowhere' for USA; known: AK, AL, AR"),
        ("AQ", "X", "unknown subdivision 'X' for AQ; it has none"),
    ],
)
def test_unknown_regions_keep_their_messages(country: str, subdivision: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        hours.validate_country(country, subdivision)


@pytest.mark.parametrize("country", ["us", "GBR", "UK"])
def test_validating_a_country_imports_no_country_module(country: str) -> None:
    """Before, the check imported every one of holidays' ~280 country modules (a subdivision
    still loads them: `holidays.countries` imports them all with the first one)."""
    code = f"""
import json, sys
from offhours import hours
hours.validate_country({country!r})
print(json.dumps(sorted(m for m in sys.modules if m.startswith("holidays.countries."))))
"""
    proc = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(proc.stdout)
    assert loaded == []


def test_holidays_is_imported_only_when_a_calendar_names_a_country() -> None:
    code = """
import json, sys
import offhours.lambda_handler
from offhours.config import parse_config
parse_config({"sources": [{"type": "ravello", "username": "env:U", "password": "env:P"}]})
before = "holidays" in sys.modules
parse_config({"hours": {"holidays": {"country": "US"}},
              "sources": [{"type": "ravello", "username": "env:U", "password": "env:P"}]})
print(json.dumps([before, "holidays" in sys.modules]))
"""
    proc = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == [False, True]
