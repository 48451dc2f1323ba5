"""The API's error envelope on every error path.

`{"error": {"code", "message", "details"}}` for domain refusals, validation errors, parse
errors, auth failures, unknown routes under /api/ and unhandled exceptions (logged, never a
stack trace in the body).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.utils.translation import gettext
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf
from rest_framework.views import exception_handler as drf_default_handler

from core.errors import DomainError, envelope

logger = logging.getLogger("flashsale.api")

API_PREFIX = "/api/"


def _flatten(detail: Any) -> Any:
    """DRF error details (ErrorDetail, nested lists/dicts) as plain JSON values."""
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(value) for value in detail]
    return str(detail)


def _from_api_exception(exc: drf.APIException) -> JsonResponse:
    headers = {}
    if isinstance(exc, drf.ValidationError):
        details = _flatten(exc.detail)
        if not isinstance(details, dict):
            details = {"non_field_errors": details}
        return envelope("invalid", "The request has invalid fields.", 400, details)
    if isinstance(exc, drf.ParseError):
        return envelope("invalid", f"Malformed request body: {exc.detail}", 400)
    if isinstance(exc, drf.UnsupportedMediaType):
        return envelope("invalid", f"{exc.detail} Send application/json.", 400)
    if isinstance(exc, drf.NotAuthenticated):
        return envelope("unauthenticated", "Authentication is required: send a Bearer token.",
                        401)
    if isinstance(exc, drf.AuthenticationFailed):
        detail = exc.detail.get("detail") if isinstance(exc.detail, dict) else exc.detail
        return envelope("unauthenticated", str(detail or "Bad or expired credentials."), 401)
    if isinstance(exc, drf.PermissionDenied):
        return envelope("forbidden", "You are not allowed to do this.", 403)
    if isinstance(exc, drf.NotFound):
        return envelope("not_found", "No such object.", 404)
    if isinstance(exc, drf.Throttled):
        if exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait) + 1)
        return envelope("rate_limited", "Too many requests; retry later.", 429, headers=headers)
    code = exc.default_code if isinstance(exc.default_code, str) else "error"
    return envelope(code, str(exc.detail), exc.status_code)


def _refused_as_suspicious(exc: SuspiciousOperation) -> HttpResponse:
    """Django's guards on the request itself (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too
    many fields): the client's fault, so a 400 as Django itself answers, never a 500. Logged
    where Django logs them, under django.security."""
    logging.getLogger(f"django.security.{type(exc).__name__}").warning("%s", exc)
    if isinstance(exc, RequestDataTooBig):
        return envelope("invalid", "The request body is too large.", 400,
                        {"body": [f"at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"]})
    return envelope("invalid", "The request was refused as malformed.", 400)


# A store's backing services dropping a connection (Redis down or failing over, a database
# connection killed or restarted): the request did not go through and can be retried. The
# transaction was rolled back; Django drops the broken connection at the end of the request.
UNAVAILABLE = (redis.RedisError, OperationalError, InterfaceError)


def service_unavailable(exc: Exception) -> HttpResponse:
    """Redis or the database unavailable: the client's request can be retried (purchases
    answer through the gate's own refusals; this covers every other path)."""
    logger.warning("backing service unavailable: %s: %s", type(exc).__name__, exc)
    return envelope("unavailable", "The store is briefly unavailable; retry shortly.", 503,
                    headers={"Retry-After": "1"})


def storefront_error_page(request: HttpRequest, error: DomainError, **kwargs) -> HttpResponse:
    """The storefront's page for a refusal. The storefront (settings.STOREFRONT_ERROR_PAGE,
    `shop.web.error_page`) owns its look; core only knows where to find it, so that the
    imports still point one way (shop -> core)."""
    return import_string(settings.STOREFRONT_ERROR_PAGE)(request, error, **kwargs)


def _storefront_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The storefront while Redis is down or failing over: a 503 page (JSON for the pages'
    own JSON polls) that says to retry, never a 500."""
    response = service_unavailable(exc)
    if not request.path.endswith(".json"):
        response = storefront_error_page(request, DomainError(
            "unavailable", "The store is briefly unavailable; retry shortly.", status=503),
            title=gettext("Back in a moment"), back=request.get_full_path())
        response["Retry-After"] = "1"
    return response


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse:
    """DRF's EXCEPTION_HANDLER: every exception a view raises becomes the envelope."""
    if isinstance(exc, DomainError):
        headers = {}
        if exc.code == "rate_limited" and "retry_after" in exc.details:
            headers["Retry-After"] = str(exc.details["retry_after"])
        elif exc.code == "unavailable" or exc.status == 503:
            headers["Retry-After"] = "1"  # the contract: every 503 says when to retry (busy too)
        return envelope(exc.code, exc.message, exc.status, exc.details, headers)
    if isinstance(exc, Http404):
        return envelope("not_found", "No such object.", 404)
    if isinstance(exc, Ratelimited):
        return envelope("rate_limited", "Too many requests; retry later.", 429,
                        headers={"Retry-After": str(settings.RATELIMIT_RETRY_AFTER)})
    if isinstance(exc, DjangoPermissionDenied):
        return envelope("forbidden", "You are not allowed to do this.", 403)
    if isinstance(exc, SuspiciousOperation):
        return _refused_as_suspicious(exc)
    if isinstance(exc, drf.APIException):
        response = drf_default_handler(exc, context)  # sets auth headers such as WWW-Authenticate
        replacement = _from_api_exception(exc)
        if response is not None and response.has_header("WWW-Authenticate"):
            replacement["WWW-Authenticate"] = response["WWW-Authenticate"]
        return replacement
    if isinstance(exc, UNAVAILABLE):
        return service_unavailable(exc)
    view = context.get("view")
    logger.exception("unhandled error in %s", type(view).__name__ if view else "API view")
    return envelope("internal", "Something went wrong on our side; it has been logged.", 500)


class ApiErrorMiddleware:
    """Under /api/, unknown routes, non-DRF errors and any HTML error page become the envelope."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        if response.status_code == 404:
            return envelope("not_found", f"No route {request.path}.", 404)
        if response.status_code >= 500:
            return envelope("internal", "Something went wrong on our side.", response.status_code)
        return envelope("error", "The request could not be served.", response.status_code)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            if isinstance(exception, UNAVAILABLE):
                return _storefront_unavailable(request, exception)
            return None
        if isinstance(exception, Http404):
            return envelope("not_found", "No such object.", 404)
        if isinstance(exception, SuspiciousOperation):
            return _refused_as_suspicious(exception)
        if isinstance(exception, UNAVAILABLE):
            return service_unavailable(exception)
        logger.exception("unhandled error at %s", request.path)
        return envelope("internal", "Something went wrong on our side; it has been logged.", 500)
