"""Running jobs. Every runner calls ``execute(job_id)``; where it runs is the runner's choice.

``REALTIME_ADMIN["JOB_RUNNER"]`` names the runner class (default: ``ThreadRunner``, a thread
of the process that served the admin request: fine for one process and development).
"""

from __future__ import annotations

import inspect
import logging
import threading

from asgiref.sync import async_to_sync
from django.db import close_old_connections, connections
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from .. import conf
from ..actor import acting_as
from .models import Job
from .progress import JobCancelled, JobContext, Reporter
from .selection import resolve

logger = logging.getLogger("realtime_admin.jobs")


class ThreadRunner:
    """Runs each job in a daemon thread of this process. A job dies with its process; the
    heartbeat then goes stale and the job is marked failed."""

    def start(self, job_id: int) -> None:
        threading.Thread(
            target=self._run, args=(job_id,), name=f"realtime_admin-job-{job_id}", daemon=True
        ).start()

    def _run(self, job_id: int) -> None:
        try:
            execute(job_id)
        finally:
            connections.close_all()  # this thread's connections die with it


def get_runner():
    return import_string(conf.get("JOB_RUNNER"))()


def start(job_id: int) -> None:
    """Hand a committed job to the configured runner; a job it cannot take is failed."""
    try:
        get_runner().start(job_id)
    except Exception as error:
        logger.exception("realtime_admin: could not start job %s", job_id)
        finish(Job.objects.get(pk=job_id), Job.Status.FAILED, error=str(error) or repr(error))


def execute(job_id: int) -> None:
    """Run a queued job to its end and record how it ended. Never raises."""
    close_old_connections()
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    if not claimed:  # already run, or not ours: at most once
        return
    job = Job.objects.get(pk=job_id)
    job.publish()
    reporter = Reporter(job_id)
    reporter.start()
    status, outcome = Job.Status.FAILED, {}
    try:
        if job.cancel_requested:
            raise JobCancelled
        model_admin, function, request, queryset = resolve(job)
        context = JobContext(job, request.user, reporter)
        with acting_as(request.user):  # its changes are shown as made by who started it
            if inspect.iscoroutinefunction(function):
                result = async_to_sync(function)(model_admin, context, queryset)
            else:
                result = function(model_admin, context, queryset)
        status, outcome = Job.Status.SUCCEEDED, {"result": "" if result is None else str(result)}
    except JobCancelled:
        status = Job.Status.CANCELLED
        outcome = {
            "result": _("Cancelled after %(done)s of %(total)s.")
            % {"done": job.done, "total": job.total if job.total is not None else "?"}
        }
    except BaseException as error:  # even CancelledError or SystemExit: record, then go on
        logger.exception("realtime_admin: job %s (%s) failed", job.pk, job.action)
        outcome = {"error": str(error) or type(error).__name__}  # the traceback stays in the log
        if isinstance(error, KeyboardInterrupt | SystemExit):
            reporter.stop()
            finish(job, status, **outcome)
            raise
    finally:
        reporter.stop()  # (before the end is written: no older progress after it)
    finish(job, status, **outcome)


def finish(job: Job, status: str, result: str = "", error: str = "") -> None:
    """Record how a job ended, touching only what the run decides (a cancel request, a
    dismissal or a deletion made meanwhile stay), and tell the pages watching it."""
    job.status, job.result, job.error = status, result, error
    job.finished_at = job.heartbeat_at = timezone.now()
    fields = [
        "status",
        "result",
        "error",
        "finished_at",
        "heartbeat_at",
        "done",
        "total",
        "message",
    ]
    try:
        updated = Job.objects.filter(pk=job.pk).update(
            **{name: getattr(job, name) for name in fields}
        )
    except Exception:
        logger.exception("realtime_admin: could not record how job %s ended", job.pk)
        return
    if updated:  # (a job deleted meanwhile is gone from its pages already)
        job.publish()
