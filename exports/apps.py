from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Event export to streams"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (subscribes the sinks, registers the checks)
