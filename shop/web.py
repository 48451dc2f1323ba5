"""Storefront pages of the store: register, log in and out, confirm the phone, my orders,
checkout (the address book is `shop.web_addresses`).

Thin views over the same services as the API (shop.services, shop.payments): parse the form,
call one service, render. Refusals become the sentence of core.sentences, never a trace.
Session auth, CSRF on every form; pages work with JavaScript off (it only runs countdowns).
"""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_ratelimit.core import is_ratelimited

from core.devices import device_issue, device_issued
from core.errors import DomainError, invalid, not_found
from core.http import DEVICE_COOKIE
from core.sentences import field_errors, field_problems, sentence_for, when
from shop import payments, phones, selectors, services
from shop.models import Order, OrderStatus
from shop.serializers import AddressSerializer, RegisterInput

LOGIN_URL = reverse_lazy("web-login")
DEVICE_COOKIE_AGE = 365 * 86400
S = OrderStatus


def device_cookie_ensure(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Give the browser a device id this store signed (core.devices), unless it has one: a
    missing, unsigned (issued before signing) or forged cookie is replaced."""
    if not device_issued(request.COOKIES.get(DEVICE_COOKIE, "")):
        response.set_cookie(DEVICE_COOKIE, device_issue(), max_age=DEVICE_COOKIE_AGE,
                            httponly=True, samesite="Lax", secure=request.is_secure())
    return response


def error_page(request: HttpRequest, error: DomainError, *, title: str = "",
               back: str | None = None) -> HttpResponse:
    """A refusal as a page: the sentence, the fields at fault, a way back; the API's status."""
    context = {"title": title or _("We could not do that"), "sentence": sentence_for(error),
               "code": error.code, "fields": field_errors(error), "back": back}
    response = render(request, "shop/error.html", context, status=error.status)
    if error.code == "rate_limited" and "retry_after" in error.details:
        response["Retry-After"] = str(error.details["retry_after"])
    return response


def not_found_page(request: HttpRequest, what: str) -> HttpResponse:
    titles = {"sale": _("No such sale"), "ticket": _("No such ticket"),
              "order": _("No such order"), "customer profile": _("No such customer profile")}
    return error_page(request, not_found(what), title=titles.get(what, _("Page not found")),
                      back="/")


def _safe_next(request: HttpRequest, fallback: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or fallback
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return fallback


REGISTER_FIELDS = ("username", "phone", "recipient", "line1", "city", "postcode")


def _too_many(request: HttpRequest, rate: str) -> HttpResponse | None:
    """The API's limits on the page forms too: per client IP, counted on POST only."""
    if request.method != "POST" or not is_ratelimited(
            request, group=f"web:{request.path}", key="ip", rate=rate, increment=True):
        return None
    return error_page(request, DomainError("rate_limited", "", details={
        "retry_after": settings.RATELIMIT_RETRY_AFTER}), back=request.path)


@never_cache
def register(request: HttpRequest) -> HttpResponse:
    """Create an account with its delivery address, and log it in."""
    if limited := _too_many(request, settings.RATE_REGISTER):
        return limited
    form = {name: request.POST.get(name, "").strip() for name in REGISTER_FIELDS}
    errors: list[str] = []
    problems: dict[str, list[str]] = {}
    if request.method == "POST":
        missing = [n for n in ("recipient", "line1", "city", "postcode") if not form[n]]
        try:
            if not form["username"]:
                raise DomainError("invalid", "", details={"username": [_("Choose a username.")]})
            if missing:
                raise DomainError("invalid", "", details={
                    name: [_("Needed for delivery.")] for name in missing})
            _register_form_check(form, request.POST.get("password", ""))
            # One transaction: an address refused after the account was made must not
            # leave the account behind (the shopper could then never register that name).
            with transaction.atomic():
                customer = services.customer_register(
                    username=form["username"], password=request.POST.get("password", ""),
                    phone=form["phone"])
                services.address_create(customer=customer, recipient=form["recipient"],
                                        phone=customer.phone, line1=form["line1"],
                                        city=form["city"], postcode=form["postcode"])
        except DomainError as error:
            errors = field_errors(error) or [sentence_for(error)]
            problems = field_problems(error)
        else:
            login(request, customer.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome, %(name)s! You are logged in.")
                             % {"name": customer.user.username})
            messages.info(request, _("Confirm your phone with a texted code on Account > Phone "
                                     "(/account/phone/)."))
            return device_cookie_ensure(request, redirect(_safe_next(request)))
    context = {"form": form, "errors": errors, "problems": problems,
               "next": _safe_next(request, "")}
    response = render(request, "shop/register.html", context, status=400 if errors else 200)
    return device_cookie_ensure(request, response)


def _register_form_check(form: dict, password: str) -> None:
    """The API's field rules on the page's fields, before anything is written: lengths the
    columns can hold, no NUL (PostgreSQL refuses it: a 500), a username of the API's shape."""
    account = RegisterInput(data={"username": form["username"], "password": password,
                                  "phone": form["phone"]})
    address = AddressSerializer(data={name: form[name] for name in
                                      ("recipient", "line1", "city", "postcode")}, partial=True)
    errors = {**(address.errors if not address.is_valid() else {}),
              **(account.errors if not account.is_valid() else {})}
    if errors:
        raise DomainError("invalid", "", details={k: [str(m) for m in v]
                                                  for k, v in errors.items()})


class StoreLoginView(auth_views.LoginView):
    template_name = "shop/login.html"
    next_page = "/"
    redirect_authenticated_user = True

    def dispatch(self, request, *args, **kwargs):
        if limited := _too_many(request, settings.RATE_TOKEN):  # password guessing
            return limited
        return device_cookie_ensure(request, super().dispatch(request, *args, **kwargs))


login_view = StoreLoginView.as_view()
logout_view = auth_views.LogoutView.as_view(next_page="/")


@never_cache
@login_required(login_url=LOGIN_URL)
def phone_confirm(request: HttpRequest) -> HttpResponse:
    """Confirm the registered phone: ask for a code (texted by the SMS backend), type it in.
    The API's services and limits (shop.phones), the page's own per-IP form limit besides."""
    if limited := _too_many(request, settings.RATE_PHONE_CONFIRM):
        return limited
    try:
        customer = selectors.customer_for_user(user_id=request.user.id)
    except DomainError:
        return not_found_page(request, "customer profile")
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("action") == "send":
                phones.phone_code_send(user_id=request.user.id)
                messages.success(request, _("We texted you a code. It works for 5 minutes."))
                return redirect(reverse("web-phone"))
            phones.phone_code_confirm(user_id=request.user.id,
                                      code=request.POST.get("code", "").strip())
        except DomainError as error:
            errors, status = field_errors(error) or [sentence_for(error)], error.status
        else:
            messages.success(request, _("Your phone is confirmed. Thank you!"))
            return redirect(_safe_next(request, reverse("web-phone")))
    context = {"customer": customer, "errors": errors, "next": _safe_next(request, "")}
    return render(request, "shop/phone.html", context, status=status)


@never_cache
@login_required(login_url=LOGIN_URL)
def order_list(request: HttpRequest) -> HttpResponse:
    orders = selectors.order_list(user_id=request.user.id)[:100]
    return render(request, "shop/order_list.html", {"orders": orders})


def _pay_methods() -> dict[str, str]:
    """How a shopper may pay at checkout (the simulated gateway takes each), in the order a
    Chinese shopper expects them; the API takes the same (`shop.serializers`)."""
    return {"alipay": _("Alipay"), "wechat": _("WeChat Pay"), "card": _("Bank card")}


def _order_context(order: Order) -> dict:
    """What checkout shows: what is due now, until when, and which buttons apply."""
    now_ms = int(time.time() * 1000)
    due, label, opens = None, "", None
    if order.status == S.AWAITING_PAYMENT:
        due, label = order.total, _("Pay now")
    elif order.status == S.AWAITING_DEPOSIT:
        due, label = order.deposit, _("Pay the deposit")
    elif order.status == S.AWAITING_BALANCE:
        due, label, opens = order.balance_due, _("Pay the balance"), order.balance_opens_at
    deadline = order.payment_due_at if due is not None else None
    return {
        "order": order, "lines": list(order.lines.all()), "address": order.address,
        "due": due, "pay_label": label, "balance_opens_at": opens,
        "deadline": deadline, "deadline_text": when(deadline) if deadline else "",
        "deadline_ms": int(deadline.timestamp() * 1000) if deadline else None,
        "server_ms": now_ms, "pay_key": str(uuid.uuid4()),
        "cancellable": order.status in services.CUSTOMER_CANCELLABLE,
        "is_deposit": bool(order.deposit), "pay_methods": _pay_methods(),
    }


@never_cache
@login_required(login_url=LOGIN_URL)
def order_page(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        order = selectors.order_get(order_id=order_id, user_id=request.user.id)
    except DomainError as error:
        return error_page(request, error, title=_("No such order"), back=reverse("web-orders"))
    return render(request, "shop/order.html", _order_context(order))


def _order_refused(request: HttpRequest, order_id: int, error: DomainError) -> HttpResponse:
    try:
        order = selectors.order_get(order_id=order_id, user_id=request.user.id)
    except DomainError as missing:
        return error_page(request, missing, title=_("No such order"), back=reverse("web-orders"))
    context = {**_order_context(order), "error": sentence_for(error), "code": error.code}
    return render(request, "shop/order.html", context, status=error.status)


@require_POST
@login_required(login_url=LOGIN_URL)
def order_pay(request: HttpRequest, order_id: int) -> HttpResponse:
    """Pay what is due now (full price, deposit or balance); the form's key makes a double
    submit charge once."""
    key = request.POST.get("key", "").strip()[:64] or None
    method = request.POST.get("method", "alipay")
    try:
        if method not in _pay_methods():
            raise invalid("Unknown payment method.", method=[_("Choose how to pay.")])
        order = payments.order_pay(order_id=order_id, user_id=request.user.id,
                                   idempotency_key=key, method=method)
    except DomainError as error:
        return _order_refused(request, order_id, error)
    done = {S.PAID: _("Paid. Thank you! We will ship your order soon."),
            S.AWAITING_BALANCE: _("Deposit paid. Your unit is held; pay the balance in its "
                                  "window.")}
    messages.success(request, done.get(order.status, _("Payment received.")))
    return redirect("web-order", order_id=order.pk)


@require_POST
@login_required(login_url=LOGIN_URL)
def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        services.order_cancel(order_id=order_id, user_id=request.user.id)
    except DomainError as error:
        return _order_refused(request, order_id, error)
    messages.success(request, _("Order cancelled."))
    return redirect("web-order", order_id=order_id)

