"""Where an outage is and who is in it: the words a notice names its area with, and the
chats linked to a customer in its areas (only those on its streets when it names some:
issue 15) or among its customer codes. Used by outages.py."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.texts import Texts
from bot.notify.segments import (
    Area,
    Linked,
    Segment,
    in_sentence,
    linked_users,
    on_streets,
    users_of_codes,
)
from bot.store.backend import OutageAreaRecord, OutageRecord, UtilityBackend
from nlu.normalize import fold


def area_words(texts: Texts, lang: str, outage: OutageRecord) -> str:
    """Where the outage is, as it reads in a sentence: 'phường Hội An'; 'một phần phường
    Pleiku (Hùng Vương, Trần Phú)' when it covers some streets, or as published when the
    published area says more than the wards' names (issue 15: the push said "khu vực
    phường Pleiku" for two streets of it, where the lookup names them)."""
    try:
        places = [Area(a.province_code, a.ward_code) for a in outage.areas]
    except ValueError:  # a code vietnam-provinces does not know: the staff's words
        places = []
    if any(area.streets for area in outage.areas):
        return ", ".join(
            texts.get(
                "notify.outage_streets", lang, area=place.in_sentence, streets=", ".join(a.streets)
            )
            if a.streets
            else place.in_sentence
            for place, a in zip(places, outage.areas, strict=False)
        ) or _as_published(outage.area_description)
    names = ", ".join(place.in_sentence for place in places)
    published = " ".join(outage.area_description.split())
    if names and fold(published) in {fold(names), *(fold(place.name) for place in places)}:
        return names
    return _as_published(published) or names


def _as_published(description: str) -> str:
    """'Một phần phường Pleiku (Hùng Vương)' -> 'một phần phường Pleiku (Hùng Vương)';
    names keep their capitals ('Gia Lai', 'Phường Hội An' -> 'phường Hội An')."""
    text = in_sentence(" ".join(description.split()))
    words = text.split()
    if len(words) > 1 and words[0][:1].isupper() and words[1][:1].islower():
        text = text[:1].lower() + text[1:]
    return text


async def outage_people(
    session: AsyncSession,
    backend: UtilityBackend,
    areas: Iterable[OutageAreaRecord],
    customer_codes: Sequence[str] = (),
) -> list[Linked]:
    """Chats linked to a customer in any of the areas or among the codes, each once,
    codes merged."""
    people: dict[int, Linked] = {}

    def merge(found: Iterable[Linked]) -> None:
        for linked in found:
            person = people.setdefault(linked.chat_user.id, Linked(linked.chat_user))
            person.codes += [code for code in linked.codes if code not in person.codes]

    for area in areas:
        segment = Segment(province_code=area.province_code, ward_code=area.ward_code)
        found = await linked_users(session, backend, segment)
        if area.streets:  # only the customers on its streets (issue 15)
            found = await _on_streets(backend, found, area.streets)
        merge(found)
    if customer_codes:
        by_code = await users_of_codes(session, customer_codes)
        merge(Linked(user, [code]) for code in sorted(by_code) for user in by_code[code])
    return [people[key] for key in sorted(people)]


async def _on_streets(
    backend: UtilityBackend, people: list[Linked], streets: Sequence[str]
) -> list[Linked]:
    """The chats of `people` with their codes whose address is on one of the streets."""
    kept: list[Linked] = []
    for person in people:
        codes = []
        for code in person.codes:
            customer = await backend.customer(code)
            if customer is not None and on_streets(customer.address, streets):
                codes.append(code)
        if codes:
            kept.append(Linked(person.chat_user, codes))
    return kept
