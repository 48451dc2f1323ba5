"""Which language a request is answered in (issue 18: Simplified Chinese by default, English
by choice).

- The storefront speaks Simplified Chinese (`settings.STOREFRONT_LANGUAGE`) unless the
  shopper chose English with the switch in the header (`language_switch`, which keeps the
  choice in the language cookie). A browser's Accept-Language is not a choice: the store is
  a Chinese store, and a shopper on an English-language phone still expects it in Chinese
  until they switch.
- The API keeps its contract's words (docs/api.md): English, whatever the client's
  Accept-Language; clients read its error codes, and a shopper's page puts them in words.
- Django admin is the ops console: English unless the language cookie says otherwise.

Only the two languages of `settings.LANGUAGES` are ever activated; anything else in the
cookie falls back to the default of that part of the site.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import translation
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from core.error_handling import API_PREFIX

CHINESE, ENGLISH = "zh-hans", "en"
ADMIN_PREFIX = "/admin/"


def _supported(code: str | None) -> str | None:
    """One of our languages for a language tag (zh, zh-CN, zh-Hans -> zh-hans; en-US -> en)."""
    tag = (code or "").strip().lower().replace("_", "-")
    if tag.startswith("zh"):
        return None if tag in ("zh-hant", "zh-tw", "zh-hk", "zh-mo") else CHINESE
    if tag == "en" or tag.startswith("en-"):
        return ENGLISH
    return None


def chosen_language(request: HttpRequest) -> str:
    """The language the shopper chose with the switch (the cookie), as one of ours (en-US is
    English, zh-CN Chinese), or "" when none of ours was chosen."""
    return _supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)) or ""


def language_of(request: HttpRequest) -> str:
    """The language this request is answered in (see the module)."""
    chosen = _supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
    if request.path.startswith(API_PREFIX):
        return ENGLISH
    if request.path.startswith(ADMIN_PREFIX):
        return chosen or ENGLISH
    return chosen or _supported(settings.STOREFRONT_LANGUAGE) or CHINESE


class LanguageMiddleware:
    """Activate the request's language for everything below it (error pages included)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = language_of(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        try:
            response = self.get_response(request)
        finally:
            translation.deactivate()
        if response.get("Content-Type", "").startswith("text/html"):
            # A page's words follow the language cookie: a cache keeps one copy per cookie.
            # (JSON, the API's and the live state's, is the same in every language: its
            # headers stay those the rush path answers with, sales.rush.)
            patch_vary_headers(response, ("Cookie",))
        return response


def language_switch(request: HttpRequest, code: str) -> HttpResponse:
    """The header's switch: keep the shopper's choice in the language cookie (a year) and
    go back to the page it was made on. A link, not a form, so that the pages every
    anonymous shopper shares (cached, without a CSRF token) can carry it; a forged link can
    only change someone's language."""
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "/"
    response = HttpResponseRedirect(target)
    language = _supported(code)
    if language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600,
                            samesite="Lax", secure=request.is_secure())
    add_never_cache_headers(response)
    return response


def page_words(path: str = "/") -> dict:
    """What base.html needs besides the page's own context: the path the language switch
    comes back to, and live.js's words (`live_words`); given to pages rendered without a
    request (the shared, cached ones) too."""
    return {"here": path, "live_words": _live_words()}


def live_words(request: HttpRequest) -> dict:
    """A template context processor: every page rendered with a request carries
    `page_words`."""
    return page_words(_back_to(request))


def _back_to(request: HttpRequest) -> str:
    """Where the language switch comes back to: this page, or, for the answer to a form
    (a refused purchase, a payment), the page the form was on (its address may take POSTs
    only), when it was one of ours; else the sales."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    referer = request.META.get("HTTP_REFERER", "")
    try:
        ours = url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()})
    except DisallowedHost:
        ours = False
    if not referer or not ours:
        return "/"
    parts = urlsplit(referer)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _live_words() -> dict:
    """The words sales/live.js writes into the page (a countdown, a status), in the page's
    language."""
    return {
        "live": _("On sale now"), "scheduled": _("Opens soon"), "sold_out": _("Sold out"),
        "ended": _("Ended"), "opens_in": _("Opens in {t}"), "approx": _(" (approx.)"),
        "ends_in": _("Ends in {t}"), "has_ended": _("This sale has ended"),
        "left": _("({t} left)"), "time_up": _("(time is up)"), "days": _("{d}d "),
    }
