from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The site itself (settings, URLs, operations endpoints, the admin's front page):
    not a domain, it composes them. As an app it gets its template tags found and a
    place to prepare what the embedded defaults need on disk before anything runs."""

    name = "project"
    verbose_name = "Orderflow"

    def ready(self) -> None:
        from . import local_state

        local_state.prepare()
