from django.urls import path

from sales.api import views

# The purchase route is tried before every other route of the site (config.urls): in a rush
# it takes nearly every request, and each route tried before it costs a regex match.
hot_urlpatterns = [
    path("sales/<int:sale_id>/purchase", views.SalePurchaseApi.as_view(), name="sale-purchase"),
]

urlpatterns = [
    path("sales", views.SaleListApi.as_view(), name="sales"),
    path("sales/<int:sale_id>", views.SaleDetailApi.as_view(), name="sale"),
    path("sales/<int:sale_id>/reservations", views.SaleReservationApi.as_view(),
         name="sale-reservations"),
    path("sales/<int:sale_id>/draw", views.SaleDrawResultApi.as_view(), name="sale-draw"),
    path("sales/<int:sale_id>/reminder", views.SaleReminderApi.as_view(), name="sale-reminder"),
    path("tickets/<str:ticket>", views.TicketApi.as_view(), name="ticket"),
    path("ops/sales/<int:sale_id>/fcodes", views.OpsFCodeIssueApi.as_view(), name="ops-fcodes"),
    path("ops/sales/<int:sale_id>/fcodes/release", views.OpsFCodeReleaseApi.as_view(),
         name="ops-fcodes-release"),
    path("ops/sales/<int:sale_id>/draw", views.OpsDrawApi.as_view(), name="ops-draw"),
    path("ops/sales/<int:sale_id>/report", views.OpsSaleReportApi.as_view(),
         name="ops-sale-report"),
    path("ops/sales", views.OpsSaleListApi.as_view(), name="ops-sales"),
    path("ops/sales/<int:sale_id>", views.OpsSaleDetailApi.as_view(), name="ops-sale"),
]
