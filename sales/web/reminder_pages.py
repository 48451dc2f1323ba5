"""The storefront's "remind me" (提醒我) button on an upcoming sale's card and page.

A plain form (a POST with its CSRF token) that states what the shopper wants, `remind=on` or
`off`, so pressing twice is harmless, and comes back to the page it was on (`next`, only
ever a path of this site). live.js sends the same form with `Accept: application/json` and
swaps the button for the answer's `html`, without leaving the page.

The pages every anonymous shopper shares (cached once per language, `sale_pages`) never hold
a shopper's reminder: they carry a link to log in instead, and the button's state is drawn
only into the pages rendered for one logged-in shopper (never cached).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from core.errors import DomainError, ErrorCode, envelope
from core.sentences import sentence_for
from sales import selectors, services
from shop.web import error_page, not_found_page


def _back(request: HttpRequest, sale_id: int) -> str:
    """The page the form was on, if it is one of ours (a path, never another site); else
    the sale's page."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("web-sale", args=[sale_id])


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def _refused(request: HttpRequest, error: DomainError, back: str) -> HttpResponse:
    if _wants_json(request):
        response = envelope(error.code, sentence_for(error), error.status, error.details)
    elif error.code == ErrorCode.NOT_FOUND and "customer" in error.message:
        response = not_found_page(request, "customer profile")
    elif error.code == ErrorCode.NOT_FOUND:
        response = not_found_page(request, "sale")
    else:
        response = error_page(request, error, title=_("Not this time"), back=back)
    add_never_cache_headers(response)
    return response


@require_POST
@ratelimit(key="user_or_ip", rate=lambda group, request: settings.RATE_RESERVATION,
           method="POST", block=False)
def remind(request: HttpRequest, sale_id: int) -> HttpResponse:
    """Set (`remind=on`, the default) or cancel (`remind=off`) this shopper's reminder."""
    back = _back(request, sale_id)
    if not request.user.is_authenticated:
        if _wants_json(request):
            return envelope(ErrorCode.UNAUTHENTICATED, _("Please log in to continue."), 401)
        messages.info(request, _("Log in first, then press remind me again."))
        return redirect(f"{reverse('web-login')}?{urlencode({'next': back})}")
    if getattr(request, "limited", False):
        return _refused(request, DomainError(ErrorCode.RATE_LIMITED, "", details={
            "retry_after": settings.RATELIMIT_RETRY_AFTER}), back)
    wanted = request.POST.get("remind", "on") != "off"
    try:
        if wanted:
            services.reminder_set(sale_id=sale_id, user_id=request.user.id,
                                  language=getattr(request, "LANGUAGE_CODE", ""))
        else:
            services.reminder_cancel(sale_id=sale_id, user_id=request.user.id)
    except DomainError as error:
        return _refused(request, error, back)
    if _wants_json(request):
        html = render_to_string("sales/_remind.html", {
            "sale": {"pk": sale_id}, "is_set": wanted, "here": back}, request=request)
        response = JsonResponse({"reminded": wanted, "html": html})
        add_never_cache_headers(response)
        return response
    messages.success(request, _set_message(sale_id, request.user.id) if wanted
                     else _("Reminder cancelled."))
    return redirect(back)


def _set_message(sale_id: int, user_id: int) -> str:
    """What setting a reminder promises, by where it stands: a text already sent for this
    opening is not sent again (so it is not promised), and inside the lead the text goes out
    within the sender's next round, not "minutes before"."""
    reminder = selectors.reminder_of(sale_id=sale_id, user_id=user_id)
    lead = timedelta(seconds=settings.REMINDER_LEAD_SECONDS)
    minutes = max(1, settings.REMINDER_LEAD_SECONDS // 60)
    # `sent_at` is this opening's text: one sent for an opening the sale has since left (it
    # moved) is sent again at the new time, so it is promised like one never sent.
    if reminder["sent_at"] is not None:
        opens = timezone.localtime(reminder["remind_at"] + lead)
        return _("Reminder set. We already texted you about this sale at %(sent)s; it opens "
                 "at %(opens)s.") % {
            "sent": f"{timezone.localtime(reminder['sent_at']):%H:%M}", "opens": f"{opens:%H:%M}"}
    if timezone.now() >= reminder["remind_at"]:
        return _("Reminder set: the sale opens in under %(minutes)d minutes, so we will text "
                 "you in a moment.") % {"minutes": minutes}
    return _("Reminder set: we will text you %(minutes)d minutes before the sale "
             "opens.") % {"minutes": minutes}
