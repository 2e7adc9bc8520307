"""Tag schedules in the policy: their zones (a fixed offset is a problem, the tag applies) and
their holidays (named, or their zone's country's)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from offhours.hours import HolidayCalendar, parse_schedule
from offhours.model import Resource
from offhours.policy import Policy, decide

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
US = HolidayCalendar("US")
POLICY = Policy(parse_schedule("Mon-Fri 08:00-18:00", NY, US))
# Thanksgiving: a US holiday, a working day in London.
THANKSGIVING_MORNING = datetime(2026, 11, 26, 10, 0, tzinfo=LONDON)
THANKSGIVING_NIGHT = datetime(2026, 11, 26, 22, 0, tzinfo=LONDON)
BOXING_DAY_OBSERVED = datetime(2026, 12, 28, 10, 0, tzinfo=LONDON)


def lab(schedule: str) -> Resource:
    return Resource(
        provider="ravello",
        source="lab",
        id="app-1",
        name="london-lab",
        running=2,
        tags={"offhours": schedule},
    )


@pytest.mark.parametrize(
    ("schedule", "now", "flagged", "why"),
    [
        # the default: a zone of another country brings that country's holidays
        ("Mon-Fri 08:00-18:00 Europe/London", THANKSGIVING_MORNING, False, "inside"),
        ("Mon-Fri 08:00-18:00 Europe/London", THANKSGIVING_NIGHT, True, "outside"),
        ("Mon-Fri 08:00-18:00 Europe/London", BOXING_DAY_OBSERVED, True, "Boxing Day"),
        # named
        ("Mon-Fri 08:00-18:00 Europe/London holidays=GB", THANKSGIVING_MORNING, False, "inside"),
        ("Mon-Fri 08:00-18:00 Europe/London holidays=GB", THANKSGIVING_NIGHT, True, "outside"),
        ("Mon-Fri 08:00-18:00 Europe/London holidays=GB", BOXING_DAY_OBSERVED, True, "Boxing"),
        ("Mon-Fri 08:00-18:00 Europe/London holidays=US", THANKSGIVING_MORNING, True, "Thanks"),
        ("Mon-Fri 08:00-18:00 Europe/London holidays=none", BOXING_DAY_OBSERVED, False, "inside"),
    ],
)
def test_a_london_lab_keeps_london_holidays(
    schedule: str, now: datetime, flagged: bool, why: str
) -> None:
    decision = decide(lab(schedule), POLICY, now)
    assert decision.problems == ()
    assert decision.flagged is flagged
    assert why in decision.reason


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("Mon-Fri 08:00-18:00 EST", '"EST" is a fixed offset, UTC-05:00 all year'),
        ("mon-fri_0800-1800_est5edt", '"EST5EDT" is a legacy POSIX-style zone'),
        ("Mon-Fri 08:00-18:00 Etc/GMT+5", "e.g. America/New_York"),
    ],
)
def test_a_tag_in_a_fixed_offset_zone_applies_with_a_problem(schedule: str, problem: str) -> None:
    # 07:00 New York is 12:00 UTC in winter: EST's 07:00 too; closed either way; 09:00 EST open.
    nine_est = datetime(2026, 12, 1, 14, 0, tzinfo=ZoneInfo("UTC"))
    decision = decide(lab(schedule), POLICY, nine_est)
    (found,) = decision.problems
    assert found.startswith(f'tag offhours="{schedule}": ')
    assert problem in found
    assert found.endswith("; the tag applies")
    assert decision.schedule.startswith("Mon-Fri 08:00-18:00 E")  # the tag's, not the default


def test_a_fixed_offset_zone_the_configuration_chose_is_not_a_problem_per_resource() -> None:
    # The configuration's own zone is warned about once, by `check`, not on every resource.
    policy = Policy(parse_schedule("Mon-Fri 08:00-18:00", ZoneInfo("EST"), US))
    decision = decide(lab("Mon-Fri 07:00-19:00"), policy, THANKSGIVING_NIGHT)
    assert decision.problems == ()
