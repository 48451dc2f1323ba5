"""Storefront pages of flash sales: the list, the sale page and its live state, reserve and
buy (with an optional F-code). What follows a purchase (the ticket, draw results) is in
`sales.web.ticket_pages`; the blocked shopper's page and the appeal form in
`sales.web.appeal_pages`.

Buying goes through `services.purchase_admit`, the gate of the API: no second path to stock.
Under the rush the sale page is cheap: anonymous shoppers get a shared copy rendered at most
every CACHE_SECONDS (no SQL on a hit), and the live state comes from `live.json` (no per-user
data, one SQL row and one Redis MGET, cacheable for a second).
"""

from __future__ import annotations

import re
import time
import uuid
from functools import partial

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.http import urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.decorators import ratelimit

from core.errors import DomainError, ErrorCode, envelope
from core.http import client_ip_of, client_of, device_of
from core.language import page_words
from core.sentences import when
from sales import selectors, services
from sales.api.serializers import purchase_input
from sales.gate.admission import Purchase
from sales.gate.keys import epoch_ms
from sales.models import Reservation, SaleMode, SaleStatus
from sales.modes import reservations
from sales.web.appeal_pages import blocked_page
from shop.selectors import address_list, sale_holding
from shop.web import error_page, not_found_page

CACHE_SECONDS = 2
LIVE_MAX_AGE = 1


def _surely_anonymous(request: HttpRequest) -> bool:
    """No session cookie: anonymous without touching the session store (no SQL)."""
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return True
    return not request.user.is_authenticated


def _shared_page(key: str, build, path: str) -> HttpResponse:
    """A page every anonymous shopper sees alike, rendered once per CACHE_SECONDS and
    language; `path` is where its language switch comes back to (never the request's query:
    one shopper's query must not end up in everyone's copy)."""
    key = f"{key}:{get_language()}"  # one copy per language
    html = cache.get(key)
    if html is None:
        template, context = build()
        html = render_to_string(template, {**context, "shared": True, **page_words(path)})
        cache.set(key, html, CACHE_SECONDS)
    response = HttpResponse(html)
    patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
    return response


def _private(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    return response


# ---- the sale list and the sale page --------------------------------------------------------

LIST_PAGE = 50
_PAGE = re.compile(r"[1-9][0-9]{0,5}")


def _page_of(request: HttpRequest) -> int:
    """?page=N (ASCII, 1 to 999999); anything else is the first page."""
    raw = request.GET.get("page", "")
    return int(raw) if _PAGE.fullmatch(raw) else 1


def _list_context(page: int = 1) -> tuple[str, dict]:
    """One page of the sales that have not ended (LIST_PAGE of them, soonest first), and on
    the first page the ten that ended last: a live sale is never pushed off by past ones."""
    now = timezone.now()
    current = selectors.sale_list_current(now=now)
    window = list(current[(page - 1) * LIST_PAGE:page * LIST_PAGE + 1])
    more = len(window) > LIST_PAGE
    ended = list(selectors.sale_list_ended(now=now)[:10]) if page == 1 else []
    rows = selectors.sale_rows(window[:LIST_PAGE] + ended)
    groups = {status: [] for status in SaleStatus.values}
    for sale, left, status in rows:
        groups[status].append({"sale": sale, "left": left, "status": status,
                               "starts": when(sale.starts_at),
                               "starts_ms": epoch_ms(sale.starts_at),
                               "ends_ms": epoch_ms(sale.ends_at)})
    return "sales/sale_list.html", {
        "live": groups[SaleStatus.LIVE], "upcoming": groups[SaleStatus.SCHEDULED],
        "sold_out": groups[SaleStatus.SOLD_OUT], "ended": groups[SaleStatus.ENDED],
        "page": page, "next_page": page + 1 if more else None,
        "server_ms": int(time.time() * 1000),
        "previous_page": page - 1 if page > 1 else None,
    }


@require_GET
def sale_list(request: HttpRequest) -> HttpResponse:
    page = _page_of(request)
    if _surely_anonymous(request):
        return _shared_page(f"web:sales:{page}", partial(_list_context, page),
                            request.path + (f"?page={page}" if page > 1 else ""))
    template, context = _list_context(page)
    # The shopper's own reminders, only in this page of theirs (the shared copy has none).
    context["reminded"] = selectors.reminded_sale_ids(
        user_id=request.user.id, sale_ids=[row["sale"].pk for row in context["upcoming"]])
    return _private(render(request, template, context))


def _sale_context(sale) -> dict:
    left = selectors.stock_left_map([sale])[sale.pk]
    status = sale.status_at(timezone.now(), left)
    balance = sale.balance_per_unit
    return {
        "sale": sale, "product": sale.sku.product, "left": left, "status": status,
        "starts": when(sale.starts_at), "ends": when(sale.ends_at),
        "starts_ms": epoch_ms(sale.starts_at), "ends_ms": epoch_ms(sale.ends_at),
        "server_ms": int(time.time() * 1000),
        "needs_reservation": sale.needs_reservation, "is_draw": sale.mode == SaleMode.DRAW,
        "is_deposit": sale.mode == SaleMode.DEPOSIT, "balance": balance,
        "deposit_counts": sale.deposit_counts,
        "reservation_opens": when(sale.reservation_opens_at) if sale.reservation_opens_at
        else "", "reservation_closes": when(sale.reservation_closes_at)
        if sale.reservation_closes_at else "",
        "balance_opens": when(sale.balance_opens_at) if sale.balance_opens_at else "",
        "balance_closes": when(sale.balance_closes_at) if sale.balance_closes_at else "",
        "quantities": range(1, sale.per_user_limit + 1),
    }


@require_GET
def sale_page(request: HttpRequest, sale_id: int) -> HttpResponse:
    """The product, price, stock state and countdown; the forms for logged-in shoppers."""
    def build() -> tuple[str, dict]:
        return "sales/sale.html", _sale_context(selectors.sale_get(sale_id=sale_id))

    try:
        if _surely_anonymous(request):
            return _shared_page(f"web:sale:{sale_id}", build, request.path)
        template, context = build()
    except DomainError:
        return not_found_page(request, "sale")
    sale, user_id = context["sale"], request.user.id
    held, units = sale_holding(user_id=user_id, sale_id=sale.pk)
    context.update(
        reserved=Reservation.objects.filter(sale=sale, user_id=user_id).exists(),
        addresses=list(address_list(user_id=user_id)),
        buy_key=str(uuid.uuid4()),
        held=held, bought_all=held is not None and units >= sale.per_user_limit,
        reminded=sale.pk in selectors.reminded_sale_ids(user_id=user_id, sale_ids=[sale.pk])
        if context["status"] == SaleStatus.SCHEDULED else False,
    )
    return _private(render(request, template, context))


_live_memo: dict[int, tuple[float, object, int]] = {}  # sale -> (until, sale, stock left)
LIVE_MEMO_SECONDS = 0.5
LIVE_MEMO_MAX = 10_000  # sales at once; past it the memo starts again


def _live(sale_id: int):
    """The sale and its stock left, kept in this process for half a second: every shopper's
    countdown polls this, and the answer is the same for all of them."""
    hit = _live_memo.get(sale_id)
    if hit and hit[0] > time.monotonic():
        return hit[1], hit[2]
    sale = selectors.sale_list().filter(pk=sale_id).first()
    if sale is None:
        return None, 0  # not kept: polling made-up ids must not grow the memo
    left = selectors.stock_left_map([sale])[sale.pk]
    if len(_live_memo) >= LIVE_MEMO_MAX:
        _live_memo.clear()
    _live_memo[sale_id] = (time.monotonic() + LIVE_MEMO_SECONDS, sale, left)
    return sale, left


@require_GET
def live_state(request: HttpRequest, sale_id: int) -> JsonResponse:
    """The sale's live state and the server's clock: what the countdown and the buy button
    need. The same for everyone, so browsers and proxies may keep it for a second."""
    return live_response(sale_id)


def live_response(sale_id: int) -> JsonResponse:
    """live_state's answer, which needs nothing from the request (the rush path serves it
    too, `sales.rush`)."""
    sale, left = _live(sale_id)
    if sale is None:
        return envelope(ErrorCode.NOT_FOUND, "No such sale.", 404)
    now = timezone.now()  # the clock is always fresh; only the sale's state is memoised
    response = JsonResponse({
        "server_time": now.isoformat(), "server_ms": epoch_ms(now),
        "status": sale.status_at(now, left), "stock_left": left,
        "starts_at": sale.starts_at.isoformat(), "ends_at": sale.ends_at.isoformat(),
    })
    patch_cache_control(response, public=True, max_age=LIVE_MAX_AGE)
    return response


# ---- reserve and buy --------------------------------------------------------------------

def _login_first(request: HttpRequest, sale_id: int) -> HttpResponse:
    messages.info(request, _("Log in first; you will come back to the sale."))
    back = reverse("web-sale", args=[sale_id])
    return redirect(f"{reverse('web-login')}?{urlencode({'next': back})}")


def _refused(request: HttpRequest, error: DomainError, sale_id: int) -> HttpResponse:
    if error.code == "blocked":
        return blocked_page(request, status=403)
    if error.code == "not_found":
        return not_found_page(request, "sale")
    return error_page(request, error, title=_("Not this time"),
                      back=reverse("web-sale", args=[sale_id]))


def _limited(request: HttpRequest, sale_id: int) -> HttpResponse:
    return _refused(request, DomainError("rate_limited", "", details={
        "retry_after": settings.RATELIMIT_RETRY_AFTER}), sale_id)


@require_POST
@ratelimit(key="user_or_ip", rate=lambda group, request: settings.RATE_RESERVATION,
           method="POST", block=False)
def reserve(request: HttpRequest, sale_id: int) -> HttpResponse:
    """Reserve (or, in a draw, enter the draw); idempotent."""
    if not request.user.is_authenticated:
        return _login_first(request, sale_id)
    if getattr(request, "limited", False):
        return _limited(request, sale_id)
    try:
        sale = selectors.sale_get(sale_id=sale_id)
        _reservation, created = reservations.reservation_create(
            sale_id=sale_id, user_id=request.user.id, device=device_of(request, cookie=True),
            ip=client_ip_of(request), client=client_of(request))
    except DomainError as error:
        return _refused(request, error, sale_id)
    if sale.mode == SaleMode.DRAW:
        text = _("You are in the draw.") if created else _("You had already entered this draw.")
    else:
        text = (_("Reserved: you may buy when the sale opens.") if created
                else _("You had already reserved this sale."))
    messages.success(request, text)
    return redirect("web-sale", sale_id=sale_id)


def _form_int(value: str) -> str | None:
    value = (value or "").strip()
    return value or None


@require_POST
def buy(request: HttpRequest, sale_id: int) -> HttpResponse:
    """Press buy: the gate admits (a ticket to follow) or refuses (a sentence)."""
    if not request.user.is_authenticated:
        return _login_first(request, sale_id)
    form = {"quantity": _form_int(request.POST.get("quantity", "")) or "1"}
    if address := _form_int(request.POST.get("address_id", "")):
        form["address_id"] = address
    if fcode := request.POST.get("fcode", "").strip():
        form["fcode"] = fcode
    try:
        data = purchase_input(form)
        admission = services.purchase_admit(purchase=Purchase.of_request(
            request, sale_id=sale_id, user_id=request.user.id, data=data,
            idempotency_key=request.POST.get("key", "").strip()[:64] or None,
            device=device_of(request, cookie=True)))
    except DomainError as error:
        return _refused(request, error, sale_id)
    return redirect("web-ticket", ticket=admission.ticket)
