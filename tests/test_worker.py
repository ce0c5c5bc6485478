"""The tasks runner with a real worker process (django-tasks-db's db_worker) and Redis."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.test import Client

from realtime_admin.jobs.models import Job
from tests import factories
from tests.test_consumer import connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]
ROOT = Path(__file__).resolve().parent.parent
TASKS_RUNNER = "realtime_admin.jobs.tasks.TasksRunner"


def start_worker(*args: str, stale_after: float | None = None) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "RA_TEST_LAYER": "redis",
        "RA_TEST_USE_TEST_DB": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example_project")]),
    }
    if stale_after:
        env["RA_TEST_JOB_STALE_AFTER"] = str(stale_after)
    command = [sys.executable, "-m", "django", "db_worker", "--no-startup-delay"]
    return subprocess.Popen([*command, "--interval", "0.1", *args], cwd=ROOT, env=env)


def run_recalculate(client: Client, orders) -> int:
    client.post(
        "/admin/shop/order/",
        {"action": "recalculate", "index": 0, "_selected_action": [o.pk for o in orders]},
    )
    return Job.objects.latest("pk").pk


@pytest.fixture
def tasks_runner(settings, redis_layer):
    settings.REALTIME_ADMIN = {**settings.REALTIME_ADMIN, "JOB_RUNNER": TASKS_RUNNER}


async def test_a_worker_process_runs_the_job_and_its_progress_reaches_the_socket(tasks_runner):
    root = await database_sync_to_async(factories.superuser)()
    orders = [await database_sync_to_async(factories.order)() for _ in range(4)]
    client = Client()
    await sync_to_async(client.force_login)(root)
    job_id = await sync_to_async(run_recalculate)(client, orders)
    assert (await Job.objects.aget(pk=job_id)).status == "queued"  # enqueued, not run here

    communicator, _ = await connect(root)
    await communicator.send_json_to({"type": "job", "id": job_id})
    assert (await communicator.receive_json_from())["job"]["status"] == "queued"
    worker = await sync_to_async(start_worker)("--batch")  # runs what is queued, then exits
    states = []
    while not states or states[-1]["status"] in ("queued", "running"):
        states.append((await communicator.receive_json_from(timeout=20))["job"])
    assert await sync_to_async(worker.wait)(timeout=30) == 0
    assert states[-1]["status"] == "succeeded"
    assert states[-1]["result"] == "Recalculated 4 orders."
    done = [state["done"] for state in states]
    assert done == sorted(done) and done[-1] == 4
    assert len(set(done)) >= 4  # 0.4 s per order: every step reached the socket
    await communicator.disconnect()


def test_a_job_whose_worker_is_killed_is_marked_failed(tasks_runner, settings):
    settings.REALTIME_ADMIN = {
        **settings.REALTIME_ADMIN,
        "JOB_RUNNER": TASKS_RUNNER,
        "JOB_STALE_AFTER": 2,
    }
    client = Client()
    client.force_login(factories.superuser())
    job_id = run_recalculate(client, [factories.order() for _ in range(20)])
    worker = start_worker(stale_after=2)
    try:
        deadline = time.monotonic() + 30
        while Job.objects.get(pk=job_id).done < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert Job.objects.get(pk=job_id).status == "running"
        worker.send_signal(signal.SIGKILL)  # the worker dies mid-job
        worker.wait(timeout=10)
    finally:
        worker.kill()
    time.sleep(0.5)
    assert Job.objects.get(pk=job_id).status == "running"  # nobody knows yet
    time.sleep(2.5)  # past JOB_STALE_AFTER without a heartbeat
    client.get("/admin/realtime_admin/job/")
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.error) == ("failed", "The worker running this job stopped.")
    assert 1 <= job.done < 20
