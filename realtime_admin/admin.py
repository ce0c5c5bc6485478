from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Background jobs, read-only, live like any changelist."""

    list_display = ["description", "model", "status", "progress", "user", "created_at", "took"]
    list_filter = ["status", "model"]
    search_fields = ["description", "action"]
    list_select_related = ["user"]
    actions = ["cancel"]

    @admin.display(description=_("progress"))
    def progress(self, job: Job) -> str:
        if job.total is None:
            return str(job.done) if job.done else "–"
        return _("%(done)s of %(total)s") % {"done": job.done, "total": job.total}

    @admin.display(description=_("duration"), ordering="finished_at")
    def took(self, job: Job) -> str:
        duration = job.duration
        return f"{duration.total_seconds():.1f} s" if duration is not None else "–"

    @admin.action(description=_("Cancel selected jobs"), permissions=["view"])
    def cancel(self, request, queryset):
        count = queryset.exclude(status__in=Job.FINISHED).update(cancel_requested=True)
        self.message_user(
            request,
            ngettext("Asked %(count)d job to stop.", "Asked %(count)d jobs to stop.", count)
            % {"count": count},
        )

    def changelist_view(self, request, extra_context=None):
        Job.objects.fail_stale()  # none stays "running" after its worker died
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
