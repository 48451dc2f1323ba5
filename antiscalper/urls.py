"""Anti-scalper routes, relative to /api/v1/ (config.urls includes them there)."""

from django.urls import path

from antiscalper import api

urlpatterns = [
    path("ops/blacklist", api.OpsBlacklistApi.as_view(), name="ops-blacklist"),
    path("ops/blacklist/<int:entry_id>", api.OpsBlacklistDetailApi.as_view(),
         name="ops-blacklist-entry"),
    path("ops/flags", api.OpsFlagsApi.as_view(), name="ops-flags"),
    path("ops/sales/<int:sale_id>/cases", api.OpsCaseListApi.as_view(), name="ops-cases"),
    path("ops/sales/<int:sale_id>/cases/<int:case_id>", api.OpsCaseDetailApi.as_view(),
         name="ops-case"),
    path("ops/sales/<int:sale_id>/cases/<int:case_id>/confirm", api.OpsCaseConfirmApi.as_view(),
         name="ops-case-confirm"),
    path("ops/sales/<int:sale_id>/cases/<int:case_id>/clear", api.OpsCaseClearApi.as_view(),
         name="ops-case-clear"),
    path("appeals", api.AppealListApi.as_view(), name="appeals"),
]
