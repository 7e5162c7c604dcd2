"""Vietnamese retail electricity tariffs (EVN) and the bill they produce, in whole VND.

Prices and VAT rates are data (data/tariffs.yml, one dated entry per decision); this
module validates them and applies EVN's billing rules with exact integer arithmetic:

* a period runs from its first to its last day inclusive, T = (end - start).days + 1;
* a price or VAT change effective on day D with start < D <= end splits the period by
  days: segment i gets round_half_up(S * N_i / T) kWh, the last one the remainder;
* household tier sizes are size * N_i / T * households, rounded half up (which is
  size * households when nothing changes inside the period);
* VAT is rounded once per rate, on the sum of that rate's amounts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import yaml

from bot.paths import read_yaml, resource_path

_T = TypeVar("_T")
_Schedule = tuple[tuple[date, _T], ...]  # (effective from, value), dates increasing


class TariffGroup(StrEnum):
    """Customer group (đối tượng mua điện) that decides which price table applies."""

    HOUSEHOLD = "household"  # sinh hoạt: six progressive tiers
    BUSINESS = "business"  # kinh doanh: one normal-hours price per voltage level
    PRODUCTION = "production"  # sản xuất: one normal-hours price per voltage level


class VoltageLevel(StrEnum):
    """Supply voltage level; business and production prices depend on it."""

    BELOW_6KV = "below_6kv"
    KV_6_22 = "6_22kv"


_Key = tuple[TariffGroup, VoltageLevel | None]  # household prices have no voltage level


class TariffError(ValueError):
    """Bad input to a bill computation, or a malformed tariff file."""


@dataclass(frozen=True)
class BillLine:
    """One priced slice of a bill: some kWh at one unit price (before VAT)."""

    kwh: int
    unit_price: int  # VND/kWh before VAT
    amount: int  # kwh * unit_price
    tariff_from: date  # effective date of the price table used
    vat_rate: int  # percent, e.g. 8
    tier: int | None  # 1..6 for household, None for single-price groups

    def as_json(self) -> dict[str, Any]:
        """The line as JSON values: an invoice stores its lines so (invoice_pdf.py reads
        them back) and the estimate CLI prints them so."""
        return {
            "tier": self.tier,
            "kwh": self.kwh,
            "unit_price": self.unit_price,
            "amount": self.amount,
            "tariff_from": self.tariff_from.isoformat(),
            "vat_rate": self.vat_rate,
        }


@dataclass(frozen=True)
class VatLine:
    """VAT charged at one rate on the sum of the amounts billed at that rate."""

    rate: int
    base: int
    vat: int


@dataclass(frozen=True)
class BillBreakdown:
    """A computed bill: the priced lines, VAT per rate and the totals, all in VND."""

    kwh: int
    period_start: date
    period_end: date
    households: int
    group: TariffGroup
    voltage: VoltageLevel | None
    lines: tuple[BillLine, ...]
    vat_lines: tuple[VatLine, ...]
    before_vat: int
    vat: int
    total: int


def _round_half_up(a: int, b: int) -> int:
    """round(a / b) with halves going up, exactly, for a >= 0 and b > 0 (EVN rounding)."""
    return (2 * a + b) // (2 * b)


def _as_int(value: object, where: str, minimum: int = 0) -> int:
    # bool is an int subclass; `true` in the YAML is a typo, not a price.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise TariffError(f"{where} must be a whole number of at least {minimum}, got {value!r}")
    return value


def _as_date(value: object, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise TariffError(f"{where} must be a date like 2025-05-10, got {value!r}")


def _dated(raw: object, where: str, parse: Callable[[Mapping[str, Any], str], _T]) -> _Schedule[_T]:
    """Parse a non-empty list of {from: date, ...} entries whose dates strictly increase."""
    if not isinstance(raw, list) or not raw:
        raise TariffError(f"{where} must be a non-empty list of dated entries")
    entries: list[tuple[date, _T]] = []
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            raise TariffError(f"{at} must be a mapping with a 'from' date")
        start = _as_date(item.get("from"), f"{at}.from")
        if entries and start <= entries[-1][0]:
            raise TariffError(f"{at}.from ({start}) must be later than the entry before it")
        entries.append((start, parse(item, at)))
    return tuple(entries)


def _entry_at(schedule: _Schedule[_T], day: date, what: str) -> tuple[date, _T]:
    """The entry in effect on `day`: the last one whose date is on or before it."""
    found = None
    for entry in schedule:
        if entry[0] > day:
            break
        found = entry
    if found is None:
        raise TariffError(f"no {what} is known for {day}; the earliest is from {schedule[0][0]}")
    return found


def _tier_lines(
    kwh: int, sizes: list[int], prices: tuple[int, ...], start: date, rate: int
) -> list[BillLine]:
    """Fill the tiers in order; the last tier takes whatever is left (it is unbounded)."""
    lines = []
    left = kwh
    for tier, price in enumerate(prices, start=1):
        take = left if tier == len(prices) else min(left, sizes[tier - 1])
        if take:
            lines.append(BillLine(take, price, take * price, start, rate, tier))
        left -= take
    return lines


class TariffBook:
    """Every known price table and VAT rate, with the bill computation over them.

    Build one with `load()` (the packaged data/tariffs.yml) or `from_mapping()`.
    """

    def __init__(
        self,
        tier_sizes: tuple[int, ...],
        schedules: dict[_Key, _Schedule[tuple[int, ...]]],
        vat: _Schedule[int],
    ) -> None:
        self._tier_sizes = tier_sizes
        self._schedules = schedules
        self._vat = vat

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TariffBook:
        """Validate parsed tariff data (the YAML layout) and build a book from it.

        Raises:
            TariffError: on any missing, unknown or malformed key, a price list of the
                wrong length, or dates that do not strictly increase.
        """
        if not isinstance(data, Mapping):
            raise TariffError("tariff data must be a mapping")
        expected = {"tier_sizes", "vat", *TariffGroup}
        if set(data) != expected:
            raise TariffError(f"tariff data must have exactly the keys {sorted(expected)}")
        sizes_raw = data["tier_sizes"]
        if not isinstance(sizes_raw, list) or not sizes_raw:
            raise TariffError("tier_sizes must be a non-empty list of kWh")
        sizes = tuple(_as_int(s, f"tier_sizes[{i}]", 1) for i, s in enumerate(sizes_raw))

        def tiers(item: Mapping[str, Any], at: str) -> tuple[int, ...]:
            prices = item.get("prices")
            # The last tier is unbounded, so there is one more price than there are sizes.
            if not isinstance(prices, list) or len(prices) != len(sizes) + 1:
                raise TariffError(f"{at}.prices must list exactly {len(sizes) + 1} tier prices")
            return tuple(_as_int(p, f"{at}.prices[{i}]", 1) for i, p in enumerate(prices))

        def by_voltage(item: Mapping[str, Any], at: str) -> dict[VoltageLevel, int]:
            prices = item.get("prices")
            if not isinstance(prices, Mapping) or set(prices) != set(VoltageLevel):
                raise TariffError(f"{at}.prices must give a price for each of {list(VoltageLevel)}")
            return {VoltageLevel(v): _as_int(p, f"{at}.prices.{v}", 1) for v, p in prices.items()}

        schedules: dict[_Key, _Schedule[tuple[int, ...]]] = {
            (TariffGroup.HOUSEHOLD, None): _dated(data["household"], "household", tiers)
        }
        for group in (TariffGroup.BUSINESS, TariffGroup.PRODUCTION):
            entries = _dated(data[group], str(group), by_voltage)
            for level in VoltageLevel:
                schedules[group, level] = tuple((d, (p[level],)) for d, p in entries)
        vat = _dated(data["vat"], "vat", lambda item, at: _as_int(item.get("rate"), f"{at}.rate"))
        return cls(sizes, schedules, vat)

    @classmethod
    def load(cls, path: Path | None = None) -> TariffBook:
        """Read and validate a tariff YAML file (default: the packaged data/tariffs.yml)."""
        path = path if path is not None else resource_path("data/tariffs.yml")
        try:
            data = read_yaml(path)
        except yaml.YAMLError as exc:
            raise TariffError(f"{path} is not valid YAML: {exc}") from exc
        return cls.from_mapping(data)

    def vat_rate_on(self, day: date) -> int:
        """The VAT rate (percent) that applies to electricity used on `day`."""
        return _entry_at(self._vat, day, "VAT rate")[1]

    def prices_on(
        self,
        day: date,
        group: TariffGroup | str = TariffGroup.HOUSEHOLD,
        voltage: VoltageLevel | str | None = None,
    ) -> tuple[date, tuple[int, ...]]:
        """The effective date and the price(s) in force on `day`: six tier prices for
        households, a single price for business and production."""
        return _entry_at(self._schedules[self._resolve(group, voltage)], day, f"{group} tariff")

    def frozen_on(self, day: date) -> TariffBook:
        """This book with the prices and the VAT rate in force on `day` applying at all
        times: what a bill would have cost had nothing changed since (the bill
        explanation's reference, issue 18). A group with no price yet on `day` has none."""
        schedules: dict[_Key, _Schedule[tuple[int, ...]]] = {}
        for key, schedule in self._schedules.items():
            if schedule[0][0] <= day:
                schedules[key] = ((date.min, _entry_at(schedule, day, "tariff")[1]),)
        vat = ((date.min, self.vat_rate_on(day)),)
        return TariffBook(self._tier_sizes, schedules, vat)

    @property
    def tier_sizes(self) -> tuple[int, ...]:
        """kWh per household per month of each bounded household tier (the last is open)."""
        return self._tier_sizes

    def compute(
        self,
        kwh: int,
        start: date,
        end: date,
        *,
        group: TariffGroup | str = TariffGroup.HOUSEHOLD,
        voltage: VoltageLevel | str | None = None,
        households: int = 1,
    ) -> BillBreakdown:
        """Bill `kwh` used from `start` to `end` (both days counted) the way EVN does.

        Raises:
            TariffError: on negative kWh, end before start, households < 1, a period
                that starts before the earliest known tariff or VAT rate, or an
                unknown group or voltage level.
        """
        grp, level = self._resolve(group, voltage)
        schedule = self._schedules.get((grp, level))
        if schedule is None:  # a frozen book, frozen before the group had a price
            raise TariffError(f"no {grp} tariff is known in this book")
        if isinstance(kwh, bool) or not isinstance(kwh, int) or kwh < 0:
            raise TariffError(f"consumption must be a whole number of kWh, 0 or more: {kwh!r}")
        if end < start:
            raise TariffError(f"the period ends ({end}) before it starts ({start})")
        if isinstance(households, bool) or not isinstance(households, int) or households < 1:
            raise TariffError(f"the number of households must be at least 1: {households!r}")

        # Any new price or VAT rate effective inside the period starts a new segment.
        changes = {d for d, _ in (*schedule, *self._vat) if start < d <= end}
        bounds = [start, *sorted(changes), end + timedelta(days=1)]
        total_days = (end - start).days + 1
        lines: list[BillLine] = []
        allocated = 0
        for seg_start, seg_stop in pairwise(bounds):
            days = (seg_stop - seg_start).days
            if seg_stop > end:  # last segment: the remainder, so the kWh add up to S
                seg_kwh = kwh - allocated
            else:  # min() only bites with several tiny segments, keeping kWh >= 0
                seg_kwh = min(_round_half_up(kwh * days, total_days), kwh - allocated)
            allocated += seg_kwh
            # Entries only ever start later, so if the first segment is priced, all are.
            tariff_from, prices = _entry_at(schedule, seg_start, f"{grp} tariff")
            rate = self.vat_rate_on(seg_start)
            if grp is TariffGroup.HOUSEHOLD:
                # Tiers shrink with the segment's share of days and grow with the households
                # on the meter; with no change inside the period this is size * households.
                sizes = [
                    _round_half_up(size * days * households, total_days)
                    for size in self._tier_sizes
                ]
                lines += _tier_lines(seg_kwh, sizes, prices, tariff_from, rate)
            elif seg_kwh:
                price = prices[0]
                lines.append(BillLine(seg_kwh, price, seg_kwh * price, tariff_from, rate, None))

        bases: dict[int, int] = {}
        for line in lines:
            bases[line.vat_rate] = bases.get(line.vat_rate, 0) + line.amount
        vat_lines = tuple(
            VatLine(rate, base, _round_half_up(base * rate, 100)) for rate, base in bases.items()
        )
        before_vat = sum(line.amount for line in lines)
        vat = sum(v.vat for v in vat_lines)
        total = before_vat + vat
        return BillBreakdown(
            kwh, start, end, households, grp, level, tuple(lines), vat_lines, before_vat, vat, total
        )

    @staticmethod
    def _resolve(
        group: TariffGroup | str, voltage: VoltageLevel | str | None
    ) -> tuple[TariffGroup, VoltageLevel | None]:
        try:
            grp = TariffGroup(group)
        except ValueError:
            raise TariffError(f"unknown customer group {group!r}") from None
        if grp is TariffGroup.HOUSEHOLD:
            return grp, None  # household prices do not depend on voltage
        if voltage is None:
            raise TariffError(f"the {grp} tariff needs a voltage level: {list(VoltageLevel)}")
        try:
            return grp, VoltageLevel(voltage)
        except ValueError:
            raise TariffError(f"unknown voltage level {voltage!r}") from None


@functools.cache
def default_tariffs() -> TariffBook:
    """The packaged tariff book, loaded once per process."""
    return TariffBook.load()
