from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from .jobs.models import Job


def request_cancel(job: Job) -> None:
    """Ask a job to stop at its next item (one still queued never starts), and tell the pages
    watching it."""
    from .jobs.runners import finish

    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    job.cancel_requested = True
    if Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(status=Job.Status.CANCELLED):
        finish(job, Job.Status.CANCELLED, result=str(_("Cancelled before it started.")))
    else:
        job.publish()


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Background jobs, read-only (they may be cancelled or deleted: a running job stops at
    its next step), live like any changelist."""

    # Few columns, so that the list fits beside the navigation sidebar at 1280 px.
    list_display = ["description", "state", "user", "created_at", "took"]
    list_filter = ["status", "model"]
    search_fields = ["description", "action"]
    list_select_related = ["user"]
    actions = ["cancel"]

    @admin.display(description=_("status"), ordering="status")
    def state(self, job: Job) -> str:
        """ "Running: 3 of 40" """
        status = job.get_status_display()
        if job.total is not None:
            done = _("%(done)s of %(total)s") % {"done": job.done, "total": job.total}
            return f"{status}: {done}"
        return f"{status}: {job.done}" if job.done else status

    @admin.display(description=_("duration"), ordering="finished_at")
    def took(self, job: Job) -> str:
        duration = job.duration
        return f"{duration.total_seconds():.1f} s" if duration is not None else "–"

    @admin.action(description=_("Cancel selected jobs"), permissions=["view"])
    def cancel(self, request, queryset):
        jobs = list(queryset.exclude(status__in=Job.FINISHED))
        for job in jobs:
            request_cancel(job)
        count = len(jobs)
        self.message_user(
            request,
            ngettext("Asked %(count)d job to stop.", "Asked %(count)d jobs to stop.", count)
            % {"count": count},
        )

    def get_urls(self):
        # What the job panel on other changelists posts to.
        return [
            path("<int:job_id>/cancel/", self.admin_site.admin_view(self.cancel_view)),
            path("<int:job_id>/dismiss/", self.admin_site.admin_view(self.dismiss_view)),
            *super().get_urls(),
        ]

    def _job_for(self, request, job_id: int) -> Job:
        job = get_object_or_404(Job, pk=job_id)
        if not job.may_be_seen_by(request.user):
            raise PermissionDenied
        return job

    @method_decorator(require_POST)
    def cancel_view(self, request, job_id: int):
        job = self._job_for(request, job_id)
        if not job.finished:
            request_cancel(job)
        return JsonResponse(job.state())

    @method_decorator(require_POST)
    def dismiss_view(self, request, job_id: int):
        job = self._job_for(request, job_id)
        if job.user_id != request.user.pk:  # the result is the starter's to put away
            raise PermissionDenied
        if Job.objects.filter(pk=job.pk, dismissed_at__isnull=True).update(
            dismissed_at=timezone.now()
        ):
            job.tell_its_users_tabs()  # they put it away too
        return JsonResponse({"id": job.pk, "dismissed": True})

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        obj.tell_its_users_tabs()  # they put it away; a running one stops at its next step

    def delete_queryset(self, request, queryset):
        starters = {job.user_id: job for job in queryset.only("pk", "user")}.values()
        super().delete_queryset(request, queryset)
        for job in starters:
            job.tell_its_users_tabs()

    def changelist_view(self, request, extra_context=None):
        Job.objects.fail_stale()  # none stays "running" after its worker died
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
