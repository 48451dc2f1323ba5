"""Routes: the v1 API, its schema and docs, and Django admin."""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", lambda request: HttpResponseRedirect("/api/v1/docs/")),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include("shop.urls")),
    path("api/v1/", include("sales.urls")),
    path("api/v1/", include("antiscalper.urls")),
]
