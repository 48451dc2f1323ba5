"""The project's routes plus the anti-scalper API, until config.urls includes it."""

from django.urls import include, path

from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    *project_urlpatterns,
    path("api/v1/", include("antiscalper.urls")),
]
