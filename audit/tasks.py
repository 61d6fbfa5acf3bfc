from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import services


@shared_task(name="audit.check_invariants", ignore_result=True)
def check_invariants() -> None:
    """Periodic: check the invariants over the last window and keep the report."""
    services.record_invariant_check(since=timezone.now() - timedelta(seconds=settings.INVARIANTS_CHECK_WINDOW))
