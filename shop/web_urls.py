"""Storefront routes of the shop app, at the site root (config.urls includes them at "")."""

from django.urls import path

from shop import web, web_addresses

urlpatterns = [
    path("register/", web.register, name="web-register"),
    path("login/", web.login_view, name="web-login"),
    path("logout/", web.logout_view, name="web-logout"),
    path("account/phone/", web.phone_confirm, name="web-phone"),
    path("account/addresses/", web_addresses.address_book_page, name="web-addresses"),
    path("account/addresses/<int:address_id>/edit/", web_addresses.address_edit,
         name="web-address-edit"),
    path("account/addresses/<int:address_id>/delete/", web_addresses.address_delete,
         name="web-address-delete"),
    path("account/addresses/<int:address_id>/default", web_addresses.address_default,
         name="web-address-default"),
    path("orders/", web.order_list, name="web-orders"),
    path("orders/<int:order_id>/", web.order_page, name="web-order"),
    path("orders/<int:order_id>/pay", web.order_pay, name="web-order-pay"),
    path("orders/<int:order_id>/cancel", web.order_cancel, name="web-order-cancel"),
]
