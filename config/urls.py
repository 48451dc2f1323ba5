"""Routes: the v1 API, its schema and docs, Django admin, and the storefront pages."""

from django.contrib import admin
from django.urls import include, path
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.admin_login import admin_login
from core.language import language_switch
from sales.api import urls as sales_urls

# The ops lists are wide (a sale's title, a username, times): at 1280 px the sidebar of every
# app's models would leave them 630 px beside the filters. The home page and the breadcrumbs
# lead to the same models.
admin.site.enable_nav_sidebar = False
# The console's name, in its reader's language (core.language: English unless chosen).
admin.site.site_header = admin.site.site_title = _("Flash-sale ops console")


class EnglishSchemaView(SpectacularAPIView):
    """The OpenAPI schema, in English like the rest of the API (docs/api.md): the view's own
    `?lang=` would otherwise describe the enums in the storefront's Chinese."""

    @extend_schema(exclude=True)  # as Spectacular's own view is, with SERVE_INCLUDE_SCHEMA off
    def get(self, request, *args, **kwargs):
        with translation.override("en"):
            return self._get_schema_response(request)

urlpatterns = [
    path("api/v1/", include(sales_urls.hot_urlpatterns)),
    path("admin/login/", admin_login),  # before the admin's own: the throttled login
    path("admin/", admin.site.urls),
    path("api/v1/schema/", EnglishSchemaView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include("shop.urls")),
    path("api/v1/", include("sales.api.urls")),
    path("api/v1/", include("antiscalper.urls")),
    path("language/<str:code>/", language_switch, name="language"),  # the header's switch
    path("", include("sales.web.urls")),
    path("", include("shop.web_urls")),
]
