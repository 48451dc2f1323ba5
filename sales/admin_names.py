"""The lower apps' admins naming each sale by its title, linked to the sale's page.

shop's orders and antiscalper's decisions and ring cases keep a plain `sale_id` (those apps
sit below sales and know no sales), so their own admins can only show the number. Sales is
the one app that knows sales: it registers subclasses of those admins here that read the
title in the list's one query (a subquery annotation), so a page of a hundred rows still
costs the same few queries as a page of one.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from antiscalper.admin_cases import RingCaseAdmin
from antiscalper.admin_flags import RiskDecisionAdmin
from antiscalper.models import RingCase, RiskDecision
from sales.models import FlashSale
from shop.admin import OrderAdmin
from shop.models import Order


def sale_title() -> Subquery:
    """The title of the row's sale, as an annotation over any model with a `sale_id`."""
    return Subquery(FlashSale.objects.filter(pk=OuterRef("sale_id")).values("title")[:1])


def sale_link(sale_id: int | None, title: str | None) -> str:
    """The sale's title linked to its admin page ("-" for no sale; a deleted sale by id)."""
    if sale_id is None:
        return "-"
    url = reverse("admin:sales_flashsale_change", args=[sale_id])
    return format_html('<a href="{}">{}</a>', url, title or no_such_sale(sale_id))


def no_such_sale(sale_id: int) -> str:
    return gettext("sale %(id)s (no such sale)") % {"id": sale_id}


def sale_titles(sale_ids) -> dict[int, str]:
    return dict(FlashSale.objects.filter(pk__in=[s for s in sale_ids if s is not None])
                .values_list("pk", "title"))


class SaleFilter(admin.AllValuesFieldListFilter):
    """The `sale_id` filter, its choices named by title (one query for all of them); the
    query string stays `sale_id__exact=<id>`, so the links that filter by sale still work."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.title = gettext("sale")

    def choices(self, changelist):
        titles = sale_titles(self.lookup_choices)
        for choice in super().choices(changelist):
            shown = str(choice["display"])
            if shown.isdigit():
                title = titles.get(int(shown)) or gettext("no such sale")
                choice["display"] = f"{title} (#{shown})"
            yield choice


class SaleTitled:
    """A `sale` column and read-only field (the title, linked) where the admin had `sale_id`,
    and the `sale_id` filter by title. Mixed in before the admin it extends."""

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(sale_title=sale_title())

    def get_list_display(self, request):
        return ["sale" if f == "sale_id" else f for f in super().get_list_display(request)]

    def get_list_filter(self, request):
        return [(f, SaleFilter) if f == "sale_id" else f
                for f in super().get_list_filter(request)]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "sale"] if "sale_id" in fields else fields

    def get_fields(self, request, obj=None):
        """`sale` where `sale_id` was (still read-only: it stays out of the form)."""
        return ["sale" if f == "sale_id" else f for f in super().get_fields(request, obj)
                if f != "sale"]

    @admin.display(description=_("sale"), ordering="sale_title")
    def sale(self, obj) -> str:
        return sale_link(obj.sale_id, getattr(obj, "sale_title", None))

    def sale_name(self, sale_id: int) -> str:
        """The sale in a page's title: its title, plain text."""
        return sale_titles([sale_id]).get(sale_id) or no_such_sale(sale_id)

    def sale_label(self, sale_id: int) -> str:
        """The sale as the admin's own pages name it (antiscalper's case and decision pages)."""
        return sale_link(sale_id, sale_titles([sale_id]).get(sale_id))


admin.site.unregister(Order)
admin.site.unregister(RiskDecision)
admin.site.unregister(RingCase)


@admin.register(Order)
class SaleOrderAdmin(SaleTitled, OrderAdmin):
    pass


@admin.register(RiskDecision)
class SaleRiskDecisionAdmin(SaleTitled, RiskDecisionAdmin):
    pass


@admin.register(RingCase)
class SaleRingCaseAdmin(SaleTitled, RingCaseAdmin):
    pass
