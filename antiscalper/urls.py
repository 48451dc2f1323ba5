"""Anti-scalper routes, relative to /api/v1/ (config.urls includes them there)."""

from django.urls import path

from antiscalper import api

urlpatterns = [
    path("ops/blacklist", api.OpsBlacklistApi.as_view(), name="ops-blacklist"),
    path("ops/blacklist/<int:entry_id>", api.OpsBlacklistDetailApi.as_view(),
         name="ops-blacklist-entry"),
    path("ops/flags", api.OpsFlagsApi.as_view(), name="ops-flags"),
    path("appeals", api.AppealListApi.as_view(), name="appeals"),
]
