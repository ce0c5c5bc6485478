"""The persisted state of a background admin action."""

from __future__ import annotations

import functools
from datetime import timedelta

from django.conf import settings
from django.db import models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def stale_after() -> timedelta:
    """A running job whose heartbeat is older than this has lost its worker."""
    from .. import conf

    return timedelta(seconds=conf.get("JOB_STALE_AFTER"))


# The most finished jobs not yet dismissed that a page lists (the newest), beside every job
# still queued or running.
SHOWN_PER_PAGE = 5
# Where a job was run from (Job.location).
CHANGELIST, CHANGE_FORM = "changelist", "change_form"


class JobQuerySet(models.QuerySet):
    def shown_on(self, user_id: int, model: str, site: str, pk: str | None = None) -> list[dict]:
        """The states of a user's jobs that a page lists: a changelist's (``pk`` None) or
        those run from the change form of object ``pk``. Every one queued or running, and the
        newest finished ones not yet dismissed, so that a result that came while nobody
        watched is shown on the next visit; oldest first."""
        jobs = self.filter(
            user_id=user_id,
            model=model,
            site=site,
            location=CHANGELIST if pk is None else CHANGE_FORM,
            dismissed_at__isnull=True,
        )
        if pk is not None:
            jobs = jobs.filter(pks=[pk])
        jobs.fail_stale()
        unfinished = list(jobs.exclude(status__in=Job.FINISHED))
        finished = list(jobs.filter(status__in=Job.FINISHED)[:SHOWN_PER_PAGE])
        oldest_first = sorted(unfinished + finished, key=lambda job: (job.created_at, job.pk))
        return [job.state() for job in oldest_first]

    def stale(self):
        return self.filter(
            status=Job.Status.RUNNING, heartbeat_at__lt=timezone.now() - stale_after()
        )

    def fail_stale(self) -> int:
        """Mark jobs whose worker died as failed, so none stays "running" forever."""
        stale = list(self.stale().values_list("pk", flat=True))
        failed = Job.objects.filter(pk__in=stale, status=Job.Status.RUNNING).update(
            status=Job.Status.FAILED,
            error=str(_("The worker running this job stopped.")),
            finished_at=timezone.now(),
        )
        if failed:
            announce(stale)
        return failed


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    description = models.CharField(_("action"), max_length=200)
    action = models.CharField(_("action name"), max_length=100)
    # Where it was run from: CHANGELIST, or (Django 6.1+) CHANGE_FORM for one object.
    location = models.CharField(_("run from"), max_length=20, default=CHANGELIST)
    model = models.CharField(_("model"), max_length=100)  # app_label.model_name
    site = models.CharField(_("admin site"), max_length=100, default="admin")
    # The selection: these pks, or with select_across every row matching the querystring.
    pks = models.JSONField(_("selected pks"), default=list, blank=True)
    select_across = models.BooleanField(_("all matching rows"), default=False)
    querystring = models.TextField(_("changelist querystring"), blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    done = models.PositiveIntegerField(_("done"), default=0)
    total = models.PositiveIntegerField(_("total"), null=True, blank=True)
    message = models.CharField(_("message"), max_length=300, blank=True)
    result = models.TextField(_("result"), blank=True)
    error = models.TextField(_("error"), blank=True)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("heartbeat"), null=True, blank=True)
    # Set when the user closes the finished job's message on the changelist.
    dismissed_at = models.DateTimeField(_("dismissed"), null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        app_label = "realtime_admin"
        ordering = ["-created_at", "-pk"]
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.description} ({self.get_status_display()})"

    def state(self) -> dict:
        """What the job panel shows, as primitives (the channel layer carries this)."""
        return {
            "id": self.pk,
            "description": self.description,
            "status": self.status,
            "done": self.done,
            "total": self.total,
            "message": self.message,
            "result": self.result,
            "error": self.error,
            "cancelRequested": self.cancel_requested,
        }

    def publish(self) -> None:
        """Tell the pages watching this job its state (best effort, like every notice)."""
        publish_state(self.pk, self.state())

    def tell_its_users_tabs(self) -> None:
        """Once the transaction under way commits (so they can read it), tell the pages of
        this job's user that their list of jobs changed: it started, or was dismissed."""
        from .. import bus

        announce = functools.partial(bus.publish_user_jobs, self.user_id)
        transaction.on_commit(announce, using=router.db_for_write(Job))

    def may_be_seen_by(self, user) -> bool:
        """The user who started it, superusers, and users with the view_job permission."""
        return bool(
            user
            and user.is_active
            and user.is_staff
            and (user.pk == self.user_id or user.has_perm("realtime_admin.view_job"))
        )

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def duration(self) -> timedelta | None:
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


def publish_state(job_id: int, state: dict) -> None:
    """Tell the pages watching a job its state, and the Background jobs changelists that
    its row changed (written with ``update()``, which sends no signal)."""
    from .. import bus

    bus.publish_job(job_id, state)
    announce([job_id])


def announce(job_ids: list[int]) -> None:
    from .. import bus, capture

    capture.record(Job, job_ids, bus.UPDATED, router.db_for_write(Job), explicit=True)
