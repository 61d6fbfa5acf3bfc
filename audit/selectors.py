from .models import InvariantReport


def last_invariant_report() -> InvariantReport | None:
    return InvariantReport.objects.order_by("-ran_at", "-id").first()
