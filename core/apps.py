from django.apps import AppConfig


class CoreConfig(AppConfig):
    """No models: the error codes, the envelope and the request helpers every app shares."""

    name = "core"
