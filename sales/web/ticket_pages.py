"""Storefront pages that follow a purchase: the ticket's place in the queue (a page that
refreshes itself, and its JSON for the page's script) and a draw's results."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from core.errors import DomainError, ErrorCode, envelope
from core.sentences import ticket_reason, when
from sales import selectors, services
from sales.models import SaleMode
from shop.web import LOGIN_URL, not_found_page


def _ticket_context(found) -> dict:
    order_url = reverse("web-order", args=[found.order]) if found.order else None
    return {"ticket": found.ticket, "status": found.status, "position": found.position,
            "order_url": order_url,
            "reason": ticket_reason(found.reason) if found.status == "rejected" else "",
            "blocked": found.reason == "risk_blocked"}


@never_cache
@login_required(login_url=LOGIN_URL)
def ticket_page(request: HttpRequest, ticket: str) -> HttpResponse:
    """Where the purchase stands; refreshes itself while queued (meta refresh without JS)."""
    try:
        found = services.ticket_resolve(ticket=ticket, user_id=request.user.id)
    except DomainError:
        return not_found_page(request, "ticket")
    return render(request, "sales/ticket.html", _ticket_context(found))


@never_cache
def ticket_state(request: HttpRequest, ticket: str) -> JsonResponse:
    if not request.user.is_authenticated:
        return envelope(ErrorCode.UNAUTHENTICATED, "Log in to follow this ticket.", 401)
    try:
        found = services.ticket_resolve(ticket=ticket, user_id=request.user.id)
    except DomainError:
        return envelope(ErrorCode.NOT_FOUND, "No such ticket.", 404)
    context = _ticket_context(found)
    return JsonResponse({key: context[key] for key in
                         ("ticket", "status", "position", "order_url", "reason")})


@never_cache
@login_required(login_url=LOGIN_URL)
def draw_page(request: HttpRequest, sale_id: int) -> HttpResponse:
    try:
        sale = selectors.sale_get(sale_id=sale_id)
    except DomainError:
        return not_found_page(request, "sale")
    if sale.mode != SaleMode.DRAW:
        return render(request, "sales/draw.html", {"sale": sale, "is_draw": False})
    result = selectors.draw_result(sale_id=sale_id, user_id=request.user.id)
    expires = result["right_expires_at"]
    return render(request, "sales/draw.html", {
        "sale": sale, **result, "right_expires": when(expires) if expires else "",
        "is_draw": True})
