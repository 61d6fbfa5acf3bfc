"""Keeping the invariant checker's reports."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import invariants
from .models import InvariantReport


def record_invariant_check(*, since=None) -> InvariantReport:
    """Run the invariant checker and keep its findings for staff (the admin's
    "Invariant reports"); reports older than the retention period are deleted.

    The check reads in its own snapshot; only the report is written, in a short
    transaction of its own, so a long check holds no lock on the shop's tables.
    """
    findings = invariants.check_invariants(since=since)
    with transaction.atomic():
        report = InvariantReport.objects.create(
            since=since, ok=not findings, findings=[finding.as_dict() for finding in findings]
        )
        cutoff = timezone.now() - timedelta(days=settings.INVARIANTS_REPORT_RETENTION_DAYS)
        InvariantReport.objects.filter(ran_at__lt=cutoff).delete()
    return report
