"""A guard in front of the storefront's forms."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from core.error_handling import API_PREFIX, storefront_error_page
from core.errors import invalid


class NulFreeFormsMiddleware:
    """Refuse, with a 400 page, a storefront request whose query or form carries a NUL.

    No field of ours can hold one and PostgreSQL refuses it outright (a DataError, so a 500)
    wherever it would reach a query; one check here covers every page form, present and
    future. The API is not concerned: its serializers refuse NUL field by field."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX) and _has_nul(request):
            return storefront_error_page(request, invalid("A field holds a NUL character.",
                                               field=[_("remove the NUL (\\x00) character")]),
                              back=request.path if request.method == "POST" else "/")
        return self.get_response(request)


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path:
        return True
    sources = [request.GET] + ([request.POST] if request.method == "POST" else [])
    return any("\x00" in key or any("\x00" in value for value in values)
               for source in sources for key, values in source.lists())
