"""Storefront routes of the shop app, at the site root (config.urls includes them at "")."""

from django.urls import path

from shop import web

urlpatterns = [
    path("register/", web.register, name="web-register"),
    path("login/", web.login_view, name="web-login"),
    path("logout/", web.logout_view, name="web-logout"),
    path("account/phone/", web.phone_confirm, name="web-phone"),
    path("account/addresses/", web.address_book, name="web-addresses"),
    path("orders/", web.order_list, name="web-orders"),
    path("orders/<int:order_id>/", web.order_page, name="web-order"),
    path("orders/<int:order_id>/pay", web.order_pay, name="web-order-pay"),
    path("orders/<int:order_id>/cancel", web.order_cancel, name="web-order-cancel"),
]
