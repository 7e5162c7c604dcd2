"""Vietnam's provinces and wards after the 1 July 2025 reform (vietnam-provinces).

The package's data has a few stray double spaces ("Phường  Buôn Ma Thuột"); names
leave here single-spaced.
"""

from __future__ import annotations

import functools

from vietnam_provinces import Province, ProvinceCode, Ward, WardCode

from nlu.normalize import fold


def _clean(name: str) -> str:
    return " ".join(name.split())


@functools.cache
def province_name(code: int) -> str:
    """'Thành phố Đà Nẵng' for 48; ValueError for an unknown code."""
    return _clean(Province.from_code(ProvinceCode(code)).name)


@functools.cache
def ward_name(code: int) -> str:
    """'Phường Hội An' for 20410; ValueError for an unknown code."""
    return _clean(Ward.from_code(WardCode(code)).name)


@functools.cache
def ward_province(code: int) -> int:
    """The province code a ward belongs to."""
    return int(Ward.from_code(WardCode(code)).province_code.value)


@functools.cache
def province_names() -> tuple[str, ...]:
    """Every province's name (the console's list to pick from)."""
    return tuple(_clean(province.name) for province in Province.iter_all())


@functools.cache
def ward_names(province_code: int) -> tuple[str, ...]:
    """The names of the province's wards."""
    return tuple(
        _clean(ward.name) for ward in Ward.iter_all() if int(ward.province_code) == province_code
    )


@functools.cache
def provinces() -> tuple[tuple[int, str], ...]:
    """Every province as (code, name), in the order of the names without "Thành phố"
    ("Cần Thơ" between "Cà Mau" and "Cao Bằng")."""
    named = [(int(p.code), _clean(p.name)) for p in Province.iter_all()]
    return tuple(sorted(named, key=lambda item: fold(item[1].removeprefix("Thành phố "))))
