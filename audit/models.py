from django.db import models


class InvariantReport(models.Model):
    """One run of the invariant checker (``audit.invariants``), kept for staff."""

    ran_at = models.DateTimeField(auto_now_add=True, db_index=True)
    since = models.DateTimeField(null=True, blank=True, help_text="Orders, runs and events since then (blank: all).")
    ok = models.BooleanField(help_text="Every invariant held.")
    findings = models.JSONField(default=list, help_text="One {invariant, subject, detail} per offender.")

    class Meta:
        ordering = ["-ran_at", "-id"]

    def __str__(self) -> str:
        outcome = "ok" if self.ok else f"{len(self.findings)} findings"
        return f"Invariant check at {self.ran_at:%Y-%m-%d %H:%M:%S}: {outcome}"
