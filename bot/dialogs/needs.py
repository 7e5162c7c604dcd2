"""What a form's `needs:` asks of the customer before it starts (docs/FORMS.md).

The handler's login gate comes first; this is what the form itself cannot do without:
a contract to act on, or a phone the power company can call back.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.core.context import Context
from bot.core.messages import Button, Reply
from bot.dialogs.spec import FormSpec
from bot.store.models import ChatUser

NEEDS: dict[str, Callable[[ChatUser], bool]] = {
    "customer": lambda user: bool(user.customer_codes),
    # The phone verified at login, or the phone on record of a linked contract (a
    # password login proves no phone of its own).
    "phone": lambda user: bool(user.verified_phone or user.customer_codes),
}


def refusal(ctx: Context, form: FormSpec) -> list[Reply] | None:
    """None when the customer has what `form` needs; otherwise how to get it: linking a
    customer code gives both a contract and its phone."""
    if NEEDS[form.needs](ctx.user):
        return None
    add = Button(ctx.t("account.add_code"), payload="add_code")
    home = Button(ctx.t("menu.home"), payload="menu")
    return [Reply(text=ctx.t(f"form.needs_{form.needs}"), buttons=((add,), (home,)))]
