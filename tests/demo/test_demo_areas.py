"""Checks for data/demo_areas.yml, the geography of the demo data set."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from vietnam_provinces import Ward, WardCode

from nlu.entities import EVNCPC_PROVINCES

REPO_ROOT = Path(__file__).parents[2]
AREAS_FILE = REPO_ROOT / "data" / "demo_areas.yml"
# EVNCPC's unit list lives outside the repository; only compared against when present.
# EVNCPC's managing-unit codes (a copy of the project's shared reference data, kept here
# so that the check runs on every clone).
UNITS_REFERENCE = Path(__file__).with_name("evncpc-units.json")

# Unit code prefix -> province the unit's area now belongs to.
PREFIX_PROVINCE = {
    "PC01": 44,  # old Quảng Bình
    "PC02": 44,
    "PC03": 46,
    "PP": 48,  # Đà Nẵng city
    "PC05": 48,  # old Quảng Nam
    "PC06": 51,
    "PC11": 51,  # old Kon Tum
    "PC07": 52,  # old Bình Định
    "PC10": 52,
    "PC08": 66,  # old Phú Yên
    "PC12": 66,
    "PQ": 56,  # Khánh Hòa
}

# Rough per-province boxes (lat_min, lat_max, lon_min, lon_max) to catch swapped coordinates.
PROVINCE_BOXES = {
    44: (16.3, 18.1, 105.6, 107.5),
    46: (15.95, 16.8, 107.0, 108.25),
    48: (14.9, 16.25, 107.2, 108.8),
    51: (13.9, 15.45, 107.3, 109.2),
    52: (12.9, 14.75, 107.4, 109.35),
    56: (11.2, 12.95, 108.6, 109.5),
    66: (12.1, 13.8, 107.45, 109.5),
}

# Wards the demo personas live in: ward code -> (province, allowed managing units).
PERSONA_WARDS = {
    20410: (48, {"PC05CC"}),  # Phường Hội An
    20242: (48, {"PP0100"}),  # Phường Hải Châu
    21025: (51, {"PC06AA"}),  # Phường Cẩm Thành
    23575: (52, {"PC10AA"}),  # Phường Pleiku
    22366: (56, {"PQ0200"}),  # Phường Nha Trang
    24133: (66, {"PC12AA", "PC12CC"}),  # Phường Buôn Ma Thuột
    18880: (44, {"PC01AA"}),  # Phường Đồng Hới
    21583: (52, {"PC07AA"}),  # Phường Quy Nhơn
}
HUE_PERSONA_WARDS = {19786, 19768}  # Phường Thuận Hóa, Phường Phú Xuân
HUE_PERSONA_UNITS = {"PC03AA", "PC03BB"}

AREA_KEYS = {"unit", "province", "ward", "former_district", "lat", "lon", "weight", "streets"}
REQUIRED_AREA_KEYS = AREA_KEYS - {"former_district"}


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    with AREAS_FILE.open(encoding="utf-8") as fh:
        loaded = yaml.safe_load(fh)
    assert isinstance(loaded, dict)
    assert set(loaded) == {"areas", "units"}
    return loaded


@pytest.fixture(scope="module")
def areas(data: dict[str, Any]) -> list[dict[str, Any]]:
    result = data["areas"]
    assert isinstance(result, list)
    return result


@pytest.fixture(scope="module")
def units(data: dict[str, Any]) -> dict[str, str]:
    result = data["units"]
    assert isinstance(result, dict)
    return result


def _prefix_province(unit: str) -> int | None:
    for prefix, province in PREFIX_PROVINCE.items():
        if unit.startswith(prefix):
            return province
    return None


def test_area_keys_and_types(areas: list[dict[str, Any]]) -> None:
    for area in areas:
        assert REQUIRED_AREA_KEYS <= set(area) <= AREA_KEYS, area
        assert isinstance(area["unit"], str) and len(area["unit"]) == 6, area
        assert isinstance(area["province"], int), area
        assert isinstance(area["ward"], int), area
        if "former_district" in area:
            assert isinstance(area["former_district"], str) and area["former_district"], area
        for key in ("lat", "lon"):
            assert isinstance(area[key], float), area
            assert round(area[key], 4) == area[key], area


def test_wards_exist_and_belong_to_province(areas: list[dict[str, Any]]) -> None:
    for area in areas:
        assert area["province"] in EVNCPC_PROVINCES, area
        ward = Ward.from_code(WardCode(area["ward"]))
        assert ward.province_code.value == area["province"], (area, ward.name)


def test_wards_are_unique(areas: list[dict[str, Any]]) -> None:
    counts = Counter(area["ward"] for area in areas)
    assert [code for code, n in counts.items() if n > 1] == []


def test_mix_of_urban_and_rural(areas: list[dict[str, Any]]) -> None:
    kinds = Counter(Ward.from_code(WardCode(area["ward"])).division_type.value for area in areas)
    assert kinds["phường"] >= 10, kinds
    assert kinds["xã"] >= 10, kinds


def test_units_listed_with_names(areas: list[dict[str, Any]], units: dict[str, str]) -> None:
    used = {area["unit"] for area in areas}
    assert set(units) == used
    for code, name in units.items():
        assert isinstance(name, str) and name.strip(), code


def test_units_agree_with_reference(units: dict[str, str]) -> None:
    # Names are corrected for customers (typos such as "Nam S Hương"), codes are EVNCPC's.
    reference = json.loads(UNITS_REFERENCE.read_text(encoding="utf-8"))
    for code, name in units.items():
        assert code in reference, code
        assert name.split()[:2] == ["Điện", "lực"] or name.startswith("Trạm điện"), name


def test_unit_prefix_matches_province(areas: list[dict[str, Any]]) -> None:
    for area in areas:
        assert not area["unit"].startswith("PC13"), area  # old Đắk Nông, now Lâm Đồng
        assert _prefix_province(area["unit"]) == area["province"], area


def test_coordinates(areas: list[dict[str, Any]]) -> None:
    for area in areas:
        lat, lon = area["lat"], area["lon"]
        assert 10.5 <= lat <= 18.2, area
        assert 106.0 <= lon <= 109.6, area
        lat_min, lat_max, lon_min, lon_max = PROVINCE_BOXES[area["province"]]
        assert lat_min <= lat <= lat_max and lon_min <= lon <= lon_max, area


def test_weights_and_streets(areas: list[dict[str, Any]]) -> None:
    for area in areas:
        assert isinstance(area["weight"], int) and 1 <= area["weight"] <= 6, area
        streets = area["streets"]
        assert isinstance(streets, list) and 4 <= len(streets) <= 8, area
        assert all(isinstance(s, str) and s.strip() for s in streets), area
        assert len(set(streets)) == len(streets), area


def test_coverage(areas: list[dict[str, Any]]) -> None:
    assert len(areas) >= 36
    per_province = Counter(area["province"] for area in areas)
    assert set(per_province) == EVNCPC_PROVINCES
    assert min(per_province.values()) >= 3, per_province
    assert len({area["unit"] for area in areas}) >= 30


def test_persona_wards_present(areas: list[dict[str, Any]]) -> None:
    by_ward = {area["ward"]: area for area in areas}
    for ward, (province, allowed_units) in PERSONA_WARDS.items():
        assert ward in by_ward, ward
        assert by_ward[ward]["province"] == province, ward
        assert by_ward[ward]["unit"] in allowed_units, ward
    hue = [
        area
        for area in areas
        if area["ward"] in HUE_PERSONA_WARDS and area["unit"] in HUE_PERSONA_UNITS
    ]
    assert hue, "no Huế persona ward served by PC03AA/PC03BB"
