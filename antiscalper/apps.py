from django.apps import AppConfig


class AntiscalperConfig(AppConfig):
    name = "antiscalper"
