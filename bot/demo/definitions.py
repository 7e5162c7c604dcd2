"""The demo data's definitions (data/demo.yml, data/demo_areas.yml) and the personas.

`personas()` needs no database: the personas are fixed in data/demo.yml, so
`cskh demo personas --json` prints the same on an empty or a seeded database.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from bot.paths import read_yaml, resource_path
from bot.store.places import province_name, ward_name, ward_province


@dataclass(frozen=True)
class Area:
    """A ward where demo customers live, with the Điện lực that serves it."""

    unit: str
    province_code: int
    ward_code: int
    former_district: str | None
    latitude: float
    longitude: float
    weight: int
    streets: tuple[str, ...]

    @property
    def ward_name(self) -> str:
        return ward_name(self.ward_code)

    @property
    def province_name(self) -> str:
        return province_name(self.province_code)


@dataclass(frozen=True)
class Geography:
    areas: tuple[Area, ...]
    units: dict[str, str]  # unit code -> name as customers read it

    def area_of_ward(self, ward_code: int) -> Area:
        for area in self.areas:
            if area.ward_code == ward_code:
                return area
        raise KeyError(f"ward {ward_code} is not a demo area")


def _load(name: str) -> Any:
    return read_yaml(resource_path(f"data/{name}"))


@functools.cache
def geography() -> Geography:
    raw = _load("demo_areas.yml")
    areas = tuple(
        Area(
            unit=item["unit"],
            province_code=int(item["province"]),
            ward_code=int(item["ward"]),
            former_district=item.get("former_district"),
            latitude=float(item["lat"]),
            longitude=float(item["lon"]),
            weight=int(item["weight"]),
            streets=tuple(item["streets"]),
        )
        for item in raw["areas"]
    )
    return Geography(areas=areas, units=dict(raw["units"]))


@functools.cache
def definitions() -> dict[str, Any]:
    """data/demo.yml as parsed: personas, name lists, outage reasons."""
    data: dict[str, Any] = _load("demo.yml")
    return data


def personas() -> list[dict[str, Any]]:
    """The demo personas as `cskh demo personas --json` prints them."""
    result = []
    for persona in definitions()["personas"]:
        first = persona["customers"][0]
        area: dict[str, Any] = {
            "province": province_name(ward_province(first["ward"])),
            "ward": ward_name(first["ward"]),
        }
        if first.get("former_district"):
            area["district"] = first["former_district"]
        result.append(
            {
                "name": persona["name"],
                "phone": persona["phone"],
                "email": persona["email"],
                "username": persona["username"],
                "password": persona["password"],
                "customer_codes": [customer["code"] for customer in persona["customers"]],
                "area": area,
                "story": persona["story"],
            }
        )
    return result
