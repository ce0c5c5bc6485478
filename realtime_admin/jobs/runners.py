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
from .models import Job, stale_after
from .progress import JobCancelled, JobContext
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


class _Heartbeat(threading.Thread):
    """Marks the job alive while its action works on a long item without reporting."""

    def __init__(self, job_id: int) -> None:
        super().__init__(name=f"realtime_admin-heartbeat-{job_id}", daemon=True)
        self.job_id, self.stopped = job_id, threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(stale_after().total_seconds() / 4):
                Job.objects.filter(pk=self.job_id).update(heartbeat_at=timezone.now())
        finally:
            connections.close_all()


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
    heartbeat = _Heartbeat(job_id)
    heartbeat.start()
    try:
        if job.cancel_requested:
            raise JobCancelled
        model_admin, function, request, queryset = resolve(job)
        context = JobContext(job, request.user)
        if inspect.iscoroutinefunction(function):
            result = async_to_sync(function)(model_admin, context, queryset)
        else:
            result = function(model_admin, context, queryset)
    except JobCancelled:
        job.status = Job.Status.CANCELLED
        job.result = _("Cancelled after %(done)s of %(total)s.") % {
            "done": job.done,
            "total": job.total if job.total is not None else "?",
        }
    except Exception as error:
        logger.exception("realtime_admin: job %s (%s) failed", job.pk, job.action)
        job.status = Job.Status.FAILED
        job.error = str(error) or type(error).__name__  # the traceback stays in the log
    else:
        job.status = Job.Status.SUCCEEDED
        job.result = "" if result is None else str(result)
    finally:
        heartbeat.stopped.set()
    job.finished_at = job.heartbeat_at = timezone.now()
    job.save()
    job.publish()
