from django.contrib import admin
from django.template.loader import render_to_string

from project.admin_helpers import ReadOnlyAdmin

from .models import InvariantReport


@admin.register(InvariantReport)
class InvariantReportAdmin(ReadOnlyAdmin):
    """What the periodic invariant check found (``audit.check_invariants``); written
    by the check only."""

    list_display = ("ran_at", "ok", "finding_count", "since")
    list_filter = ("ok", ("ran_at", admin.DateFieldListFilter))
    date_hierarchy = "ran_at"
    fields = ("ran_at", "ok", "since", "findings_table")
    readonly_fields = fields

    @admin.display(description="findings")
    def finding_count(self, obj):
        return len(obj.findings)

    @admin.display(description="findings")
    def findings_table(self, obj):
        return render_to_string("audit/admin/findings.html", {"findings": obj.findings})
