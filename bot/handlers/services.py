"""Dịch vụ: the seventeen service requests (forms from domain.yml, run by one engine),
progress tracking, and answering a request that waits for more information."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core.context import Context
from bot.core.fmt import clock, day, local
from bot.core.messages import Button, Reply, rows
from bot.core.router import STATE_AWAITING, Router
from bot.dialogs.forms import FieldSpec, default_forms
from bot.dialogs.runner import (
    STEP_FORM,
    FormRunner,
    draft_of,
    ended_by_logout,
    expired,
    shown_phone,
)
from bot.handlers.common import back_button, home_button, id_arg, main_menu
from bot.handlers.gates import gate
from bot.store import requests as store
from nlu.model import CONFIDENT

STEP_INFO = "request.info"
GROUPS = ("new_connection", "contract", "support")
WHERE_TYPES = ("customer_code", "address", "location")


async def prefill(
    ctx: Context, field: FieldSpec, answers: dict[str, Any]
) -> tuple[Any, str] | None:
    """What the records already say for this field: the customer's name, address,
    phone or e-mail (of the code chosen earlier in the form), or the verified phone —
    falling back to the contract's phone for customers who logged in by password."""
    if field.prefill == "user.phone" and ctx.user.verified_phone:
        phone = ctx.user.verified_phone
        return phone, _shown_phone(phone)
    code = next(
        (
            v
            for v in answers.values()
            if isinstance(v, str) and len(v) == 13 and v in ctx.user.customer_codes
        ),
        ctx.user.default_customer_code,
    )
    customer = await ctx.services.backend.customer(code) if code else None
    if customer is None:
        return None
    if field.prefill == "customer.name":
        return customer.name, customer.name
    if field.prefill in ("customer.phone", "user.phone") and customer.phones:
        return customer.phones[0], _shown_phone(customer.phones[0])
    if field.prefill == "customer.email" and customer.email:
        return customer.email, customer.email
    if field.prefill == "customer.address" and customer.ward_code is not None:
        value = {
            "line": customer.address,
            "ward_code": customer.ward_code,
            "ward": customer.ward_name,
            "province_code": customer.province_code,
            "province": customer.province_name,
        }
        return value, customer.full_address
    return None


def _shown_phone(phone: str) -> str:
    return shown_phone(phone)


def register(router: Router) -> None:
    forms = default_forms()
    runner = FormRunner(forms, prefill)

    def title(ctx: Context, form_id: str) -> str:
        return forms[form_id].title.get(ctx.lang) or forms[form_id].title["vi"]

    @router.before
    async def drop_old_draft(ctx: Context) -> None:
        draft = draft_of(ctx)
        if draft is not None and ended_by_logout(draft, ctx.user):
            runner.drop(ctx)  # silently: whoever is here now may not be its author
            return
        if draft is not None and expired(draft, ctx.now()):
            runner.drop(ctx)
            ctx.notices.append(
                Reply(text=ctx.t("services.draft_expired", title=title(ctx, draft["id"])))
            )

    # --- the tab --------------------------------------------------------------------------

    @router.command("/services", "dich vu")
    @router.button("services")
    async def services(ctx: Context) -> list[Reply]:
        buttons = [
            Button(ctx.t(f"services.{group}"), payload=f"svc_group:{group}") for group in GROUPS
        ]
        buttons.append(Button(ctx.t("services.progress"), payload="req_list"))
        draft = draft_of(ctx)
        if draft is not None:
            buttons.insert(
                0,
                Button(
                    ctx.t("services.continue_draft", title=title(ctx, draft["id"])[:40]),
                    payload="form:resume",
                ),
            )
        return [
            Reply(
                text=ctx.t("services.menu"),
                buttons=(*rows(*buttons, per_row=1), (home_button(ctx),)),
            )
        ]

    @router.button("svc_group")
    async def group(ctx: Context) -> list[Reply]:
        if ctx.arg not in GROUPS:
            return await services(ctx)
        choices = [
            Button(title(ctx, form_id), payload=f"svc:{form_id}")
            for form_id, form in forms.items()
            if form.group == ctx.arg
        ]
        return [
            Reply(
                text=ctx.t("services.group_title"),
                buttons=(*rows(*choices, per_row=1), (back_button(ctx), home_button(ctx))),
            )
        ]

    @router.button("svc")
    async def start(ctx: Context) -> list[Reply]:
        form_id = ctx.arg or ""
        if form_id == "svc_new_connection":  # the NLU's intent for both new connections
            ctx.arg = "new_connection"
            return await group(ctx)
        if form_id not in forms:
            return await services(ctx)
        if (stop := gate(ctx, f"svc:{form_id}")) is not None:
            return stop
        draft = draft_of(ctx)
        if draft is not None and draft["id"] == form_id:
            return await runner.resume(ctx)
        if draft is not None:
            go_on = Button(ctx.t("form.cancel_no"), payload="form:resume")
            fresh = Button(ctx.t("services.start_new"), payload=f"svc_new:{form_id}")
            return [
                Reply(
                    text=ctx.t("services.other_draft", title=title(ctx, draft["id"])),
                    buttons=((go_on,), (fresh,), (home_button(ctx),)),
                )
            ]
        return await runner.start(ctx, form_id)

    @router.button("svc_new")
    async def start_over(ctx: Context) -> list[Reply]:
        if ctx.arg not in forms:
            return await services(ctx)
        runner.drop(ctx)
        return await start(ctx)

    # --- inside a form ------------------------------------------------------------------------

    @router.step(STEP_FORM)
    async def answered(ctx: Context) -> list[Reply]:
        draft = draft_of(ctx)
        if draft is None:
            ctx.state.pop(STATE_AWAITING, None)
            return await services(ctx)
        if (other := await elsewhere(ctx)) is not None:
            return other
        if draft.get("index", -1) >= len(forms[draft["id"]].fields):
            return runner.summary(ctx)  # every question answered: the summary's buttons
        if draft.get("index", -1) < 0:
            return await runner.resume(ctx)  # nothing asked yet: the first question
        before = dict(draft["answers"])
        replies = await runner.answer(ctx)
        return await _with_outage_check(ctx, before, replies)

    async def elsewhere(ctx: Context) -> list[Reply] | None:
        """A question asked in the middle of a form ("mất điện rồi", "hóa đơn tháng 9"):
        answer it, then offer to go on where the customer stopped."""
        from bot.handlers.freetext import INTENT_FLOWS

        draft, text = draft_of(ctx), ctx.incoming.text or ""
        if draft is None or not text or draft["index"] >= len(forms[draft["id"]].fields):
            return None
        field = forms[draft["id"]].fields[draft["index"]]
        # Free text is an answer to a text or address question; elsewhere only what the
        # question cannot take is a candidate for another flow.
        if field.type in ("text", "address", "photos", "location") or runner.accepts(ctx, text):
            return None
        parse = ctx.services.understanding.parse(text)
        if parse is None or parse.confidence < CONFIDENT or parse.intent not in INTENT_FLOWS:
            return None
        name, _, arg = INTENT_FLOWS[parse.intent].partition(":")
        if arg == draft["id"]:
            return None
        ctx.state.pop(STATE_AWAITING, None)
        ctx.arg, ctx.parse = arg or None, parse
        answer = await router.button_handler(name)(ctx)
        step = sum(
            1
            for f in forms[draft["id"]].fields[: draft["index"] + 1]
            if f.shown(draft["answers"]) or f is field
        )
        total = sum(1 for f in forms[draft["id"]].fields if f.shown(draft["answers"]))
        go_on = Button(ctx.t("form.cancel_no"), payload="form:resume")
        offer = Reply(
            text=ctx.t(
                "services.continue_after",
                title=title(ctx, draft["id"]),
                step=step,
                total=max(total, step),
            ),
            buttons=((go_on, Button(ctx.t("form.cancel"), payload="form:cancel")),),
        )
        return [*answer, offer]

    @router.button("form")
    async def form_button(ctx: Context) -> list[Reply]:
        draft = draft_of(ctx)
        action, _, arg = (ctx.arg or "").partition(":")
        if draft is None:
            return await services(ctx)
        before = dict(draft["answers"])
        at_summary = draft.get("index", -1) >= len(forms[draft["id"]].fields)
        if action == "resume":
            replies = await runner.resume(ctx)
        elif action == "cancel":
            yes = Button(ctx.t("form.cancel_yes"), payload="form:cancel_ok")
            no = Button(ctx.t("form.cancel_no"), payload="form:resume")
            return [
                Reply(
                    text=ctx.t("form.confirm_cancel", title=title(ctx, draft["id"])),
                    buttons=((yes, no),),
                )
            ]
        elif action == "cancel_ok":
            runner.drop(ctx)
            return [main_menu(ctx, ctx.t("form.cancelled", title=title(ctx, draft["id"])))]
        elif action == "submit" and at_summary:
            return await submit(ctx)
        elif action == "edit" and at_summary and (index := id_arg(arg)) is not None:
            # Only from the summary: a forged edit mid-form must not skip to the end.
            replies = await runner.edit(ctx, index)
        elif at_summary:
            replies = runner.summary(ctx)
        elif draft.get("index", -1) < 0:  # nothing asked yet: no answer to take
            replies = await runner.resume(ctx)
        elif action == "back":
            back = await runner.back(ctx)
            if back is None:
                ctx.arg = "cancel"
                return await form_button(ctx)
            replies = back
        elif action in ("pick", "toggle", "done", "keep", "retype", "skip"):
            handler = {"pick": runner.pick, "toggle": runner.toggle}.get(action)
            if handler is not None:
                replies = await handler(ctx, arg)
            else:
                replies = await getattr(runner, action)(ctx)
        else:
            replies = await runner.resume(ctx)
        return await _with_outage_check(ctx, before, replies)

    # --- the outage report knows about outages already announced ---------------------------

    async def _with_outage_check(
        ctx: Context, before: dict[str, Any], replies: list[Reply]
    ) -> list[Reply]:
        draft = draft_of(ctx)
        if draft is None or draft["id"] != "report_outage":
            return replies
        form = forms[draft["id"]]
        for field in form.fields:
            if (
                field.type in WHERE_TYPES
                and field.name in draft["answers"]
                and field.name not in before
            ):
                known = await known_outage(ctx, draft["answers"][field.name], field.type)
                if known is not None:
                    return [known, *replies]
        return replies

    async def known_outage(ctx: Context, where: Any, kind: str) -> Reply | None:
        backend = ctx.services.backend
        province = ward = None
        area = ""
        if kind == "customer_code":
            customer = await backend.customer(str(where))
            if customer is not None:
                province, ward, area = (
                    customer.province_code,
                    customer.ward_code,
                    customer.ward_name,
                )
        elif kind == "address":
            province, ward, area = where["province_code"], where["ward_code"], where["ward"]
        elif kind == "location":
            # No ward boundaries here: the ward of the nearest payment point stands in.
            near = await backend.payment_points_near(where["lat"], where["lon"], limit=1)
            if near:
                province, ward, area = near[0].province_code, near[0].ward_code, near[0].ward_name
        if province is None:
            return None
        now = ctx.now()
        found = await backend.outages(
            province, ward, now - timedelta(hours=1), now + timedelta(hours=1)
        )
        current = [o for o in found if o.start_at <= now <= o.end_at]
        if not current:
            return None
        outage = current[0]
        area_text = area[:1].lower() + area[1:]
        key = "services.incident_known" if outage.kind == "incident" else "services.outage_known"
        return Reply(
            text=ctx.t(
                key,
                area=area_text,
                start=clock(outage.start_at),
                end=clock(outage.end_at),
                day=day(outage.end_at),
                reason=outage.reason,
            )
        )

    # --- submitting -------------------------------------------------------------------------------

    async def submit(ctx: Context) -> list[Reply]:
        draft = draft_of(ctx)
        assert draft is not None
        form = forms[draft["id"]]
        answers = runner.visible_answers(draft)
        codes = [
            v for f in form.fields if f.type == "customer_code" for v in [answers.get(f.name)] if v
        ]
        if any(code not in ctx.user.customer_codes for code in codes):
            runner.drop(ctx)
            return [Reply(text=ctx.t("account.not_yours"), buttons=((home_button(ctx),),))]
        if (stop := gate(ctx, "form:submit")) is not None:
            return stop
        photos = [
            {"type": "photo", "media": media, "field": f.name}
            for f in form.fields
            if f.type == "photos"
            for media in answers.get(f.name, [])
        ]
        display = {f.name: draft["display"].get(f.name) for f in form.fields if f.name in answers}
        labels = {f.name: f.label("vi") for f in form.fields if f.name in answers}
        now = ctx.now()
        request = await store.create_request(
            ctx.session,
            chat_user_id=ctx.user.id,
            form_id=form.id,
            customer_code=codes[0] if codes else None,
            data={
                "answers": answers,
                "display": display,
                "labels": labels,
                "title": form.title["vi"],
            },
            attachments=photos,
            urgent=form.urgent,
            now=now,
        )
        runner.drop(ctx)
        unit = ctx.t("services.any_unit")
        if codes and (customer := await ctx.services.backend.customer(codes[0])) is not None:
            unit = customer.unit_name
        progress = Button(ctx.t("services.progress"), payload=f"req:{request.code}")
        buttons = ((progress,), (home_button(ctx),))
        if form.urgent:
            phone = next(
                (v for f in form.fields if f.type == "phone" for v in [answers.get(f.name)] if v),
                ctx.user.verified_phone or "",
            )
            text = ctx.t(
                "services.received_urgent",
                code=request.code,
                unit=unit,
                hours=form.commitment.get("hours", 2),
                phone=_shown_phone(phone),
            )
            return [Reply(text=text, buttons=buttons)]
        days, deadline = runner.deadline(form, answers, local(now).date())
        text = ctx.t(
            "services.received", code=request.code, unit=unit, deadline=day(deadline), days=days
        )
        return [Reply(text=text, buttons=buttons)]

    # --- progress ("Tra cứu tiến độ") -----------------------------------------------------------

    @router.command("/requests", "tra cuu tien do", "tien do")
    @router.button("req_list")
    async def my_requests(ctx: Context) -> list[Reply]:
        if (stop := gate(ctx, "req_list")) is not None:
            return stop
        found = await store.list_requests(ctx.session, chat_user_id=ctx.user.id, limit=10)
        if not found:
            return [
                Reply(text=ctx.t("requests.none"), buttons=((back_button(ctx), home_button(ctx)),))
            ]
        lines = [ctx.t("requests.list_title")]
        buttons = []
        for request in found:
            name = title(ctx, request.type) if request.type in forms else request.type
            lines.append(
                ctx.t(
                    "requests.line",
                    code=request.code,
                    title=name,
                    status=ctx.t(f"status.{request.status}"),
                    date=day(request.created_at),
                )
            )
            buttons.append(Button(request.code, payload=f"req:{request.code}"))
        return [
            Reply(
                text="\n".join(lines),
                buttons=(*rows(*buttons), (back_button(ctx), home_button(ctx))),
            )
        ]

    async def own_request(ctx: Context, code: str) -> Any:
        request = await store.get_request(ctx.session, code)
        return request if request is not None and request.chat_user_id == ctx.user.id else None

    async def opened(ctx: Context, action: str) -> tuple[Any, list[Reply] | None]:
        """The customer's own request named by the button, or what to answer instead
        (log in first, or "not one of yours")."""
        if (stop := gate(ctx, f"{action}:{ctx.arg or ''}")) is not None:
            return None, stop
        request = await own_request(ctx, ctx.arg or "")
        if request is None:
            return None, [Reply(text=ctx.t("requests.not_yours"), buttons=((home_button(ctx),),))]
        return request, None

    @router.button("req")
    async def one_request(ctx: Context) -> list[Reply]:
        request, refusal = await opened(ctx, "req")
        if refusal is not None:
            return refusal
        name = title(ctx, request.type) if request.type in forms else request.type
        lines = [
            ctx.t(
                "requests.detail",
                code=request.code,
                title=name,
                date=day(request.created_at),
                status=ctx.t(f"status.{request.status}"),
            )
        ]
        for event in request.events:
            key = "requests.event_note" if event.note else "requests.event"
            lines.append(
                ctx.t(
                    key,
                    date=day(event.created_at),
                    time=clock(event.created_at),
                    status=ctx.t(f"status.{event.status}"),
                    note=event.note or "",
                )
            )
        buttons: list[tuple[Button, ...]] = []
        if request.status == "needs_info":
            buttons.append(
                (Button(ctx.t("requests.send_info"), payload=f"req_info:{request.code}"),)
            )
        buttons.append((Button(ctx.t("services.progress"), payload="req_list"), home_button(ctx)))
        return [Reply(text="\n".join(lines), buttons=tuple(buttons))]

    # --- answering "chờ bổ sung" -------------------------------------------------------------

    @router.button("req_info")
    async def send_info(ctx: Context) -> list[Reply]:
        request, refusal = await opened(ctx, "req_info")
        if refusal is not None:
            return refusal
        ctx.state[STATE_AWAITING] = {"step": STEP_INFO, "code": request.code}
        done = Button(ctx.t("form.done"), payload=f"req_info_done:{request.code}")
        return [
            Reply(
                text=ctx.t("requests.ask_info", code=request.code),
                buttons=((done,), (home_button(ctx),)),
            )
        ]

    @router.step(STEP_INFO)
    async def info_given(ctx: Context) -> list[Reply]:
        code = str((ctx.state.get(STATE_AWAITING) or {}).get("code", ""))
        request = await own_request(ctx, code)
        if request is None:
            ctx.state.pop(STATE_AWAITING, None)
            return [Reply(text=ctx.t("requests.not_yours"), buttons=((home_button(ctx),),))]
        store.add_customer_reply(
            request, text=ctx.incoming.text, media_ids=ctx.incoming_media, now=ctx.now()
        )
        done = Button(ctx.t("form.done"), payload=f"req_info_done:{code}")
        return [
            Reply(
                text=ctx.t("requests.info_received", code=code),
                buttons=((done,), (home_button(ctx),)),
            )
        ]

    @router.button("req_info_done")
    async def info_done(ctx: Context) -> list[Reply]:
        ctx.state.pop(STATE_AWAITING, None)
        request, refusal = await opened(ctx, "req_info_done")  # a forged code is no code
        if refusal is not None:
            return refusal
        code = request.code
        return [
            Reply(
                text=ctx.t("requests.info_done", code=code),
                buttons=(
                    (Button(ctx.t("services.progress"), payload=f"req:{code}"),),
                    (home_button(ctx),),
                ),
            )
        ]
