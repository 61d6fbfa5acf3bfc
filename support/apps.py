from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Support desk"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
