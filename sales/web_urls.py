"""Storefront routes of flash sales, at the site root (config.urls includes them at "")."""

from django.urls import path

from sales import web, web_appeals, web_tickets

urlpatterns = [
    path("", web.sale_list, name="web-sales"),
    path("sales/<int:sale_id>/", web.sale_page, name="web-sale"),
    path("sales/<int:sale_id>/live.json", web.live_state, name="web-sale-live"),
    path("sales/<int:sale_id>/reserve", web.reserve, name="web-sale-reserve"),
    path("sales/<int:sale_id>/buy", web.buy, name="web-sale-buy"),
    path("sales/<int:sale_id>/draw/", web_tickets.draw_page, name="web-sale-draw"),
    path("tickets/<str:ticket>/", web_tickets.ticket_page, name="web-ticket"),
    path("tickets/<str:ticket>/state.json", web_tickets.ticket_state, name="web-ticket-state"),
    path("appeal/", web_appeals.appeal, name="web-appeal"),
]
