"""The blocked shopper's page (what they may know of why, and how to appeal) and the appeal
form. The sale pages show it when the gate answers `blocked`."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django_ratelimit.decorators import ratelimit

from antiscalper import appeals
from antiscalper.models import Appeal, Kind
from antiscalper.selectors import appeal_list, block_reasons
from core.errors import DomainError
from core.http import client_ip_of, device_of
from core.sentences import APPEAL_HOW, sentence_for
from shop.web import LOGIN_URL

# The form checks the message's length itself, to word the refusal for the page.
APPEAL_MAX = appeals.MAX_MESSAGE


def _why_blocked(request: HttpRequest) -> list[str]:
    """What the shopper may know of why they are blocked, or a general sentence."""
    reasons = block_reasons(user_id=request.user.id, device=device_of(request, cookie=True),
                            ip=client_ip_of(request))
    return reasons or [_("Our anti-scalper checks linked this account to activity that looks "
                         "like scalping.")]


def blocked_page(request: HttpRequest, *, status: int = 200, error: str = "") -> HttpResponse:
    """Why, in plain words, and the appeal: its status once sent (no second form while a
    person has it), else the form; earlier answers by their outcome, never ops' notes."""
    appeals = list(appeal_list(user_id=request.user.id)[:5])
    # The form appeals for the account: only an open appeal of the account replaces it (one
    # for a phone number or a device is listed, and the account may still appeal).
    waiting = next((a for a in appeals if a.status == Appeal.Status.OPEN
                    and a.kind == Kind.ACCOUNT), None)
    context = {"reasons": _why_blocked(request), "how": APPEAL_HOW, "error": error,
               "waiting": waiting, "answered": [a for a in appeals if a is not waiting],
               "sentence": sentence_for(DomainError("blocked", ""))}
    return render(request, "sales/blocked.html", context, status=status)


@never_cache
@login_required(login_url=LOGIN_URL)
@ratelimit(key="user_or_ip", group="appeals", rate=lambda group, request: settings.RATE_APPEAL,
           method="POST", block=False)
def appeal(request: HttpRequest) -> HttpResponse:
    """GET: why this account is blocked and how to appeal. POST: send the appeal (counted
    with the API's appeals, one limit per account)."""
    if request.method != "POST":
        return blocked_page(request)
    if getattr(request, "limited", False):
        return blocked_page(request, status=429, error=sentence_for(DomainError(
            "rate_limited", "", details={"retry_after": settings.RATELIMIT_RETRY_AFTER})))
    message = request.POST.get("message", "").strip()
    retry = _("Please write a few words (up to 2000 characters) about why the block is a "
              "mistake.")
    if not 1 <= len(message) <= APPEAL_MAX:  # checked here too: see the module's note
        return blocked_page(request, status=400, error=retry)
    try:
        _appeal, created = appeals.appeal_submit(
            user_id=request.user.id, message=message,
            device=device_of(request, cookie=True), ip=client_ip_of(request))
    except DomainError as error:
        return blocked_page(request, status=error.status, error=sentence_for(error))
    messages.success(request, _("Your appeal was sent. A person will review it; you can buy "
                                "again as soon as the block is lifted.") if created else
                     _("Your appeal is already with us and waiting for review."))
    return redirect("web-appeal")
