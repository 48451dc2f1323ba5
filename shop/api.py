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
from shop import payments, selectors, services
from shop.serializers import (
    AddressSerializer,
    MeOutput,
    OrderEnvelope,
    OrderOutput,
    PayInput,
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


class AddressListApi(APIView):
    @extend_schema(responses=AddressSerializer(many=True))
    def get(self, request):
        return paginated(request, selectors.address_list(user_id=user_id_of(request)),
                         AddressSerializer)

    @extend_schema(request=AddressSerializer, responses={201: AddressSerializer})
    def post(self, request):
        data = AddressSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = selectors.customer_for_user(user_id=user_id_of(request))
        address = services.address_create(customer=customer, **data.validated_data)
        return Response(AddressSerializer(address).data, status=status.HTTP_201_CREATED)


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
