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


def _asks_a_phone(form: FormSpec) -> bool:
    """The form asks for a contact number itself (a required question, always asked)."""
    return any(f.type == "phone" and not f.optional and not f.when for f in form.fields)


NEEDS: dict[str, Callable[[ChatUser, FormSpec], bool]] = {
    "customer": lambda user, form: bool(user.customer_codes),
    # The phone verified at login, the phone on record of a linked contract (a password
    # login proves no phone of its own), or the one the form asks for: an outage report
    # or a new connection is never refused for want of a contract.
    "phone": lambda user, form: bool(
        user.verified_phone or user.customer_codes or _asks_a_phone(form)
    ),
}


def refusal(ctx: Context, form: FormSpec) -> list[Reply] | None:
    """None when the customer has what `form` needs; otherwise how to get it: linking a
    customer code gives both a contract and its phone."""
    if NEEDS[form.needs](ctx.user, form):
        return None
    add = Button(ctx.t("account.add_code"), payload="add_code")
    home = Button(ctx.t("menu.home"), payload="menu")
    return [Reply(text=ctx.t(f"form.needs_{form.needs}"), buttons=((add,), (home,)))]
