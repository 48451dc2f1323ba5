"""The store's HTTP API (docs/api.md): parse, call one service or selector, shape the answer."""

from __future__ import annotations

from django.conf import settings
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView

from core.http import idempotency_key_of, paginated, user_id_of
from shop import address_book, payments, phones, selectors, services
from shop.serializers import (
    AddressSerializer,
    MeOutput,
    OrderEnvelope,
    OrderOutput,
    PayInput,
    PhoneCodeSentOutput,
    PhoneConfirmedOutput,
    PhoneConfirmInput,
    ProductOutput,
    RegisteredOutput,
    RegisterInput,
    WhoAmIOutput,
)

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="Client-chosen key; a retry with the same key returns the first answer.",
)


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=RegisterInput, responses={201: RegisteredOutput})
    @method_decorator(ratelimit(key="ip", rate=lambda group, request: settings.RATE_REGISTER,
                                method="POST", block=True))
    def post(self, request):
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer = services.customer_register(**data.validated_data)
        body = {"id": customer.user_id, "username": customer.user.username}
        return Response(body, status=status.HTTP_201_CREATED)


@method_decorator(ratelimit(key="ip", rate=lambda group, request: settings.RATE_TOKEN,
                            method="POST", block=True), name="post")
class TokenApi(TokenObtainPairView):
    """simplejwt's token pair, rate limited per client IP against password guessing."""


class WhoAmIApi(APIView):
    """Who the token says you are: no database query (also the benchmarks' floor)."""

    @extend_schema(responses=WhoAmIOutput)
    def get(self, request):
        return Response({"id": user_id_of(request)})


class MeApi(APIView):
    @extend_schema(responses=MeOutput)
    def get(self, request):
        customer = selectors.customer_for_user(user_id=user_id_of(request))
        return Response(MeOutput(customer).data)


def _masked(phone: str) -> str:
    """'13800138000' as '138****8000': enough to recognise one's own number."""
    return phone[:3] + "*" * max(0, len(phone) - 7) + phone[-4:] if len(phone) > 7 else phone


class PhoneCodeApi(APIView):
    """Text a confirmation code to the account's registered phone."""

    @extend_schema(request=None, responses={202: PhoneCodeSentOutput})
    @method_decorator(ratelimit(key="user_or_ip", group="phone-code",
                                rate=lambda group, request: settings.RATE_PHONE_CODE,
                                method="POST", block=True))
    def post(self, request):
        """A new code (the last one stops working): 429 `rate_limited` within the resend
        cool-down or over the hourly limit, 400 `invalid` once the phone is confirmed."""
        user_id = user_id_of(request)
        sent = phones.phone_code_send(user_id=user_id)
        phone = selectors.customer_for_user(user_id=user_id).phone
        body = {"sent_to": _masked(phone), "expires_at": sent.expires_at,
                "resend_at": sent.resend_at}
        return Response(PhoneCodeSentOutput(body).data, status=status.HTTP_202_ACCEPTED)


class PhoneConfirmApi(APIView):
    """Confirm the registered phone with the code texted to it."""

    @extend_schema(request=PhoneConfirmInput, responses=PhoneConfirmedOutput)
    @method_decorator(ratelimit(key="user_or_ip", group="phone-confirm",
                                rate=lambda group, request: settings.RATE_PHONE_CONFIRM,
                                method="POST", block=True))
    def post(self, request):
        """400 `invalid` naming `code` when it is malformed, wrong, lapsed, used or out of
        tries (`details.tries_left`); each code takes at most five tries."""
        data = PhoneConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer = phones.phone_code_confirm(user_id=user_id_of(request),
                                             code=data.validated_data["code"])
        return Response(PhoneConfirmedOutput(customer).data)


class AddressListApi(APIView):
    @extend_schema(responses=AddressSerializer(many=True))
    def get(self, request):
        return paginated(request, selectors.address_list(user_id=user_id_of(request)),
                         AddressSerializer)

    @extend_schema(request=AddressSerializer, responses={201: AddressSerializer},
                   parameters=[IDEMPOTENCY_HEADER])
    def post(self, request):
        """A retry with the same `Idempotency-Key` answers the address the first one added."""
        data = AddressSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = selectors.customer_for_user(user_id=user_id_of(request))
        address = services.address_create(customer=customer, **data.validated_data,
                                          idempotency_key=idempotency_key_of(request) or "")
        return Response(AddressSerializer(address).data, status=status.HTTP_201_CREATED)


class AddressDetailApi(APIView):
    """One of the shopper's addresses. Another shopper's id and a deleted one are 404."""

    @extend_schema(responses=AddressSerializer)
    def get(self, request, address_id: int):
        address = selectors.address_get(user_id=user_id_of(request), address_id=address_id)
        return Response(AddressSerializer(address).data)

    @extend_schema(request=AddressSerializer(partial=True), responses=AddressSerializer)
    def patch(self, request, address_id: int):
        """The fields sent change, the others stay. A changed text is a new version with a
        new `id` (orders keep the old one); use the `id` answered."""
        data = AddressSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        address = address_book.address_update(user_id=user_id_of(request),
                                              address_id=address_id, **data.validated_data)
        return Response(AddressSerializer(address).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, address_id: int):
        """Gone from the book and from new purchases; orders placed with it keep it."""
        address_book.address_delete(user_id=user_id_of(request), address_id=address_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AddressDefaultApi(APIView):
    @extend_schema(request=None, responses=AddressSerializer)
    def post(self, request, address_id: int):
        """Make this the default address (the one checkout offers first); the one that was
        the default stops being it."""
        address = address_book.address_default_set(user_id=user_id_of(request),
                                                    address_id=address_id)
        return Response(AddressSerializer(address).data)


class ProductListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=ProductOutput(many=True))
    def get(self, request):
        return paginated(request, selectors.product_list(), ProductOutput)


class ProductDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=ProductOutput)
    def get(self, request, product_id: int):
        return Response(ProductOutput(selectors.product_get(product_id=product_id)).data)


class OrderListApi(APIView):
    @extend_schema(responses=OrderOutput(many=True))
    def get(self, request):
        return paginated(request, selectors.order_list(user_id=user_id_of(request)), OrderOutput)


class OrderDetailApi(APIView):
    @extend_schema(responses=OrderOutput)
    def get(self, request, order_id: int):
        order = selectors.order_get(order_id=order_id, user_id=user_id_of(request))
        return Response(OrderOutput(order).data)


class OrderPayApi(APIView):
    @extend_schema(request=PayInput, responses=OrderEnvelope, parameters=[IDEMPOTENCY_HEADER])
    def post(self, request, order_id: int):
        data = PayInput(data=request.data)
        data.is_valid(raise_exception=True)
        user_id = user_id_of(request)
        payments.order_pay(
            order_id=order_id, user_id=user_id, idempotency_key=idempotency_key_of(request),
            **data.validated_data,
        )
        order = selectors.order_get(order_id=order_id, user_id=user_id)
        return Response({"order": OrderOutput(order).data})


class OrderCancelApi(APIView):
    @extend_schema(request=None, responses=OrderEnvelope)
    def post(self, request, order_id: int):
        user_id = user_id_of(request)
        services.order_cancel(order_id=order_id, user_id=user_id)
        order = selectors.order_get(order_id=order_id, user_id=user_id)
        return Response({"order": OrderOutput(order).data})
