"""A deterministic demo data set: customers, 24 months of readings and bills (priced
by the tariff engine), e-invoices, payment points and outages.

Same seed and same `today` -> the same rows. Dates are anchored on `today` so that
the latest bill is recent and planned outages are upcoming whenever the demo runs.
"""

from __future__ import annotations

import calendar
import math
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bot.billing.tariffs import BillBreakdown, TariffBook
from bot.core.fmt import LOCAL_TZ
from bot.demo.definitions import Area, definitions, geography
from bot.notify.segments import on_streets
from nlu.normalize import fold

SEED = 20250701  # the day the two-level administration began
MONTHS = 24
DEFAULT_CUSTOMERS = 600
# Central Vietnam's hot months use more electricity (fans, air conditioning).
SEASON = {
    1: 0.85,
    2: 0.85,
    3: 0.95,
    4: 1.1,
    5: 1.3,
    6: 1.35,
    7: 1.35,
    8: 1.25,
    9: 1.05,
    10: 0.95,
    11: 0.9,
    12: 0.85,
}
# Whole mobile ranges (any seven digits after them make a number phonenumbers accepts:
# 089 is MobiFone's from 0896 only, so its 076 stands in).
MOBILE_PREFIXES = (
    "90",
    "93",
    "76",
    "70",
    "79",
    "77",
    "91",
    "94",
    "88",
    "83",
    "86",
    "96",
    "97",
    "98",
    "32",
    "33",
    "35",
    "37",
    "39",
    "56",
    "58",
)
PAID_CHANNELS = (
    ("bank_app", 40),
    ("ewallet", 22),
    ("auto_debit", 15),
    ("counter", 13),
    ("evncpc_app", 10),
)
BANKS = ("Agribank", "Vietcombank", "VietinBank", "BIDV")
OPENING_HOURS = {
    "counter": "07:00–11:30, 13:30–17:00, thứ Hai–thứ Sáu",
    "post_office": "07:00–19:00, hằng ngày",
    "bank": "07:30–16:30, thứ Hai–thứ Sáu; sáng thứ Bảy",
    "agent": "06:30–21:00, hằng ngày",
}
# Issue 18: what an air conditioner adds, in kWh a day at full use, and how much of that
# it runs in each month (central Vietnam: the hot season is April to September, hottest
# in June and July; in the rainy, cool months it stays off).
AIR_CONDITIONER_KWH = (2.5, 6.0)
AIR_CONDITIONER_USE = {4: 0.5, 5: 0.9, 6: 1.0, 7: 1.0, 8: 0.9, 9: 0.5}
AIR_CONDITIONER_SHARE = 0.08  # of the generated households, one bought in the history
FAULTY_METER_SHARE = 0.005  # of the generated households, a meter ran fast for a while
FAULTY_METER_FACTOR = (1.8, 2.6)
FAULTY_METER_PERIODS = 2
PERSONA_METER_FACTOR = 2.1  # the faulty-meter persona's: its bills about doubled
# A stream of its own for what issue 18 added (air conditioners, faulty meters, the
# personas marked `own_random`): the draws of the data before it stay as they were, so
# the amounts the tests pin do not move.
STORY_SEED = 18
PAST_OUTAGE_DAYS = 9  # each persona's ward had a planned outage this many days ago
RURAL_PREFIXES = ("thon", "to ", "khoi", "tieu khu", "buon", "lang", "xom", "khu", "plei")


@dataclass
class DemoData:
    """Rows to insert, as dicts; bills/readings/phones refer to customers by index."""

    units: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)
    phones: list[tuple[int, str]] = field(default_factory=list)
    readings: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    bills: list[tuple[int, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    payment_points: list[dict[str, Any]] = field(default_factory=list)
    outages: list[tuple[dict[str, Any], list[dict[str, Any]]]] = field(default_factory=list)
    # What changed a customer's use (issue 18), the ground truth of bench/anomaly_bench.py:
    # (customer index, {"kind": "air_conditioner" | "faulty_meter", "since": date,
    # "periods": [(year, month, term, kWh added)]}).
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


class _Generator:
    def __init__(self, today: date, count: int, seed: int, tariffs: TariffBook) -> None:
        self.today = today
        self.count = count
        self.rng = random.Random(seed)
        self.story_rng = random.Random(seed + STORY_SEED)
        self.tariffs = tariffs
        self.geo = geography()
        self.names = definitions()["names"]
        self.data = DemoData()
        self._codes: set[str] = set()
        self._phones: set[str] = set()
        self._invoice_numbers: dict[str, int] = {}

    def run(self) -> DemoData:
        self.data.units = [
            {"code": code, "name": name, "province_code": self._unit_province(code)}
            for code, name in sorted(self.geo.units.items())
        ]
        everyone = definitions()["personas"]
        for persona in everyone:
            self._phones.add(persona["phone"])
        for persona in (p for p in everyone if not p.get("own_random")):
            for spec in persona["customers"]:
                self._add_persona_customer(persona, spec)
        while len(self.data.customers) < self.count:
            self._add_random_customer()
        main_rng = self.rng
        for persona in (p for p in everyone if p.get("own_random")):  # on top of the count
            self.rng = random.Random(f"{SEED}:{persona['username']}")
            for spec in persona["customers"]:
                self._add_persona_customer(persona, spec)
                self.data.customers[-1]["_rng"] = self.rng
        for index, customer in enumerate(self.data.customers):
            self.rng = customer.get("_rng", main_rng)
            self._history(index, customer)
        self.rng = main_rng
        self._payment_points()
        self._outages()
        return self.data

    # --- customers ---------------------------------------------------------------------

    def _unit_province(self, unit: str) -> int:
        return next(a.province_code for a in self.geo.areas if a.unit == unit)

    def _add_persona_customer(self, persona: dict[str, Any], spec: dict[str, Any]) -> None:
        area = self.geo.area_of_ward(spec["ward"])
        self._codes.add(spec["code"])
        self._append_customer(
            area,
            code=spec["code"],
            name=persona["name"]
            if spec["tariff"] == "household"
            else self._business_name(spec["tariff"], persona["name"].split()[-1]),
            address=spec["address"],
            former_district=spec.get("former_district", area.former_district),
            email=persona["email"],
            tariff=spec["tariff"],
            voltage=spec.get("voltage"),
            households=spec.get("households", 1),
            terms=spec.get("terms_per_month", 1),
            typical_kwh=spec["typical_kwh"],
            unpaid=spec["unpaid"],
            phones=[persona["phone"]],
            exact_unpaid=True,
        )
        self.data.customers[-1]["_faulty_periods"] = int(spec.get("faulty_meter_periods", 0))

    def _add_random_customer(self) -> None:
        rng = self.rng
        area = rng.choices(self.geo.areas, weights=[a.weight for a in self.geo.areas])[0]
        code = self._new_code(area.unit)
        female = rng.random() < 0.5
        given = rng.choice(self.names["given_female" if female else "given_male"])
        person = " ".join(
            (
                rng.choices(
                    list(self.names["family"]), weights=list(self.names["family"].values())
                )[0],
                rng.choice(self.names["middle_female" if female else "middle_male"]),
                given,
            )
        )
        tariff = rng.choices(("household", "business", "production"), weights=(90, 8, 2))[0]
        households = 1 if tariff != "household" else rng.choices((1, 2, 3), weights=(94, 5, 1))[0]
        typical = {
            "household": lambda: rng.lognormvariate(math.log(160), 0.45) * households,
            "business": lambda: rng.lognormvariate(math.log(900), 0.6),
            "production": lambda: rng.lognormvariate(math.log(15000), 0.8),
        }[tariff]()
        voltage = None
        if tariff != "household":
            voltage = (
                "6_22kv" if rng.random() < (0.15 if tariff == "business" else 0.6) else "below_6kv"
            )
        phones = [self._new_phone() for _ in range(rng.choices((1, 2), weights=(85, 15))[0])]
        email = None
        if rng.random() < 0.4:
            email = f"{fold(person).replace(' ', '.')}{rng.randint(1, 999)}@example.com"
        self._append_customer(
            area,
            code=code,
            name=person if tariff == "household" else self._business_name(tariff, given),
            address=self._street_address(area),
            former_district=area.former_district,
            email=email,
            tariff=tariff,
            voltage=voltage,
            households=households,
            terms=3 if tariff == "production" and typical > 20_000 else 1,
            typical_kwh=max(20, min(int(typical), 200_000)),
            unpaid=rng.choices((0, 1, 2, 3), weights=(88, 7, 3, 2))[0],
            phones=phones,
        )

    def _append_customer(
        self,
        area: Area,
        *,
        code: str,
        name: str,
        address: str,
        former_district: str | None,
        email: str | None,
        tariff: str,
        voltage: str | None,
        households: int,
        terms: int,
        typical_kwh: int,
        unpaid: int,
        phones: list[str],
        exact_unpaid: bool = False,
    ) -> None:
        rng = self.rng
        index = len(self.data.customers)
        self.data.customers.append(
            {
                "code": code,
                "name": name,
                "address": address,
                "ward_code": area.ward_code,
                "ward_name": area.ward_name,
                "province_code": area.province_code,
                "province_name": area.province_name,
                "former_district": former_district,
                "latitude": round(area.latitude + rng.uniform(-0.008, 0.008), 5),
                "longitude": round(area.longitude + rng.uniform(-0.008, 0.008), 5),
                "email": email,
                "tariff_group": tariff,
                "voltage_level": voltage,
                "households": households,
                "meter_number": f"{rng.randint(10, 99)}{rng.randint(0, 999999):06d}",
                "reading_day": 31 if terms == 3 else rng.randint(1, 28),
                "terms_per_month": terms,
                "unit_code": area.unit,
                "_typical_kwh": typical_kwh,
                "_unpaid": unpaid,
                "_exact_unpaid": exact_unpaid,
            }
        )
        self.data.phones.extend((index, phone) for phone in phones)

    def _new_code(self, unit: str) -> str:
        while True:
            code = f"{unit}{self.rng.randint(0, 9_999_999):07d}"
            if code not in self._codes:
                self._codes.add(code)
                return code

    def _new_phone(self) -> str:
        while True:
            phone = f"+84{self.rng.choice(MOBILE_PREFIXES)}{self.rng.randint(0, 9_999_999):07d}"
            if phone not in self._phones:
                self._phones.add(phone)
                return phone

    def _business_name(self, tariff: str, given: str) -> str:
        return str(self.rng.choice(self.names[tariff])).format(given=given)

    def _street_address(self, area: Area) -> str:
        street = self.rng.choice(area.streets)
        if fold(street).startswith(RURAL_PREFIXES):
            return street
        return f"{self.rng.randint(1, 250)} {street}"

    # --- readings and bills --------------------------------------------------------------

    def _reading_dates(self, customer: dict[str, Any]) -> list[tuple[date, int]]:
        """(reading date, kỳ) from oldest to newest, the newest before today."""
        dates: list[tuple[date, int]] = []
        year, month = self.today.year, self.today.month
        for _ in range(MONTHS + 2):
            last = calendar.monthrange(year, month)[1]
            if customer["terms_per_month"] == 3:
                days = [(10, 1), (20, 2), (last, 3)]
            else:
                days = [(min(customer["reading_day"], last), 1)]
            dates.extend((date(year, month, day), term) for day, term in days)
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        dates = sorted(d for d in dates if d[0] < self.today)
        periods = MONTHS * customer["terms_per_month"]
        return dates[-(periods + 1) :]

    def _history(self, index: int, customer: dict[str, Any]) -> None:
        rng = self.rng
        dates = self._reading_dates(customer)
        per_term = customer["_typical_kwh"] / customer["terms_per_month"]
        seasonal_weight = 0.3 if customer["tariff_group"] == "production" else 1.0
        meter_index = rng.randint(1_000, 30_000)
        bills: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
        previous: date | None = None
        stories = self._stories(customer, dates)
        for position, (read_on, term) in enumerate(dates):
            season = 1 + (SEASON[read_on.month] - 1) * seasonal_weight
            kwh = max(0, round(per_term * season * rng.uniform(0.88, 1.12)))
            if previous is not None:
                for story in stories:
                    added = story.added(previous + timedelta(days=1), read_on, position, kwh)
                    if added:
                        kwh += added
                        story.periods.append((read_on.year, read_on.month, term, added))
            old_index, meter_index = meter_index, meter_index + kwh
            self.data.readings.append(
                (index, {"read_on": read_on, "term": term, "index_value": meter_index, "kwh": kwh})
            )
            if previous is not None:
                start = previous + timedelta(days=1)
                breakdown = self.tariffs.compute(
                    kwh,
                    start,
                    read_on,
                    group=customer["tariff_group"],
                    voltage=customer["voltage_level"],
                    households=customer["households"],
                )
                bills.append(self._bill(index, term, old_index, meter_index, breakdown))
            previous = read_on
        self._settle(bills, customer["_unpaid"], exact=customer["_exact_unpaid"])
        self.data.bills.extend(bills)
        self.data.events.extend((index, story.as_event()) for story in stories if story.periods)

    def _stories(self, customer: dict[str, Any], dates: list[tuple[date, int]]) -> list[_Story]:
        """What changes this customer's use (issue 18): a persona's faulty meter in its
        last periods; for a generated household, drawn from the story stream, an air
        conditioner bought in a hot month or a meter that ran fast for two periods."""
        stories: list[_Story] = []
        if customer.get("_faulty_periods"):
            first = len(dates) - customer["_faulty_periods"]
            stories.append(
                _Story("faulty_meter", dates[first][0], first, len(dates), PERSONA_METER_FACTOR)
            )
        if customer["_exact_unpaid"] or customer["tariff_group"] != "household" or len(dates) < 3:
            return stories
        rng = self.story_rng
        draw, kwh_a_day = rng.random(), rng.uniform(*AIR_CONDITIONER_KWH)
        first = rng.randrange(len(dates) // 2, len(dates) - 1)
        factor = rng.uniform(*FAULTY_METER_FACTOR)
        summers = sorted({d.year for d, _ in dates if d.month >= 5})
        year = summers[rng.randrange(len(summers))]
        bought = date(year, rng.randint(4, 7), rng.randint(1, 28))
        if draw < AIR_CONDITIONER_SHARE and dates[0][0] < bought < dates[-1][0]:
            stories.append(_Story("air_conditioner", bought, 0, len(dates), kwh_a_day))
        elif draw > 1 - FAULTY_METER_SHARE:
            last = min(len(dates), first + FAULTY_METER_PERIODS)
            stories.append(_Story("faulty_meter", dates[first][0], first, last, factor))
        return stories

    def _bill(
        self, index: int, term: int, old_index: int, new_index: int, breakdown: BillBreakdown
    ) -> tuple[int, dict[str, Any], dict[str, Any]]:
        end = breakdown.period_end
        issued = end + timedelta(days=1)
        series = f"K{issued.year % 100:02d}TAA"
        number = self._invoice_numbers.get(series, 100_000) + 1
        self._invoice_numbers[series] = number
        bill = {
            "term": term,
            "month": end.month,
            "year": end.year,
            "period_start": breakdown.period_start,
            "period_end": end,
            "old_index": old_index,
            "new_index": new_index,
            "kwh": breakdown.kwh,
            "before_vat": breakdown.before_vat,
            "vat_rate": self.tariffs.vat_rate_on(end),
            "vat": breakdown.vat,
            "total": breakdown.total,
            "issued_on": issued,
            "due_date": end + timedelta(days=10),
            "status": "paid",
            "paid_at": None,
            "paid_channel": None,
        }
        invoice = {
            "form": "1",
            "series": series,
            "number": number,
            "issued_on": issued,
            "lines": [line.as_json() for line in breakdown.lines],
        }
        return index, bill, invoice

    def _settle(
        self, bills: list[tuple[int, dict[str, Any], dict[str, Any]]], unpaid: int, *, exact: bool
    ) -> None:
        """Mark all but the latest `unpaid` bills as paid, at plausible times."""
        rng = self.rng
        newest_not_due = bool(bills) and bills[-1][1]["due_date"] >= self.today
        if not exact and unpaid == 0 and newest_not_due and rng.random() < 0.5:
            unpaid = 1  # the newest bill is not due yet and many pay near the due date
        cutoff = len(bills) - unpaid
        now = datetime.now(UTC)
        for position, (_, bill, _) in enumerate(bills):
            if position >= cutoff:
                bill["status"] = "unpaid"
                continue
            last_day = min(bill["due_date"] + timedelta(days=3), self.today)
            day = bill["issued_on"] + timedelta(
                days=rng.randint(0, max(0, (last_day - bill["issued_on"]).days))
            )
            moment = datetime.combine(day, time(rng.randint(7, 21), rng.randint(0, 59)), LOCAL_TZ)
            bill["paid_at"] = min(moment.astimezone(UTC), now)
            bill["paid_channel"] = rng.choices(
                [c for c, _ in PAID_CHANNELS], weights=[w for _, w in PAID_CHANNELS]
            )[0]

    # --- payment points and outages --------------------------------------------------------

    def _payment_points(self) -> None:
        rng = self.rng
        seen_units: set[str] = set()
        for area in self.geo.areas:
            count = 1 + (area.weight >= 3) + (area.weight >= 5)
            short = area.ward_name.split(" ", 1)[1]
            for number in range(count):
                if area.unit not in seen_units:
                    seen_units.add(area.unit)
                    kind, name = "counter", f"Phòng giao dịch {self.geo.units[area.unit]}"
                else:
                    kind = rng.choice(("post_office", "bank", "agent"))
                    name = {
                        "post_office": f"Bưu cục {short}",
                        "bank": f"{rng.choice(BANKS)} – chi nhánh {short}",
                        "agent": f"Điểm thu hộ {short} số {number + 1}",
                    }[kind]
                self.data.payment_points.append(
                    {
                        "name": name,
                        "address": self._street_address(area),
                        "ward_code": area.ward_code,
                        "ward_name": area.ward_name,
                        "province_code": area.province_code,
                        "province_name": area.province_name,
                        "latitude": round(area.latitude + rng.uniform(-0.012, 0.012), 5),
                        "longitude": round(area.longitude + rng.uniform(-0.012, 0.012), 5),
                        "opening_hours": OPENING_HOURS[kind],
                        "kind": kind,
                    }
                )

    def _outage(
        self,
        area: Area,
        kind: str,
        start: datetime,
        end: datetime,
        status: str,
        street: str | None = None,
    ) -> None:
        """An outage of two streets of the ward (`street` one of them), published as
        "Một phần phường X (A, B)" and with the streets as data: only customers on
        them are told (issue 15)."""
        reasons = definitions()["outage_reasons"][kind]
        chosen = self.rng.sample(area.streets, min(2, len(area.streets)))
        if street is not None and street not in chosen:
            chosen[0] = street  # (the same random draws whatever the street)
        streets = ", ".join(chosen)
        ward = area.ward_name[0].lower() + area.ward_name[1:]
        self.data.outages.append(
            (
                {
                    "kind": kind,
                    "start_at": start.astimezone(UTC),
                    "end_at": end.astimezone(UTC),
                    "reason": self.rng.choice(reasons),
                    "area_description": f"Một phần {ward} ({streets})",
                    "status": status,
                    "unit_code": area.unit,
                },
                [
                    {
                        "province_code": area.province_code,
                        "ward_code": area.ward_code,
                        "streets": chosen,
                    }
                ],
            )
        )

    def _local(self, days: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(self.today + timedelta(days=days), time(hour, minute), LOCAL_TZ)

    def _outages(self) -> None:
        rng = self.rng
        for persona in definitions()["personas"]:
            if "outage_in_days" in persona:
                spec = persona["customers"][0]
                area = self.geo.area_of_ward(spec["ward"])
                days = persona["outage_in_days"]
                start, end = self._local(days, 7), self._local(days, 15, 30)
                self._outage(area, "planned", start, end, "scheduled", street_of(spec, area))
        weights = [a.weight for a in self.geo.areas]
        for _ in range(14):
            area = rng.choices(self.geo.areas, weights=weights)[0]
            days, hour = rng.randint(1, 12), rng.choice((6, 7, 7, 8, 13))
            start = self._local(days, hour, rng.choice((0, 30)))
            self._outage(
                area, "planned", start, start + timedelta(hours=rng.randint(2, 9)), "scheduled"
            )
        now = datetime.now(LOCAL_TZ)
        for _ in range(2):
            area = rng.choices(self.geo.areas, weights=weights)[0]
            start = now - timedelta(minutes=rng.randint(40, 90))
            self._outage(
                area, "incident", start, now + timedelta(hours=rng.randint(1, 3)), "in_progress"
            )
        for _ in range(6):
            area = rng.choices(self.geo.areas, weights=weights)[0]
            start = self._local(-rng.randint(2, 14), rng.choice((7, 8, 13)))
            self._outage(
                area, "planned", start, start + timedelta(hours=rng.randint(2, 6)), "restored"
            )
        # Each persona's ward had one the week before last: its notices are in the
        # persona's Thông báo tab (bot/demo/history.py). Last, so the random draws above
        # (and the data they make) stay as they were.
        for persona in definitions()["personas"]:
            spec = persona["customers"][0]
            area = self.geo.area_of_ward(spec["ward"])
            start = self._local(-PAST_OUTAGE_DAYS, 7, 30)
            end = self._local(-PAST_OUTAGE_DAYS, 11, 30)
            self._outage(area, "planned", start, end, "restored", street_of(spec, area))


@dataclass
class _Story:
    """One change of a customer's use: an air conditioner (`size`: kWh a day at full
    use, from `since`) or a faulty meter (`size`: the factor it over-reads by, in the
    periods read at positions `first` to `last` - 1)."""

    kind: str
    since: date
    first: int
    last: int
    size: float
    periods: list[tuple[int, int, int, int]] = field(default_factory=list)

    def added(self, start: date, end: date, position: int, kwh: int) -> int:
        if self.kind == "faulty_meter":
            inside = self.first <= position < self.last
            return round(kwh * (self.size - 1)) if inside else 0
        used = 0.0
        day = max(start, self.since)
        while day <= end:
            used += self.size * AIR_CONDITIONER_USE.get(day.month, 0.0)
            day += timedelta(days=1)
        return round(used)

    def as_event(self) -> dict[str, Any]:
        return {"kind": self.kind, "since": self.since, "periods": list(self.periods)}


def street_of(spec: dict[str, Any], area: Area) -> str:
    """The street of a persona's address: one of the ward's ("88 Hùng Vương" -> "Hùng
    Vương"), else the address without its house number."""
    address = spec["address"]
    for street in sorted(area.streets, key=len, reverse=True):
        if on_streets(address, [street]):
            return street
    return re.sub(r"^(Lô\s+\S+|[\d/]+)\s+", "", address)  # "Lô B3 Khu công nghiệp…"


def generate(
    tariffs: TariffBook,
    *,
    today: date | None = None,
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = SEED,
) -> DemoData:
    """Build the demo data set in memory (nothing is written)."""
    today = today or datetime.now(LOCAL_TZ).date()
    return _Generator(today, customers, seed, tariffs).run()
