"""Storefront routes of flash sales, at the site root (config.urls includes them at "")."""

from django.urls import path

from sales.web import appeal_pages, reminder_pages, sale_pages, ticket_pages

urlpatterns = [
    path("", sale_pages.sale_list, name="web-sales"),
    path("sales/<int:sale_id>/", sale_pages.sale_page, name="web-sale"),
    path("sales/<int:sale_id>/live.json", sale_pages.live_state, name="web-sale-live"),
    path("sales/<int:sale_id>/reserve", sale_pages.reserve, name="web-sale-reserve"),
    path("sales/<int:sale_id>/buy", sale_pages.buy, name="web-sale-buy"),
    path("sales/<int:sale_id>/remind", reminder_pages.remind, name="web-sale-remind"),
    path("sales/<int:sale_id>/draw/", ticket_pages.draw_page, name="web-sale-draw"),
    path("tickets/<str:ticket>/", ticket_pages.ticket_page, name="web-ticket"),
    path("tickets/<str:ticket>/state.json", ticket_pages.ticket_state, name="web-ticket-state"),
    path("appeal/", appeal_pages.appeal, name="web-appeal"),
]
