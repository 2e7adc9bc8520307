"""Business hours: days, windows, time zones, holidays, the tag schedule grammar, exemptions.

Everything here is pure: the instant being judged (``now``) is always a parameter.

A window belongs to the day it *starts* on: ``Mon 22:00-06:00`` covers Tuesday 03:00 when
Monday is a working day that is not a holiday. Window edges are local wall-clock times; around a
DST change an edge resolves to the first instant at which the local clock shows that time (or
later, when the clock jumps over it), so ``08:00-18:00`` is 08:00-18:00 on the clock every day.

Tag grammar (one zone per schedule, written once, at the end; the default zone when omitted)::

    Mon-Fri 07:30-19:00 Europe/London
    Mon-Fri 08:00-12:00,13:00-18:00; Sat 09:00-13:00 America/New_York
    Mon-Thu 22:00-06:00          (crosses midnight)
    always | never               (24x7 | off-hours at all times)
    mon-fri_0730-1900_europe--london     (compact form: only [a-z0-9_-], fits GCP labels)
    Mon-Fri 08:00-18:00 Europe/London holidays=GB     (its own public holidays; GB-ENG, none)
    mon-fri_0800-1800_europe--london_holidays-gb      (the same, compact)

A window's start and end differ (``08:00-08:00`` is refused: the whole day is ``00:00-24:00``).

Holidays of a tag schedule: ``holidays=CC[-SUB]`` names the country (and subdivision) whose
public holidays close it, ``holidays=none`` none; the configuration's own closed ``dates`` apply
to every schedule. Without the word, a schedule in the configuration's zone, or in a zone of the
same country, uses the configuration's calendar; one naming a zone of another country uses that
country's public holidays (tzdata's ``zone.tab``: Europe/London → GB), when the configuration
has a country at all — a London lab is not closed for US Thanksgiving.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, cached_property, lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = [
    "DAY_ABBR",
    "NEAR_ALWAYS_HOURS",
    "BusinessHours",
    "Exemption",
    "HolidayCalendar",
    "Rule",
    "TagValueError",
    "Window",
    "format_days",
    "format_schedule",
    "local_instant",
    "parse_days",
    "parse_exemption",
    "parse_schedule",
    "parse_time",
    "parse_window",
    "parse_zone",
    "validate_country",
    "zone_country",
    "zone_warning",
]

DAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_LOOKUP: Mapping[str, int] = MappingProxyType(
    {name: i for i, name in enumerate(_DAY_NAMES)}
    | {abbr.lower(): i for i, abbr in enumerate(DAY_ABBR)}
)
_ALL_DAYS = frozenset(range(7))
_MIDNIGHT = time(0, 0)
# closed_since looks back this far; a schedule closed longer than that reports no start.
_LOOKBACK_DAYS = 14
_MAX_SHOWN = 80  # longest tag value quoted in full in an error message

_DAYS_HINT = "is not a day range (e.g. Mon-Fri)"
_TIME_HINT = "is not a time (HH:MM)"
_WINDOW_HINT = "is not a time window (HH:MM-HH:MM, e.g. 08:00-18:00)"
_PERMANENT = (
    "an exemption needs an expiry date (e.g. 'until 2026-12-24'); "
    "permanent exemptions are not honoured"
)


class TagValueError(ValueError):
    """A schedule or exemption value that cannot be read.

    ``str()`` is ``"<value>": <detail>``, so a caller can prefix where the value came from
    (``tag offhours="Mon-Fry 08:00-18:00": 'Mon-Fry' is not a day range (e.g. Mon-Fri)``).
    """

    def __init__(self, value: str, detail: str) -> None:
        shown = value if len(value) <= _MAX_SHOWN else value[: _MAX_SHOWN - 1] + "…"
        super().__init__(f'"{shown}": {detail}')
        self.value = value
        self.detail = detail


# ---------------------------------------------------------------- holidays


@cache
def _countries() -> frozenset[str]:
    # The registry's table of codes and aliases (GB, GBR, UK …): the same answer as
    # list_supported_countries() without importing every country module to list subdivisions.
    # `holidays` itself is imported on first use only: a calendar without a country (and the
    # Lambda handler's import) never needs it.
    from holidays.registry import EntityLoader

    return frozenset(code.upper() for code in EntityLoader.get_country_codes())


@cache
def _subdivisions(country: str) -> tuple[tuple[str, ...], Mapping[str, str]]:
    """The subdivision codes, and case-folded code or alias → the code ``holidays`` expects."""
    import holidays

    entity = holidays.country_holidays(country)
    codes = tuple(str(code) for code in entity.subdivisions)
    known = {code.casefold(): code for code in codes}
    aliases = getattr(entity, "subdivisions_aliases", {}) or {}
    known.update({str(alias).casefold(): str(code) for alias, code in aliases.items()})
    return codes, MappingProxyType(known)


def _canonical_region(country: str, subdivision: str | None) -> tuple[str, str | None]:
    code = country.strip().upper()
    if code not in _countries():
        raise ValueError(
            f"unknown country '{country}'; use an ISO 3166-1 alpha-2 code such as US, GB, DE"
        )
    if subdivision is None:
        return code, None
    codes, known = _subdivisions(code)
    found = known.get(subdivision.strip().casefold())
    if found is None:
        if not codes:
            raise ValueError(f"unknown subdivision '{subdivision}' for {code}; it has none")
        shown = ", ".join(codes[:12]) + (", …" if len(codes) > 12 else "")
        raise ValueError(f"unknown subdivision '{subdivision}' for {code}; known: {shown}")
    return code, found


def validate_country(country: str, subdivision: str | None = None) -> None:
    """Raise ValueError with a fix-it message when ``holidays`` does not know the region."""
    _canonical_region(country, subdivision)


@lru_cache(maxsize=256)
def _holidays_of_year(country: str, subdivision: str | None, year: int) -> Mapping[date, str]:
    # One year at a time, on first use: building every supported year up front is slow.
    import holidays

    table = holidays.country_holidays(country, subdiv=subdivision, years=year)
    return MappingProxyType({day: str(name) for day, name in table.items()})


@dataclass(frozen=True)
class HolidayCalendar:
    """Public holidays of one country (and subdivision) plus explicit closed dates."""

    country: str | None = None
    subdivision: str | None = None
    dates: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "dates", frozenset(self.dates))
        if self.country is None:
            if self.subdivision is not None:
                raise ValueError("a holiday subdivision needs a country; add the country code")
            return
        country, subdivision = _canonical_region(self.country, self.subdivision)
        object.__setattr__(self, "country", country)
        object.__setattr__(self, "subdivision", subdivision)

    def country_holiday(self, day: date) -> str | None:
        """The name of the country's (or subdivision's) public holiday on ``day``, if any."""
        if self.country is None:
            return None
        return _holidays_of_year(self.country, self.subdivision, day.year).get(day)

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name, ``"custom holiday"`` for an explicit date, or None."""
        name = self.country_holiday(day)
        if name is None and day in self.dates:
            return "custom holiday"
        return name

    def describe(self) -> str:
        """``US-NY + 2 dates``, ``GB``, ``1 date`` or ``""`` (no holidays)."""
        parts = []
        if self.country:
            parts.append(self.country + (f"-{self.subdivision}" if self.subdivision else ""))
        if self.dates:
            n = len(self.dates)
            parts.append(f"{n} date" + ("" if n == 1 else "s"))
        return " + ".join(parts)


# ---------------------------------------------------------------- days, times, windows, zones


def parse_days(text: str) -> frozenset[int]:
    """``Mon-Fri``, ``Mon,Wed,Fri``, ``Fri-Mon`` (wraps), ``daily``/``*``; 0=Mon … 6=Sun."""
    spec = text.strip().lower()
    if spec in ("daily", "*"):
        return _ALL_DAYS
    days: set[int] = set()
    for item in spec.split(","):
        first, sep, last = item.strip().partition("-")
        a = _DAY_LOOKUP.get(first.strip())
        b = _DAY_LOOKUP.get(last.strip()) if sep else a
        if a is None or b is None:
            raise ValueError(_DAYS_HINT)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
    return frozenset(days)


def format_days(days: frozenset[int], compact: bool = False) -> str:
    """The shortest text :func:`parse_days` reads back (``Mon-Wed,Fri``, ``Fri-Mon``)."""
    if days == _ALL_DAYS:
        return "daily"
    runs: list[list[int]] = []
    for d in sorted(days):
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][-1] == 6:
        runs.append(runs.pop() + runs.pop(0))  # Sat,Sun + Mon → Sat-Mon
    items = [
        DAY_ABBR[run[0]] if len(run) == 1 else f"{DAY_ABBR[run[0]]}-{DAY_ABBR[run[-1]]}"
        for run in runs
    ]
    return "_".join(items).lower() if compact else ",".join(items)


_TIME_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_COMPACT_TIME_RE = re.compile(r"([0-9]{2})([0-9]{2})")
_COMPACT_TIME_HINT = "is not a time (HHMM in the compact form, e.g. 0800)"


def _clock(text: str, pattern: re.Pattern[str], hint: str) -> time:
    m = pattern.fullmatch(text.strip())
    if m is None:
        raise ValueError(hint)
    hh, mm = int(m.group(1)), int(m.group(2))
    if (hh, mm) == (24, 0):
        return _MIDNIGHT
    if hh > 23 or mm > 59:
        raise ValueError(hint)
    return time(hh, mm)


def parse_time(text: str) -> time:
    """``HH:MM`` (or ``H:MM``). ``24:00`` is midnight at the end of the day and reads as 00:00:
    as the end of a window the two mean the same."""
    return _clock(text, _TIME_RE, _TIME_HINT)


def _hhmm(t: time, *, end: bool = False, compact: bool = False) -> str:
    hh = 24 if end and t == _MIDNIGHT else t.hour
    return f"{hh:02d}{t.minute:02d}" if compact else f"{hh:02d}:{t.minute:02d}"


@dataclass(frozen=True)
class Window:
    """``start``-``end`` local wall-clock time; ``end <= start`` means it ends the next day
    (``22:00-06:00``; ``00:00-24:00`` is the whole day)."""

    start: time
    end: time
    ends_next_day: bool = field(init=False)

    def __post_init__(self) -> None:
        for t in (self.start, self.end):
            if t.tzinfo is not None or t.second or t.microsecond:
                raise ValueError(f"window times are local HH:MM without seconds, got {t!r}")
        object.__setattr__(self, "ends_next_day", self.end <= self.start)

    def format(self, compact: bool = False) -> str:
        start = _hhmm(self.start, compact=compact)
        return f"{start}-{_hhmm(self.end, end=self.ends_next_day, compact=compact)}"


def parse_window(text: str) -> Window:
    """``HH:MM-HH:MM`` (or ``HHMM-HHMM``, the compact form); an end at or before the start
    crosses midnight; ``24:00`` ends the day."""
    first, sep, last = (part.strip() for part in text.strip().partition("-"))
    if not sep:
        raise ValueError(_WINDOW_HINT)
    # Both ends in the same style: a half-compact window is more likely a typo than a choice.
    compact = ":" not in text and all(re.fullmatch(r"[0-9]+", p) for p in (first, last))
    pattern, hint = (_COMPACT_TIME_RE, _COMPACT_TIME_HINT) if compact else (_TIME_RE, _TIME_HINT)
    ends = []
    for part in (first, last):
        try:
            ends.append(_clock(part, pattern, hint))
        except ValueError:
            raise ValueError(f"{_WINDOW_HINT}: '{part}' {hint}") from None
    if first in ("24:00", "2400"):
        raise ValueError(f"{_WINDOW_HINT}: a window cannot start at 24:00")
    if ends[0] == ends[1] and last not in ("24:00", "2400"):
        # Read as 24 hours it would hide a typo; the whole day has its own spelling.
        whole = "0000-2400" if compact else "00:00-24:00"
        raise ValueError(
            f"is an empty window (it starts and ends at {first}); for the whole day write {whole}"
        )
    return Window(ends[0], ends[1])


@cache
def _zone_names() -> Mapping[str, str]:
    return MappingProxyType({name.casefold(): name for name in available_timezones()})


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse_zone(text: str) -> ZoneInfo:
    """An IANA zone, case-insensitive, with ``.`` or ``--`` accepted for ``/``
    (``europe.london``, ``europe--london``: label rules forbid ``/``, GCP's also ``.``)."""
    wanted = text.strip().casefold().replace(".", "/").replace("--", "/")
    name = _zone_names().get(wanted)
    if name is not None:
        try:
            return _zone(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass  # listed by tzdata but unreadable: reported as unknown below
    hint = "is not a known time zone (IANA name such as Europe/London or America/New_York)"
    region = _ABBREVIATIONS.get(wanted.upper())
    offset = _OFFSET_RE.fullmatch(wanted)
    close = difflib.get_close_matches(wanted, _zone_names().keys(), n=1, cutoff=0.8)
    if region:
        hint += f"; did you mean {region}? (a region's name follows its daylight saving time)"
    elif offset:
        hint = (
            "is a UTC offset, not a time zone: write the region's IANA name "
            "(e.g. America/New_York), which follows its daylight saving time"
        )
        sign, hh, mm = offset.groups()
        if not mm or int(mm) == 0:
            # Etc/ names invert the sign (POSIX): UTC-5 is Etc/GMT+5.
            etc = f"Etc/GMT{'+' if sign == '-' else '-'}{int(hh)}" if int(hh) else "UTC"
            if etc.casefold() in _zone_names() or etc == "UTC":
                hint += f"; for a fixed offset, {etc}"
    elif close:
        hint += f"; did you mean {_zone_names()[close[0]]}?"
    raise ValueError(hint)


# Abbreviations people write for a zone, which tzdata does not name: the region each usually
# means. A region's IANA name follows its clocks, daylight saving time included.
_ABBREVIATIONS: Mapping[str, str] = MappingProxyType(
    {
        "PST": "America/Los_Angeles",
        "PDT": "America/Los_Angeles",
        "PT": "America/Los_Angeles",
        "CST": "America/Chicago",
        "CDT": "America/Chicago",
        "CT": "America/Chicago",
        "EDT": "America/New_York",
        "ET": "America/New_York",
        "MDT": "America/Denver",
        "MT": "America/Denver",
        "AKST": "America/Anchorage",
        "AKDT": "America/Anchorage",
        "BST": "Europe/London",
        "IST": "Asia/Kolkata",
        "CEST": "Europe/Paris",
        "EEST": "Europe/Athens",
        "WEST": "Europe/Lisbon",
        "JST": "Asia/Tokyo",
        "KST": "Asia/Seoul",
        "SGT": "Asia/Singapore",
        "HKT": "Asia/Hong_Kong",
        "AEST": "Australia/Sydney",
        "AEDT": "Australia/Sydney",
        "ACST": "Australia/Adelaide",
        "AWST": "Australia/Perth",
        "NZST": "Pacific/Auckland",
        "NZDT": "Pacific/Auckland",
    }
)
_OFFSET_RE = re.compile(r"(?:utc|gmt)?\s*([+-])\s*([0-9]{1,2})(?::?([0-9]{2}))?")

# Names tzdata keeps for compatibility: a fixed offset named like a region's abbreviation (EST),
# or POSIX-style rules (EST5EDT): the region each stands for, whose name follows its clocks.
_LEGACY_ZONES: Mapping[str, str] = MappingProxyType(
    {
        "EST": "America/New_York",
        "MST": "America/Denver (or America/Phoenix, on standard time all year)",
        "HST": "Pacific/Honolulu",
        "EST5EDT": "America/New_York",
        "CST6CDT": "America/Chicago",
        "MST7MDT": "America/Denver",
        "PST8PDT": "America/Los_Angeles",
        "CET": "Europe/Paris",
        "MET": "Europe/Paris",
        "EET": "Europe/Athens",
        "WET": "Europe/Lisbon",
    }
)
# A region per whole-hour offset, for Etc/GMT±N (hours east of UTC).
_REGION_AT_OFFSET: Mapping[int, str] = MappingProxyType(
    {
        -10: "Pacific/Honolulu",
        -9: "America/Anchorage",
        -8: "America/Los_Angeles",
        -7: "America/Denver",
        -6: "America/Chicago",
        -5: "America/New_York",
        -3: "America/Sao_Paulo",
        1: "Europe/Paris",
        2: "Europe/Athens",
        3: "Europe/Moscow",
        8: "Asia/Singapore",
        9: "Asia/Tokyo",
        10: "Australia/Sydney",
    }
)


def _offsets(zone: ZoneInfo) -> set[timedelta]:
    """The UTC offsets ``zone`` uses in 2026 (one per month is enough to see a change)."""
    return {
        datetime(2026, month, 15, 12, tzinfo=zone).utcoffset() or timedelta(0)
        for month in range(1, 13)
    }


def _utc_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_warning(zone: ZoneInfo) -> str | None:
    """Why ``zone``'s name is a poor choice, and the region to write instead; None when fine.

    Valid, so never refused: a fixed offset named like a region (``EST``: no daylight saving
    time while New York has it), ``Etc/GMT+5``, or a POSIX-style rule set (``EST5EDT``). UTC
    under any of its names is fine; so is every region name.
    """
    key = zone.key
    region = _LEGACY_ZONES.get(key)
    etc = re.fullmatch(r"Etc/GMT([+-][0-9]{1,2})", key)
    if region is None and etc is None:
        return None
    offsets = _offsets(zone)
    if offsets == {timedelta(0)}:
        return None  # Etc/GMT+0 and the like: UTC
    if len(offsets) > 1:
        return (
            f'"{key}" is a legacy POSIX-style zone; write the region\'s IANA name instead, '
            f"e.g. {region}"
        )
    (offset,) = offsets
    if etc is not None:
        region = _REGION_AT_OFFSET.get(-int(etc.group(1)), "Europe/London or America/New_York")
        fixed = f"{_utc_text(offset)} all year (Etc/ names invert the sign)"
    else:
        fixed = f"{_utc_text(offset)} all year"
    return (
        f'"{key}" is a fixed offset, {fixed}, with no daylight saving time; to follow a '
        f"region's clocks write its IANA name, e.g. {region}"
    )


@cache
def _zone_countries() -> Mapping[str, str]:
    """tzdata's zone.tab: zone name → the ISO 3166 code of the country it is in."""
    from importlib.resources import files

    try:
        text = files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError):
        return MappingProxyType({})  # no table: no zone's country is known
    table = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and not line.startswith("#"):
            table[fields[2]] = fields[0]
    return MappingProxyType(table)


def zone_country(zone: ZoneInfo) -> str | None:
    """The country ``zone`` is in (``Europe/London`` → ``GB``), or None (``UTC``, a link)."""
    return _zone_countries().get(zone.key)


# ---------------------------------------------------------------- local time → instants


def _as_utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"'now' must be timezone-aware, got naive {now.isoformat()}")
    return now.astimezone(UTC)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def local_instant(zone: ZoneInfo, day: date, at: time) -> datetime:
    """The first instant (UTC) at which the clock in ``zone`` shows ``day`` ``at`` or later.

    An ambiguous time (clocks go back) is its first occurrence; a time the clock skips (clocks
    go forward) is the moment of the jump, so a window never starts or ends late.
    """
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone).astimezone(UTC)
    if _wall(first, zone) == naive:
        return first
    # In the gap: fold=0 reads it with the offset before the jump (an instant after it),
    # fold=1 with the offset after (an instant before it). Bisect for the jump itself.
    lo = int(naive.replace(tzinfo=zone, fold=1).timestamp())
    hi = int(first.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), zone) >= naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


# ---------------------------------------------------------------- business hours

#: A schedule open at least this many hours on every day of the week counts as ``always``.
NEAR_ALWAYS_HOURS = 23


@dataclass(frozen=True)
class Rule:
    """Working days (0=Mon … 6=Sun) and their windows."""

    days: frozenset[int]
    windows: tuple[Window, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "days", frozenset(self.days))
        object.__setattr__(self, "windows", tuple(self.windows))
        if not self.days or not self.days <= _ALL_DAYS:
            raise ValueError(f"a rule needs days between 0 (Mon) and 6 (Sun), got {self.days}")
        if not self.windows:
            raise ValueError("a rule needs at least one window")

    def format(self, compact: bool = False) -> str:
        sep = "_" if compact else ","
        windows = sep.join(w.format(compact) for w in self.windows)
        return f"{format_days(self.days, compact)}{'_' if compact else ' '}{windows}"


@dataclass(frozen=True)
class BusinessHours:
    """When resources may run, in one zone. No rules and not ``always_open`` means ``never``."""

    zone: ZoneInfo
    rules: tuple[Rule, ...]
    holidays: HolidayCalendar = field(default_factory=HolidayCalendar)
    always_open: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        if self.always_open and self.rules:
            raise ValueError("an always-open schedule has no rules")

    @cached_property
    def _week_minutes(self) -> bytes:
        """Which minutes of a plain week (Mon 00:00 = 0, holidays ignored) a window covers;
        a window that crosses midnight covers minutes of the next day, Sunday's wrap to Monday."""
        week = 7 * 1440
        if self.always_open:
            return b"\x01" * week
        covered = bytearray(week)
        for rule in self.rules:
            for window in rule.windows:
                start = window.start.hour * 60 + window.start.minute
                end = window.end.hour * 60 + window.end.minute + 1440 * window.ends_next_day
                for day in rule.days:
                    first, last = day * 1440 + start, day * 1440 + end
                    covered[first : min(last, week)] = b"\x01" * (min(last, week) - first)
                    if last > week:  # Sunday night into Monday morning
                        covered[: last - week] = b"\x01" * (last - week)
        return bytes(covered)

    @cached_property
    def open_all_week(self) -> bool:
        """Open at every minute of the week, holidays aside: ``always`` in all but name
        (``Mon-Sun 00:00-24:00``, or windows that chain around the clock)."""
        return all(self._week_minutes)

    @cached_property
    def near_always(self) -> bool:
        """Open at least ``NEAR_ALWAYS_HOURS`` on each of the 7 days of a plain week: what
        ``allow_always = false`` refuses, so that ``Mon-Sun 00:00-23:59`` cannot stand in for
        ``always``. Decided on the weekly pattern (holidays ignored: a holiday closing the
        schedule for a day does not make it less always-like the rest of the year); a window
        crossing midnight counts toward the day whose minutes it covers."""
        minutes = self._week_minutes
        need = NEAR_ALWAYS_HOURS * 60
        return all(sum(minutes[d * 1440 : (d + 1) * 1440]) >= need for d in range(7))

    # -- evaluation

    def _windows_on(self, day: date) -> Iterator[Window]:
        weekday = day.weekday()
        rules = [r for r in self.rules if weekday in r.days]
        if rules and self.holidays.holiday_name(day) is None:
            for rule in rules:
                yield from rule.windows

    def _interval(self, day: date, window: Window) -> tuple[datetime, datetime]:
        end_day = day + timedelta(days=1) if window.ends_next_day else day
        return (
            local_instant(self.zone, day, window.start),
            local_instant(self.zone, end_day, window.end),
        )

    def _local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def is_open(self, now: datetime) -> bool:
        """True when ``now`` falls in a window (of a working, non-holiday day)."""
        at = _as_utc(now)
        if self.always_open:
            return True
        today = self._local_day(at)
        # A window lasts at most 24 h, so only windows of today and yesterday can cover now.
        for day in (today - timedelta(days=1), today):
            for window in self._windows_on(day):
                start, end = self._interval(day, window)
                if start <= at < end:
                    return True
        return False

    def open_intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The open intervals ``[from, to)`` (UTC) that meet ``[start, end)``, merged and in order:
        ``is_open(t)`` is true exactly when ``t`` is inside one. Intervals are not clipped."""
        lo, hi = _as_utc(start), _as_utc(end)
        if self.always_open:
            return [(lo, hi)] if lo < hi else []
        spans: list[tuple[datetime, datetime]] = []
        day = self._local_day(lo) - timedelta(days=1)  # a window lasts at most 24 h
        while day <= self._local_day(hi):
            spans.extend(self._interval(day, w) for w in self._windows_on(day))
            day += timedelta(days=1)
        merged: list[tuple[datetime, datetime]] = []
        for first, last in sorted(spans):
            if last <= lo or first >= hi or first >= last:
                continue  # outside, or a window the clocks skip entirely
            if merged and first <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], last))
            else:
                merged.append((first, last))
        return merged

    def closed_since(self, now: datetime) -> datetime | None:
        """When the current off-hours began (local time), or None when open or not open at all
        in the last 14 days."""
        at = _as_utc(now)
        if self.is_open(at):
            return None
        today = self._local_day(at)
        latest: datetime | None = None
        for back in range(_LOOKBACK_DAYS + 1):
            day = today - timedelta(days=back)
            for window in self._windows_on(day):
                _, end = self._interval(day, window)
                if end <= at and (latest is None or end > latest):
                    latest = end
        return None if latest is None else latest.astimezone(self.zone)

    def why(self, now: datetime) -> str:
        """A short reason: inside/outside business hours, public holiday or non-working day."""
        at = _as_utc(now)
        if self.always_open:
            return "inside business hours (always: 24x7)"
        if not self.rules:
            return "outside business hours (never: off-hours at all times)"
        if self.is_open(at):
            return f"inside business hours ({format_schedule(self)})"
        today = self._local_day(at)
        working = any(today.weekday() in r.days for r in self.rules)
        if working:
            name = self.holidays.country_holiday(today)
            if name is not None:
                return f"public holiday: {name}"
            if today in self.holidays.dates:
                return f"custom holiday: {today.isoformat()}"
        else:
            return f"non-working day ({DAY_ABBR[today.weekday()]})"
        since = self.closed_since(at)
        if since is None:
            return f"outside business hours (not open in the last {_LOOKBACK_DAYS} days)"
        shown = since.strftime("%H:%M")
        day = DAY_ABBR[since.weekday()]
        if at - since > timedelta(days=6):
            day += f" {since.date().isoformat()}"
        return f"outside business hours (closed since {day} {shown})"

    def describe(self) -> str:
        """``Mon-Fri 08:00-18:00 Europe/London, holidays: US-NY + 2 dates``."""
        if self.always_open:
            return "always (24x7)"
        if not self.rules:
            return "never (off-hours at all times)"
        text = format_schedule(self)
        cal = self.holidays.describe()
        return f"{text}, holidays: {cal}" if cal else text


# ---------------------------------------------------------------- tag schedule grammar

_TOKEN_RE = re.compile(r";|[^\s;_]+")
_SPACED_PUNCT_RE = re.compile(r"\s*([,-])\s*")
_SPECIAL = ("always", "never")


def _try_days(tok: str) -> frozenset[int] | None:
    try:
        return parse_days(tok)
    except ValueError:
        return None


def _windows_of(text: str, tok: str) -> list[Window]:
    parts = tok.split(",")
    if any(not p for p in parts):
        raise TagValueError(
            text, f"'{tok}' is not a list of time windows (e.g. 08:00-12:00,13:00-18:00)"
        )
    windows = []
    for part in parts:
        try:
            windows.append(parse_window(part))
        except ValueError as exc:
            raise TagValueError(text, f"'{part}' {exc}") from None
    return windows


def _trailing_zone(text: str, rest: str) -> ZoneInfo:
    rest = rest.strip().rstrip(";").rstrip()
    word = re.match(r"[^\s;]+", rest)
    first = word.group() if word else rest
    if first != rest:
        example = "(e.g. Mon-Fri 08:00-18:00; Sat 09:00-13:00 Europe/London)"
        try:
            parse_zone(first)
        except ValueError:
            detail = f"'{first}' {_DAYS_HINT}; a time zone goes once, at the end {example}"
        else:
            detail = f"the time zone '{first}' goes once, at the end of the schedule {example}"
        raise TagValueError(text, detail)
    try:
        return parse_zone(rest)
    except ValueError as exc:
        raise TagValueError(text, f"'{rest}' {exc}") from None


_HOLIDAYS_RE = re.compile(r"(?<![a-z0-9])holidays\s*[=:-]?\s*([a-z0-9-]*)", re.IGNORECASE)
_HOLIDAYS_EXAMPLE = "(e.g. Mon-Fri 08:00-18:00 Europe/London holidays=GB)"


def _holidays_word(text: str, source: str) -> tuple[str, str | None]:
    """``source`` without its ``holidays=…`` word, and that word's value (None without one)."""
    found = list(_HOLIDAYS_RE.finditer(source))
    if not found:
        return source, None
    if len(found) > 1:
        raise TagValueError(text, f"holidays is given {len(found)} times; give it once")
    m = found[0]
    if source[m.end() :].strip(" \t;_"):
        raise TagValueError(text, f"'{m.group().strip()}' goes at the end {_HOLIDAYS_EXAMPLE}")
    if not m.group(1):
        raise TagValueError(
            text, f"holidays needs a country code or none {_HOLIDAYS_EXAMPLE}; GB-ENG with a region"
        )
    return source[: m.start()].rstrip(" \t;_"), m.group(1)


def _named_calendar(text: str, value: str, holidays: HolidayCalendar) -> HolidayCalendar:
    """``holidays=GB-ENG`` (or ``none``): that region's public holidays, and the closed dates
    of ``holidays`` (the configuration's own, which every schedule keeps)."""
    if value.casefold() == "none":
        return HolidayCalendar(dates=holidays.dates)
    country, _, subdivision = value.partition("-")
    try:
        return HolidayCalendar(country, subdivision or None, holidays.dates)
    except ValueError as exc:
        raise TagValueError(text, f"holidays={value}: {exc}") from None


def _zone_calendar(
    zone: ZoneInfo, default_zone: ZoneInfo, holidays: HolidayCalendar
) -> HolidayCalendar:
    """The calendar of a schedule that names ``zone`` and no holidays: the configuration's,
    unless ``zone`` is in another country than its holidays (then that country's, with the
    closed dates kept). A configuration without a country gets none invented."""
    if zone.key == default_zone.key or holidays.country is None:
        return holidays
    country = zone_country(zone)
    if country is None or country == holidays.country:
        return holidays
    try:
        return HolidayCalendar(country, dates=holidays.dates)
    except ValueError:
        return HolidayCalendar(dates=holidays.dates)  # a country `holidays` does not know


def parse_schedule(
    text: str,
    default_zone: ZoneInfo,
    holidays: HolidayCalendar,
    *,
    local_holidays: bool = False,
) -> BusinessHours:
    """Read a schedule in the readable or the compact form (see the module docstring).

    ``holidays`` is the calendar of a schedule that names none; with ``local_holidays`` (a
    tag), one naming a zone of another country gets that country's instead (module docstring).
    Raises :class:`TagValueError` (a ValueError) naming the bad token and what was expected.
    """
    source = _SPACED_PUNCT_RE.sub(r"\1", text.strip())
    source, named = _holidays_word(text, source)
    hours = _parse_rules(text, source, default_zone, holidays)
    if named is not None:
        calendar = _named_calendar(text, named, holidays)
    elif local_holidays:
        calendar = _zone_calendar(hours.zone, default_zone, holidays)
    else:
        return hours
    return replace(hours, holidays=calendar)


def _parse_rules(
    text: str, source: str, default_zone: ZoneInfo, holidays: HolidayCalendar
) -> BusinessHours:
    tokens = list(_TOKEN_RE.finditer(source))
    words = [m.group() for m in tokens if m.group() != ";"]
    if not words:
        raise TagValueError(
            text,
            "empty schedule; expected e.g. 'Mon-Fri 08:00-18:00 Europe/London', "
            "'always' or 'never'",
        )
    head = words[0].lower()
    if head in _SPECIAL:
        first = next(m for m in tokens if m.group() != ";")
        rest = source[first.end() :].strip().lstrip(";_").strip()
        zone = _trailing_zone(text, rest) if rest.strip(";_ ") else default_zone
        return BusinessHours(zone, (), holidays, always_open=head == "always")

    rules: list[Rule] = []
    days: set[int] = set()
    windows: list[Window] = []
    zone = default_zone
    pending = ""  # the day token still waiting for its windows

    def close_clause() -> None:
        rules.append(Rule(frozenset(days), tuple(windows)))
        days.clear()
        windows.clear()

    for m in tokens:
        tok = m.group()
        if tok == ";":
            if days and not windows:
                raise TagValueError(
                    text, f"'{pending}' needs a time window after it (e.g. {pending} 08:00-18:00)"
                )
            if windows:
                close_clause()
            continue
        if tok.lower() in _SPECIAL:
            raise TagValueError(
                text, f"'{tok}' stands alone: the whole value is 'always' or 'never'"
            )
        if tok[0].isascii() and tok[0].isdigit():
            if not days:
                raise TagValueError(
                    text, f"'{tok}' needs a day range before it (e.g. Mon-Fri {tok})"
                )
            windows.extend(_windows_of(text, tok))
            continue
        found = _try_days(tok)
        if found is not None:
            if windows:
                close_clause()
            days.update(found)
            pending = tok
            continue
        if not windows:
            raise TagValueError(text, f"'{tok}' {_DAYS_HINT}")
        zone = _trailing_zone(text, source[m.start() :])
        break
    if days and not windows:
        raise TagValueError(
            text, f"'{pending}' needs a time window after it (e.g. {pending} 08:00-18:00)"
        )
    if windows:
        close_clause()
    return BusinessHours(zone, tuple(rules), holidays)


def format_schedule(hours: BusinessHours, compact: bool = False) -> str:
    """The text :func:`parse_schedule` reads back as ``hours`` (its zone always written).

    ``always``/``never`` carry no zone: they mean the same in every zone. The holiday calendar
    is not written: it is read back with the calendar given to :func:`parse_schedule`.
    """
    if hours.always_open:
        return "always"
    if not hours.rules:
        return "never"
    zone = str(hours.zone)
    if compact:
        return "_".join(
            [*(r.format(compact=True) for r in hours.rules), zone.lower().replace("/", "--")]
        )
    return "; ".join(r.format() for r in hours.rules) + f" {zone}"


# ---------------------------------------------------------------- exemptions


@dataclass(frozen=True)
class Exemption:
    """Not flagged until ``until`` (inclusive), for ``reason``."""

    until: datetime
    reason: str = ""

    def active(self, now: datetime) -> bool:
        return _as_utc(now) <= self.until

    def describe(self) -> str:
        """``until 2026-12-24 23:59 (customer demo)``."""
        text = f"until {self.until:%Y-%m-%d %H:%M}"
        return f"{text} ({self.reason})" if self.reason else text


_EXEMPT_RE = re.compile(
    r"(?:until\s*[:=]?\s*)?"
    r"(?P<date>[0-9]{4}-[0-9]{1,2}-[0-9]{1,2})"
    r"(?:[Tt](?P<th>[0-9]{1,2}):?(?P<tm>[0-9]{2})|\s+(?P<sh>[0-9]{1,2}):(?P<sm>[0-9]{2}))?"
    r"(?:\s+(?P<reason>.*))?",
    re.IGNORECASE | re.DOTALL,
)
_UNTIL_RE = re.compile(r"until\s*[:=]?\s*", re.IGNORECASE)


def parse_exemption(text: str, zone: ZoneInfo) -> Exemption:
    """``until 2026-12-24 [18:00] [reason]``, ``2026-12-24T18:00``, ``until_2026-12-24_demo``.

    A date alone lasts to the end of that day in ``zone``. A value with no date is refused:
    exemptions must expire.
    """
    value = text.strip()
    if value and not re.search(r"\s", value):
        value = value.replace("_", " ")  # compact form
    m = _EXEMPT_RE.fullmatch(value)
    if m is None:
        after = _UNTIL_RE.sub("", value, count=1) if _UNTIL_RE.match(value) else value
        if after[:1].isascii() and after[:1].isdigit():
            word = after.split()[0]
            raise TagValueError(
                text,
                f"'{word}' is not an expiry date (YYYY-MM-DD, optionally a time: "
                "'until 2026-12-24 18:00')",
            )
        raise TagValueError(text, _PERMANENT)
    try:
        year, month, mday = (int(p) for p in m.group("date").split("-"))
        day = date(year, month, mday)
    except ValueError:
        raise TagValueError(text, f"'{m.group('date')}' is not a date (YYYY-MM-DD)") from None
    hh, mm = m.group("th", "tm") if m.group("th") is not None else m.group("sh", "sm")
    try:
        if hh is None:
            # End of that day: one microsecond before the next local midnight.
            until = local_instant(zone, day + timedelta(days=1), _MIDNIGHT)
            until -= timedelta(microseconds=1)
        else:
            if int(hh) > 23 or int(mm) > 59:
                raise TagValueError(text, f"'{hh}:{mm}' {_TIME_HINT}")
            until = local_instant(zone, day, time(int(hh), int(mm)))
        until = until.astimezone(zone)
    except OverflowError:
        raise TagValueError(text, f"'{m.group('date')}' is out of range") from None
    return Exemption(until, (m.group("reason") or "").strip())
