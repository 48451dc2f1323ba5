from django.urls import path

from sales import api

# The purchase route is tried before every other route of the site (config.urls): in a rush
# it takes nearly every request, and each route tried before it costs a regex match.
hot_urlpatterns = [
    path("sales/<int:sale_id>/purchase", api.SalePurchaseApi.as_view(), name="sale-purchase"),
]

urlpatterns = [
    path("sales", api.SaleListApi.as_view(), name="sales"),
    path("sales/<int:sale_id>", api.SaleDetailApi.as_view(), name="sale"),
    path("sales/<int:sale_id>/reservations", api.SaleReservationApi.as_view(),
         name="sale-reservations"),
    path("sales/<int:sale_id>/draw", api.SaleDrawResultApi.as_view(), name="sale-draw"),
    path("tickets/<str:ticket>", api.TicketApi.as_view(), name="ticket"),
    path("ops/sales/<int:sale_id>/fcodes", api.OpsFCodeIssueApi.as_view(), name="ops-fcodes"),
    path("ops/sales/<int:sale_id>/fcodes/release", api.OpsFCodeReleaseApi.as_view(),
         name="ops-fcodes-release"),
    path("ops/sales/<int:sale_id>/draw", api.OpsDrawApi.as_view(), name="ops-draw"),
    path("ops/sales/<int:sale_id>/report", api.OpsSaleReportApi.as_view(),
         name="ops-sale-report"),
    path("ops/sales", api.OpsSaleListApi.as_view(), name="ops-sales"),
    path("ops/sales/<int:sale_id>", api.OpsSaleDetailApi.as_view(), name="ops-sale"),
]
