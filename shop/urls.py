from django.urls import path
from rest_framework_simplejwt.views import TokenRefreshView

from shop import api

urlpatterns = [
    path("auth/register", api.RegisterApi.as_view(), name="auth-register"),
    path("auth/token", api.TokenApi.as_view(), name="auth-token"),
    path("auth/token/refresh", TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/whoami", api.WhoAmIApi.as_view(), name="auth-whoami"),
    path("me", api.MeApi.as_view(), name="me"),
    path("me/phone/code", api.PhoneCodeApi.as_view(), name="me-phone-code"),
    path("me/phone/confirm", api.PhoneConfirmApi.as_view(), name="me-phone-confirm"),
    path("me/addresses", api.AddressListApi.as_view(), name="me-addresses"),
    path("me/addresses/<int:address_id>", api.AddressDetailApi.as_view(), name="me-address"),
    path("me/addresses/<int:address_id>/default", api.AddressDefaultApi.as_view(),
         name="me-address-default"),
    path("products", api.ProductListApi.as_view(), name="products"),
    path("products/<int:product_id>", api.ProductDetailApi.as_view(), name="product"),
    path("orders", api.OrderListApi.as_view(), name="orders"),
    path("orders/<int:order_id>", api.OrderDetailApi.as_view(), name="order"),
    path("orders/<int:order_id>/pay", api.OrderPayApi.as_view(), name="order-pay"),
    path("orders/<int:order_id>/cancel", api.OrderCancelApi.as_view(), name="order-cancel"),
]
