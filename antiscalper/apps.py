from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AntiscalperConfig(AppConfig):
    name = "antiscalper"
    verbose_name = _("Anti-scalper")
