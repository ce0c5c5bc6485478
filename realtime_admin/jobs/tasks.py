"""A job runner on Django's tasks framework: jobs survive the web process and scale out.

``django.tasks`` on Django 6.x, the ``django-tasks`` backport on 5.2. The framework has no
worker of its own: use a backend with one, e.g. django-tasks-db (``manage.py db_worker``)::

    INSTALLED_APPS += ["django_tasks_db"]          # and "django_tasks" on Django 5.2
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    REALTIME_ADMIN = {"JOB_RUNNER": "realtime_admin.jobs.tasks.TasksRunner"}
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

try:
    from django.tasks import task
except ImportError:  # Django 5.2
    try:
        from django_tasks import task
    except ImportError:
        raise ImproperlyConfigured(
            "realtime_admin's TasksRunner needs Django's tasks framework: Django 6 or, on "
            "Django 5.2, the backport (pip install django-tasks)."
        ) from None

from .runners import execute


@task
def run_job(job_id: int) -> None:
    execute(job_id)


class TasksRunner:
    """Enqueues each job as a task; whichever worker takes it calls ``execute``."""

    def start(self, job_id: int) -> None:
        run_job.enqueue(job_id)
