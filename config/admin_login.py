"""The admin's login page, throttled like the API's token endpoint.

The admin holds the ops rights (blacklist, F-codes, refunds), so its password form is a
target as much as `POST /api/v1/auth/token`. POSTs are counted per client IP and per username
typed (django-ratelimit, the shared cache); over either limit the answer is a plain 429 page
with Retry-After, before any password is checked. GETs are never counted.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django_ratelimit.core import is_ratelimited

GROUP = "admin-login"
TOO_MANY = "Too many login attempts. Wait a minute and try again."


def _username_of(group: str, request: HttpRequest) -> str:
    return request.POST.get("username", "").strip().lower()[:150]


def _limited(request: HttpRequest) -> bool:
    by_ip = is_ratelimited(request, group=GROUP, key="ip", method="POST", increment=True,
                           rate=lambda group, request: settings.RATE_ADMIN_LOGIN_IP)
    by_name = is_ratelimited(request, group=f"{GROUP}-username", key=_username_of,
                             method="POST", increment=True,
                             rate=lambda group, request: settings.RATE_ADMIN_LOGIN_USERNAME)
    return by_ip or by_name


@never_cache
def admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """admin.site.login, refused with 429 once the IP or the username is over its limit."""
    if request.method == "POST" and _limited(request):
        response = HttpResponse(TOO_MANY, status=429, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(settings.RATELIMIT_RETRY_AFTER)
        return response
    return admin.site.login(request, extra_context)
