"""The demo data set: deterministic, realistic, priced by the tariff engine."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date

from bot.billing.tariffs import default_tariffs
from bot.core.phones import parse_mobile
from bot.demo.definitions import personas
from bot.demo.generate import generate
from tests.conftest import DEMO_TODAY


def _fingerprint(today: date) -> list[tuple[str, int, int]]:
    data = generate(default_tariffs(), today=today, customers=80)
    return [(c["code"], c["_typical_kwh"], c["reading_day"]) for c in data.customers] + [
        (str(bill["period_end"]), bill["kwh"], bill["total"]) for _, bill, _ in data.bills[:200]
    ]


def test_same_seed_same_data() -> None:
    assert _fingerprint(DEMO_TODAY) == _fingerprint(DEMO_TODAY)


def test_bills_are_priced_by_the_tariff_engine_and_chain_their_indexes() -> None:
    tariffs = default_tariffs()
    data = generate(tariffs, today=DEMO_TODAY, customers=60)
    by_customer: dict[int, list[dict]] = {}
    for index, bill, invoice in data.bills:
        by_customer.setdefault(index, []).append(bill)
        customer = data.customers[index]
        expected = tariffs.compute(
            bill["kwh"],
            bill["period_start"],
            bill["period_end"],
            group=customer["tariff_group"],
            voltage=customer["voltage_level"],
            households=customer["households"],
        )
        assert (bill["before_vat"], bill["vat"], bill["total"]) == (
            expected.before_vat,
            expected.vat,
            expected.total,
        )
        assert bill["new_index"] - bill["old_index"] == bill["kwh"]
        assert sum(line["amount"] for line in invoice["lines"]) == bill["before_vat"]
        assert bill["period_end"] < DEMO_TODAY
    for bills in by_customer.values():
        for previous, current in itertools.pairwise(bills):
            assert current["old_index"] == previous["new_index"]
            assert (current["period_start"] - previous["period_end"]).days == 1


def test_personas_get_their_story() -> None:
    data = generate(default_tariffs(), today=DEMO_TODAY, customers=50)
    codes = {c["code"]: i for i, c in enumerate(data.customers)}
    statuses = Counter((data.customers[i]["code"], bill["status"]) for i, bill, _ in data.bills)
    assert statuses[("PC05CC0123456", "unpaid")] == 1  # An: one unpaid bill
    assert statuses[("PC03BB0045678", "unpaid")] == 2  # Bình: two
    assert statuses[("PC06AA0098765", "paid")] == 72  # Cường: 3 readings a month, 24 months
    binh = data.customers[codes["PC03BB0045678"]]
    assert binh["households"] == 2
    upcoming = [
        o
        for o, areas in data.outages
        if o["status"] == "scheduled" and areas[0]["ward_code"] == 23575
    ]
    assert upcoming  # Dung's ward (Pleiku) has a planned outage coming


def test_every_phone_is_a_mobile_a_customer_could_log_in_with() -> None:
    data = generate(default_tariffs(), today=DEMO_TODAY, customers=400)
    phones = [phone for _, phone in data.phones] + [p["phone"] for p in personas()]
    assert len(phones) > 400
    assert all(parse_mobile(phone) == phone for phone in phones)


def test_personas_json_has_what_the_readme_promises() -> None:
    people = personas()
    assert len(people) >= 5
    for person in people:
        assert set(person) >= {
            "name",
            "phone",
            "email",
            "username",
            "password",
            "customer_codes",
            "area",
        }
        assert person["phone"].startswith("+84") and len(person["phone"]) == 12
        assert all(len(code) == 13 for code in person["customer_codes"])
        assert set(person["area"]) >= {"province", "ward"}
    an = people[0]
    assert an["customer_codes"][0] == "PC05CC0123456"
    assert an["area"] == {
        "province": "Thành phố Đà Nẵng",
        "ward": "Phường Hội An",
        "district": "Thành phố Hội An",
    }
