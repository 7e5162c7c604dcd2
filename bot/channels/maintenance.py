"""The page a customer sees when a page of ours fails: "under maintenance" (503) while
the database is down, a plain apology (500) otherwise, in Vietnamese with English
below, the hotline as a link. Self-contained (no script, no external file: the
server that would serve them may be the one in trouble) and never cached (issue 12).
"""

from __future__ import annotations

import base64
import hashlib
import html

from aiohttp import web

from bot.core.texts import Texts

# Seconds a browser or a proxy is asked to wait before trying again (Retry-After).
RETRY_AFTER_SECONDS = 60

_STYLE = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
    "padding:2rem 1rem;color:#1f2933;background:#f5f7fa;line-height:1.5}"
    "main{max-width:32rem;margin:0 auto;background:#fff;border-radius:12px;"
    "padding:1.5rem;box-shadow:0 1px 4px rgba(0,0,0,.08)}"
    "h1{font-size:1.3rem;margin:0 0 .75rem}p{margin:.5rem 0}.en{color:#52606d}"
    "a{color:#0b5cad;font-weight:600;white-space:nowrap}"
)
# The one inline style is allowed by its hash; nothing else may load or run.
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_POLICY = f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; frame-ancestors 'self'"


def error_page(texts: Texts, hotline: str, *, maintenance: bool) -> web.Response:
    """503 "under maintenance" (`maintenance`: the database is down), else 500."""
    key = "maintenance.body" if maintenance else "maintenance.error_body"
    title = texts.get("maintenance.title", "vi")
    vi, en = (
        _with_call_link(texts.get(key, lang, hotline=hotline), hotline) for lang in ("vi", "en")
    )
    body = f'<p>{vi}</p><p lang="en" class="en">{en}</p>'
    page = (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    response = web.Response(
        text=page, status=503 if maintenance else 500, content_type="text/html", charset="utf-8"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = _POLICY
    if maintenance:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _with_call_link(text: str, hotline: str) -> str:
    """`text` escaped, the hotline in it a tel: link (one tap on a phone)."""
    number = "".join(ch for ch in hotline if ch.isdigit() or ch == "+")
    link = f'<a href="tel:{html.escape(number)}">{html.escape(hotline)}</a>'
    return html.escape(text).replace(html.escape(hotline), link, 1)
