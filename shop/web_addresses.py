"""The storefront's address book: list (the default marked), add, edit, delete behind a
confirmation, choose the default.

Thin over the API's rules: the same serializer checks the fields, the same services write
(`shop.services.address_create`, `shop.address_book`), so a page and the API can never
disagree on what an address is. The page asks for 省, 市 and 区 (the API leaves province and
district optional for its v1 clients). A field's problem is written next to its field, and
the summary above the form lists them all (issue 18).
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.sentences import field_errors, field_problems, sentence_for
from shop import address_book, selectors, services
from shop.serializers import AddressSerializer
from shop.web import LOGIN_URL, _safe_next, error_page

# The form's boxes, in the order a Chinese address is written (the street line after 区).
BOOK_FIELDS = ("recipient", "phone", "province", "city", "district", "line1", "postcode")


def _form_of(request: HttpRequest, address=None) -> dict[str, str]:
    """What the form shows: what was posted, else the address being edited, else blanks."""
    if request.method == "POST":
        return {name: request.POST.get(name, "").strip() for name in BOOK_FIELDS}
    return {name: getattr(address, name, "") if address else "" for name in BOOK_FIELDS}


def _checked(form: dict[str, str]) -> dict[str, str]:
    """The form's values as the services take them, or `invalid` naming every field at
    fault: a missing box says so, the others say what the API would."""
    data = AddressSerializer(data=form)
    problems = {} if data.is_valid() else {name: [str(m) for m in found]
                                           for name, found in data.errors.items()}
    if form["phone"] and "phone" not in problems:
        try:  # the service's own check, so that every box's problem shows at once
            services.phone_normalize(phone=form["phone"])
        except DomainError as error:
            problems["phone"] = error.details["phone"]
    problems.update({name: [_("Needed for delivery.")] for name in BOOK_FIELDS
                     if not form[name]})
    if problems:
        raise DomainError("invalid", "", details={name: problems[name]
                                                  for name in BOOK_FIELDS if name in problems})
    return dict(data.validated_data)


def _refused(error: DomainError) -> dict:
    return {"errors": field_errors(error) or [sentence_for(error)],
            "problems": field_problems(error)}


def _missing(request: HttpRequest, error: DomainError) -> HttpResponse:
    return error_page(request, error, title=_("No such address"),
                      back=reverse("web-addresses"))


@never_cache
@login_required(login_url=LOGIN_URL)
def address_book_page(request: HttpRequest) -> HttpResponse:
    """The shopper's delivery addresses (the default first and marked), and a form to add
    one; `next` brings the shopper back to the sale they came from."""
    form, refused = _form_of(request), {}
    if request.method == "POST":
        try:
            customer = selectors.customer_for_user(user_id=request.user.id)
            # The form's own key (as the API's Idempotency-Key): the same form sent twice,
            # a double click or a resent answer, adds one address.
            services.address_create(customer=customer, **_checked(form),
                                    idempotency_key=request.POST.get("key", "").strip()[:64])
        except DomainError as error:
            refused = _refused(error)
        else:
            messages.success(request, _("Address added. Choose it when you buy."))
            return redirect(_safe_next(request, reverse("web-addresses")))
    context = {"form": form, "next": _safe_next(request, ""), **refused,
               "add_key": str(uuid.uuid4()),
               "addresses": list(selectors.address_list(user_id=request.user.id))}
    return render(request, "shop/addresses.html", context, status=400 if refused else 200)


@never_cache
@login_required(login_url=LOGIN_URL)
def address_edit(request: HttpRequest, address_id: int) -> HttpResponse:
    """Change an address: the orders placed with it keep the text they were placed with."""
    try:
        address = selectors.address_get(user_id=request.user.id, address_id=address_id)
    except DomainError as error:
        return _missing(request, error)
    form, refused = _form_of(request, address), {}
    if request.method == "POST":
        try:
            address_book.address_update(user_id=request.user.id, address_id=address.pk,
                                        **_checked(form))
        except DomainError as error:
            refused = _refused(error)
        else:
            messages.success(request, _("Address saved."))
            return redirect(_safe_next(request, reverse("web-addresses")))
    context = {"form": form, "address": address, "next": _safe_next(request, ""), **refused}
    return render(request, "shop/address_edit.html", context, status=400 if refused else 200)


@never_cache
@login_required(login_url=LOGIN_URL)
def address_delete(request: HttpRequest, address_id: int) -> HttpResponse:
    """GET asks to confirm; POST deletes (the default passes to the newest remaining one)."""
    try:
        address = selectors.address_get(user_id=request.user.id, address_id=address_id)
        if request.method == "POST":
            address_book.address_delete(user_id=request.user.id, address_id=address.pk)
    except DomainError as error:
        return _missing(request, error)
    if request.method == "POST":
        messages.success(request, _("Address deleted. Orders placed with it still ship "
                                    "there."))
        return redirect(reverse("web-addresses"))
    return render(request, "shop/address_delete.html", {"address": address})


@require_POST
@login_required(login_url=LOGIN_URL)
def address_default(request: HttpRequest, address_id: int) -> HttpResponse:
    try:
        address_book.address_default_set(user_id=request.user.id, address_id=address_id)
    except DomainError as error:
        return _missing(request, error)
    messages.success(request, _("Default address changed: checkout offers it first."))
    return redirect(_safe_next(request, reverse("web-addresses")))
