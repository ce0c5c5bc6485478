"""Background actions: the job API, running, failing, cancelling, and who sees what."""

import json
import os
import re
import time
from datetime import timedelta

import django
import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils import timezone
from shop.admin import OrderAdmin
from shop.models import Order

from realtime_admin import background_action
from realtime_admin.jobs.models import Job
from realtime_admin.jobs.progress import Reporter
from realtime_admin.jobs.runners import execute
from tests import factories, jobs_support

pytestmark = pytest.mark.django_db(transaction=True)
ORDERS = "/admin/shop/order/"


@pytest.fixture(autouse=True)
def recording_runner(settings):
    settings.REALTIME_ADMIN = {
        **settings.REALTIME_ADMIN,
        "JOB_RUNNER": "tests.jobs_support.RecordingRunner",
    }
    jobs_support.started.clear()
    return jobs_support.started


@pytest.fixture
def action(monkeypatch):
    """Install a background action on OrderAdmin for one test: action(function)."""

    def install(function, name="test_job"):
        wrapped = admin.action(description="Test job")(background_action(function))
        monkeypatch.setattr(OrderAdmin, name, wrapped, raising=False)
        monkeypatch.setattr(OrderAdmin, "actions", [*OrderAdmin.actions, name])
        return name

    return install


def run_action(client, name, pks=(), query="", **post):
    data = {"action": name, "index": 0, "_selected_action": [str(pk) for pk in pks], **post}
    return client.post(ORDERS + query, data)


def test_run_returns_at_once_and_the_job_records_the_selection(admin_client, action):
    name = action(lambda modeladmin, job, queryset: "done")
    orders = [factories.order() for _ in range(3)]
    started = time.monotonic()
    response = run_action(admin_client, name, [o.pk for o in orders[:2]])
    assert response.status_code == 302  # back to the changelist
    assert time.monotonic() - started < 2
    job = Job.objects.get()
    assert (job.status, job.action, job.model, job.description) == (
        "queued",
        name,
        "shop.order",
        "Test job",
    )
    assert sorted(job.pks) == sorted(str(o.pk) for o in orders[:2])
    assert (job.done, job.total, job.location) == (
        0,
        2,
        "changelist",
    )  # known from the selection before the job runs
    assert jobs_support.started == [job.pk]
    page = admin_client.get(response["Location"]).content.decode()
    assert "“Test job” is running in the background." in page


def test_track_counts_and_the_return_value_is_the_final_message(admin_client, action):
    seen = []

    def work(modeladmin, job, queryset):
        for order in job.track(queryset):
            seen.append(order.number)
        return f"Handled {len(seen)}"

    name = action(work)
    orders = [factories.order() for _ in range(4)]
    run_action(admin_client, name, [o.pk for o in orders])
    job = Job.objects.get()
    execute(job.pk)
    job.refresh_from_db()
    assert (job.status, job.done, job.total, job.result) == ("succeeded", 4, 4, "Handled 4")
    assert sorted(seen) == sorted(o.number for o in orders)
    assert job.started_at <= job.finished_at


def test_progress_writes_are_throttled_but_first_and_last_are_written(
    admin_client, action, monkeypatch
):
    def work(modeladmin, job, queryset):
        for _ in job.track(range(300)):
            time.sleep(0.001)  # 300 steps in about half a second

    name = action(work)
    run_action(admin_client, name, [factories.order().pk])
    job = Job.objects.get()
    writes = []
    write = Reporter.write

    def count(reporter, fields, state):
        if fields:
            writes.append(fields["done"])
        write(reporter, fields, state)

    monkeypatch.setattr(Reporter, "write", count)
    started = time.monotonic()
    execute(job.pk)
    elapsed = time.monotonic() - started
    assert writes[-1] == 300  # the last step, before the job's end is written
    assert len(writes) <= 2 + elapsed / 0.25  # the first, one per 250 ms, the last


@pytest.mark.skipif(
    os.environ.get("RA_TEST_DB") != "postgres",
    reason="SQLite has one writer at a time: nothing is written while the action's is open",
)
def test_progress_shows_while_the_action_holds_a_transaction_open(admin_client, action):
    """An action may wrap its whole loop in transaction.atomic(): its progress is written
    on a connection of its own, so others see it at once, and the job's row is not locked
    against the pages that look for dead workers."""
    import threading

    from django.db import transaction

    reported, finish = threading.Event(), threading.Event()

    def work(modeladmin, job, queryset):
        with transaction.atomic():
            job.progress(1, 3, message="one down")
            reported.set()
            assert finish.wait(10)

    name = action(work)
    run_action(admin_client, name, [factories.order().pk])
    job = Job.objects.get()
    runner = threading.Thread(target=execute, args=(job.pk,))
    runner.start()
    try:
        assert reported.wait(5)
        deadline = time.monotonic() + 2
        while Job.objects.get().done != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        seen = Job.objects.get()
        assert (seen.status, seen.done, seen.total, seen.message) == ("running", 1, 3, "one down")
        assert Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now()) == 1
    finally:
        finish.set()
        runner.join(10)
    assert Job.objects.get().status == "succeeded"


def test_progress_without_a_loop(admin_client, action):
    def work(modeladmin, job, queryset):
        job.progress(1, 3, message="Step one")
        job.progress(3, message="All done")

    name = action(work)
    run_action(admin_client, name, [factories.order().pk])
    execute(Job.objects.get().pk)
    job = Job.objects.get()
    assert (job.done, job.total, job.message, job.status) == (3, 3, "All done", "succeeded")


def test_an_exception_fails_the_job_with_its_message_and_logs_the_traceback(
    admin_client, action, caplog
):
    def work(modeladmin, job, queryset):
        raise ValueError("The printer is on fire")

    name = action(work)
    run_action(admin_client, name, [factories.order().pk])
    execute(Job.objects.get().pk)
    job = Job.objects.get()
    assert (job.status, job.error) == ("failed", "The printer is on fire")
    assert "Traceback" not in job.error
    assert any(
        r.exc_info and "The printer is on fire" in str(r.exc_info[1]) for r in caplog.records
    )


def test_cancelling_stops_at_the_next_item(admin_client, action):
    def work(modeladmin, job, queryset):
        for number in job.track(range(10)):
            if number == 2:  # the user presses Cancel while item 3 is worked on
                Job.objects.filter(pk=job.id).update(cancel_requested=True)
                time.sleep(0.3)  # past the cancel check's interval
        return "finished anyway"

    name = action(work)
    run_action(admin_client, name, [factories.order().pk])
    execute(Job.objects.get().pk)
    job = Job.objects.get()
    assert (job.status, job.done, job.result) == ("cancelled", 3, "Cancelled after 3 of 10.")


def test_a_job_cancelled_before_it_starts_never_runs(admin_client, action):
    ran = []
    name = action(lambda modeladmin, job, queryset: ran.append(1))
    run_action(admin_client, name, [factories.order().pk])
    Job.objects.update(cancel_requested=True)
    execute(Job.objects.get().pk)
    assert ran == []
    assert Job.objects.get().status == "cancelled"


def test_a_job_runs_at_most_once(admin_client, action):
    ran = []
    name = action(lambda modeladmin, job, queryset: ran.append(1))
    run_action(admin_client, name, [factories.order().pk])
    job = Job.objects.get()
    execute(job.pk)
    execute(job.pk)
    assert ran == [1]


def test_async_actions_run_with_async_for(admin_client, action):
    async def work(modeladmin, job, queryset):
        numbers = [order.number async for order in job.track(queryset)]
        await job.aprogress(len(numbers), message="checked")
        return ", ".join(sorted(numbers))

    name = action(work)
    orders = [factories.order(number=f"AS-{n}") for n in range(3)]
    run_action(admin_client, name, [o.pk for o in orders])
    execute(Job.objects.get().pk)
    job = Job.objects.get()
    assert (job.status, job.done, job.total) == ("succeeded", 3, 3)
    assert job.result == "AS-0, AS-1, AS-2"


def test_select_across_re_reads_every_matching_row_in_the_worker(admin_client, action):
    numbers = []

    def work(modeladmin, job, queryset):
        numbers.extend(queryset.values_list("number", flat=True))

    name = action(work)
    shown = factories.order(number="SA-paid-1", status="paid")
    factories.order(number="SA-new", status="new")
    # The page's boxes are all ticked, then "Select all N" chosen.
    run_action(admin_client, name, [shown.pk], select_across="1", query="?status__exact=paid")
    factories.order(number="SA-paid-2", status="paid")  # after the click, before the run
    execute(Job.objects.get().pk)
    assert sorted(numbers) == ["SA-paid-1", "SA-paid-2"]


def test_the_worker_applies_the_users_row_rules(client, action):
    alice = factories.staff("alice", "view_order", "change_order")
    hers = factories.order(owner=alice)
    theirs = factories.order()
    handled = []
    name = action(lambda modeladmin, job, queryset: handled.extend(queryset))
    client.force_login(alice)
    run_action(client, name, [hers.pk])
    Job.objects.update(pks=[str(hers.pk), str(theirs.pk)])  # a forged selection
    execute(Job.objects.get().pk)
    assert handled == [hers]
    assert Job.objects.get().user == alice


def test_a_user_who_lost_the_action_gets_a_failed_job(client, action):
    alice = factories.staff("alice", "view_order", "change_order")
    name = action(lambda modeladmin, job, queryset: "ran")
    client.force_login(alice)
    run_action(client, name, [factories.order(owner=alice).pk])
    alice.user_permissions.clear()
    execute(Job.objects.get().pk)
    job = Job.objects.get()
    assert (job.status, job.error) == ("failed", "You may no longer run this action.")


def test_a_job_whose_worker_died_is_marked_failed(admin_client):
    stale = Job.objects.create(
        description="Lost",
        action="x",
        model="shop.order",
        status=Job.Status.RUNNING,
        heartbeat_at=timezone.now() - timedelta(minutes=5),
    )
    alive = Job.objects.create(
        description="Alive",
        action="x",
        model="shop.order",
        status=Job.Status.RUNNING,
        heartbeat_at=timezone.now(),
    )
    page = admin_client.get("/admin/realtime_admin/job/")
    assert page.status_code == 200
    stale.refresh_from_db()
    alive.refresh_from_db()
    assert (stale.status, stale.error) == ("failed", "The worker running this job stopped.")
    assert alive.status == "running"


def test_the_job_list_is_read_only_and_cancels(admin_client):
    job = Job.objects.create(description="Long", action="x", model="shop.order")
    page = admin_client.get("/admin/realtime_admin/job/").content.decode()
    assert "realtime-admin-config" in page  # live like any changelist
    assert admin_client.get("/admin/realtime_admin/job/add/").status_code == 403
    admin_client.post(
        "/admin/realtime_admin/job/",
        {"action": "cancel", "index": 0, "_selected_action": [job.pk]},
    )
    job.refresh_from_db()
    assert job.cancel_requested


def test_the_thread_runner_runs_the_job_for_real(admin_client, action, settings):
    settings.REALTIME_ADMIN = {}  # the default runner: a thread of this process

    def work(modeladmin, job, queryset):
        for _ in job.track(queryset):
            time.sleep(0.05)
        return "threaded"

    name = action(work)
    run_action(admin_client, name, [factories.order().pk for _ in range(3)])
    deadline = time.monotonic() + 10
    while Job.objects.get().status not in Job.FINISHED and time.monotonic() < deadline:
        time.sleep(0.05)
    job = Job.objects.get()
    assert (job.status, job.done, job.result) == ("succeeded", 3, "threaded")


def test_a_transaction_per_item_rolls_back_that_item_alone(admin_client, action):
    from django.db import transaction

    def work(modeladmin, job, queryset):
        for order in job.track(queryset.order_by("number")):
            with transaction.atomic():
                order.status = "paid"
                order.save()
                if order.number == "AT-2":
                    raise ValueError("the second item fails after saving")

    name = action(work)
    orders = [factories.order(number=f"AT-{n}") for n in (1, 2)]
    run_action(admin_client, name, [o.pk for o in orders])
    execute(Job.objects.get().pk)
    statuses = dict(Order.objects.values_list("number", "status"))
    assert statuses == {"AT-1": "paid", "AT-2": "new"}  # AT-2's save was rolled back
    assert Job.objects.get().status == "failed"


def test_the_action_is_named_by_what_ran_not_by_the_other_action_bar(admin_client, action):
    ran = []
    name = action(lambda modeladmin, job, queryset: ran.append("background"))
    order = factories.order()
    # Both action bars post a select; the admin picks by index, the other may be stale.
    admin_client.post(
        ORDERS,
        {"action": [name, "mark_paid"], "index": 0, "_selected_action": [order.pk]},
    )
    job = Job.objects.get()
    assert job.action == name
    execute(job.pk)
    assert ran == ["background"]


def test_cancelling_a_queued_job_ends_it_at_once(admin_client, action):
    name = action(lambda modeladmin, job, queryset: "ran")
    run_action(admin_client, name, [factories.order().pk])
    job = Job.objects.get()
    answer = admin_client.post(f"/admin/realtime_admin/job/{job.pk}/cancel/").json()
    assert (answer["status"], answer["result"]) == ("cancelled", "Cancelled before it started.")
    execute(job.pk)  # the runner comes later: nothing to run
    assert Job.objects.get().status == "cancelled"


def test_a_runner_that_cannot_start_fails_the_job(admin_client, action, settings):
    settings.REALTIME_ADMIN = {
        **settings.REALTIME_ADMIN,
        "JOB_RUNNER": "tests.jobs_support.BrokenRunner",
    }
    name = action(lambda modeladmin, job, queryset: "ran")
    run_action(admin_client, name, [factories.order().pk])
    job = Job.objects.get()
    assert (job.status, job.error) == ("failed", "the queue is down")


def test_an_async_action_cancelled_by_asyncio_is_recorded(admin_client, action):
    import asyncio

    async def work(modeladmin, job, queryset):
        raise asyncio.CancelledError

    name = action(work)
    run_action(admin_client, name, [factories.order().pk])
    execute(Job.objects.get().pk)  # does not raise
    assert Job.objects.get().status == "failed"


def test_the_end_of_a_run_keeps_what_changed_meanwhile(admin_client, action):
    def work(modeladmin, job, queryset):
        Job.objects.filter(pk=job.id).delete()  # deleted from the job list while it ran

    name = action(work)
    run_action(admin_client, name, [factories.order().pk])
    execute(Job.objects.get().pk)
    assert not Job.objects.exists()  # not brought back by the final write


def test_select_across_from_a_later_page_survives_the_table_shrinking(admin_client, action):
    handled = []
    name = action(lambda modeladmin, job, queryset: handled.extend(queryset))
    orders = [factories.order() for _ in range(60)]
    run_action(admin_client, name, [orders[0].pk], select_across="1", query="?p=3")
    Order.objects.filter(pk__in=[o.pk for o in orders[:30]]).delete()  # now 2 pages
    execute(Job.objects.get().pk)
    assert (Job.objects.get().status, len(handled)) == ("succeeded", 30)


@pytest.fixture
def running_job():
    owner = factories.staff("owner", "view_order", "change_order")
    return Job.objects.create(description="Long", action="x", model="shop.order", user=owner)


def test_only_the_starter_dismisses_a_result(client, running_job):
    from django.contrib.auth.models import Permission

    watcher = factories.staff("watcher")
    watcher.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(watcher)
    assert client.post(f"/admin/realtime_admin/job/{running_job.pk}/dismiss/").status_code == 403


def test_the_starter_may_cancel_and_dismiss_their_job(client, running_job):
    client.force_login(running_job.user)
    base = f"/admin/realtime_admin/job/{running_job.pk}"
    assert client.get(f"{base}/cancel/").status_code == 405
    answer = client.post(f"{base}/cancel/").json()
    assert answer["cancelRequested"] is True and answer["id"] == running_job.pk
    assert client.post(f"{base}/dismiss/").json() == {"id": running_job.pk, "dismissed": True}
    running_job.refresh_from_db()
    assert running_job.cancel_requested and running_job.dismissed_at


def test_other_staff_may_not_touch_someone_elses_job(client, running_job):
    client.force_login(factories.staff("mallory", "view_order"))
    for what in ("cancel", "dismiss"):
        assert client.post(f"/admin/realtime_admin/job/{running_job.pk}/{what}/").status_code == 403
    running_job.refresh_from_db()
    assert not running_job.cancel_requested and not running_job.dismissed_at


def test_view_job_permission_and_superusers_may_cancel(client, running_job):
    from django.contrib.auth.models import Permission

    watcher = factories.staff("watcher")
    watcher.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(watcher)
    assert client.post(f"/admin/realtime_admin/job/{running_job.pk}/cancel/").status_code == 200


def plain_function_action(modeladmin, job, queryset):
    return f"plain {queryset.count()}"


def test_plain_function_actions_work_too(admin_client, monkeypatch):
    wrapped = admin.action(description="Plain")(background_action(plain_function_action))
    monkeypatch.setattr(OrderAdmin, "actions", [*OrderAdmin.actions, wrapped])
    run_action(admin_client, "plain_function_action", [factories.order().pk])
    execute(Job.objects.get().pk)
    job = Job.objects.get()
    assert (job.status, job.result, job.description) == ("succeeded", "plain 1", "Plain")


@pytest.mark.skipif(django.VERSION < (6, 1), reason="change-form actions are new in Django 6.1")
def test_a_change_form_action_runs_on_its_object(admin_client, monkeypatch):
    from django.contrib.admin.options import ActionLocation

    def work(modeladmin, job, queryset):
        return ", ".join(queryset.values_list("number", flat=True))

    wrapped = admin.action(description="On this order", location=ActionLocation.CHANGE_FORM)(
        background_action(work)
    )
    monkeypatch.setattr(OrderAdmin, "on_this_order", wrapped, raising=False)
    monkeypatch.setattr(OrderAdmin, "actions", [*OrderAdmin.actions, "on_this_order"])
    order = factories.order(number="CF-1")
    factories.order(number="CF-2")
    response = admin_client.post(
        f"{ORDERS}{order.pk}/change/",
        {"CHANGE_FORM-action": "on_this_order", "index": 0, "_selected_action": order.pk},
    )
    assert response.status_code == 302
    job = Job.objects.get()
    assert (job.action, job.location, job.pks) == ("on_this_order", "change_form", [str(order.pk)])
    execute(job.pk)
    job.refresh_from_db()
    assert (job.status, job.result) == ("succeeded", "CF-1")


@pytest.mark.skipif(django.VERSION < (6, 1), reason="change-form actions are new in Django 6.1")
def test_an_action_on_both_bars_is_recorded_where_it_ran_and_shown_there(admin_client):
    # The demo offers "recalculate" on the changelist and on the change form.
    order, other = factories.order(number="B-1"), factories.order(number="B-2")
    admin_client.post(
        f"{ORDERS}{order.pk}/change/",
        {"CHANGE_FORM-action": "recalculate", "index": 0, "_selected_action": order.pk},
    )
    run_action(admin_client, "recalculate", [order.pk, other.pk])
    from_form, from_list = Job.objects.order_by("pk")
    assert (from_form.location, from_form.pks) == ("change_form", [str(order.pk)])
    assert from_list.location == "changelist"
    assert sorted(from_list.pks) == sorted([str(order.pk), str(other.pk)])

    def jobs_on(path: str, config_id: str) -> list[int]:
        html = admin_client.get(path).content.decode()
        config = re.search(
            rf'<script id="{config_id}" type="application/json">(.*?)</script>', html
        )
        return [job["id"] for job in json.loads(config.group(1))["jobs"]]

    # Each page shows the jobs run from it: the form, those on its own object only.
    assert jobs_on(f"{ORDERS}{order.pk}/change/", "realtime-admin-change-form") == [from_form.pk]
    assert jobs_on(f"{ORDERS}{other.pk}/change/", "realtime-admin-change-form") == []
    assert jobs_on(ORDERS, "realtime-admin-config") == [from_list.pk]


def test_one_failed_write_does_not_stop_the_heartbeats(admin_client, action, settings, monkeypatch):
    """A job working on one long item relies on its heartbeat; one database error there (a
    dropped connection, a failover) must not stop the heartbeats for the rest of the job,
    or its pages would mark it failed while it runs."""
    from django.db import OperationalError

    from realtime_admin.jobs import models as job_models

    settings.REALTIME_ADMIN = {**settings.REALTIME_ADMIN, "JOB_STALE_AFTER": 0.4}
    stock_update, failed = job_models.JobQuerySet.update, []

    def flaky_update(queryset, **fields):
        if set(fields) == {"heartbeat_at"} and not failed:
            failed.append(True)
            raise OperationalError("server closed the connection unexpectedly")
        return stock_update(queryset, **fields)

    monkeypatch.setattr(job_models.JobQuerySet, "update", flaky_update)
    seen = []

    def work(modeladmin, job, queryset):
        for _ in range(4):
            time.sleep(0.3)  # one long item, no progress meanwhile
            Job.objects.fail_stale()  # what a page showing the job does
            seen.append(Job.objects.get(pk=job.id).status)

    name = action(work)
    run_action(admin_client, name, [factories.order().pk])
    execute(Job.objects.get().pk)
    assert failed and seen == ["running"] * 4
    assert Job.objects.get().status == "succeeded"


def test_running_jobs_stay_listed_however_many_finished_ones_wait():
    user = factories.superuser()
    fields = {"action": "x", "model": "shop.order", "user": user}
    Job.objects.create(description="Long", status="running", **fields)
    for n in range(6):
        Job.objects.create(description=f"Quick {n}", status="succeeded", **fields)
    listed = [job["description"] for job in Job.objects.shown_on(user.pk, "shop.order", "admin")]
    assert listed == ["Long", "Quick 1", "Quick 2", "Quick 3", "Quick 4", "Quick 5"]


def test_deleting_a_running_job_stops_it_at_its_next_step_and_tells_its_users_tabs(
    admin_client, action, monkeypatch
):
    from realtime_admin import bus

    done = []

    def work(modeladmin, job, queryset):
        for order in job.track(queryset):
            if not done:  # deleted in the admin while it works on its first item
                admin_client.post(
                    "/admin/realtime_admin/job/",
                    {"action": "delete_selected", "_selected_action": [job.id], "post": "yes"},
                )
            done.append(order.pk)
            time.sleep(0.3)

    name = action(work)
    run_action(admin_client, name, [factories.order().pk for _ in range(3)])
    told = []
    monkeypatch.setattr(bus, "publish_user_jobs", told.append)
    monkeypatch.setattr(bus, "publish_job", lambda job_id, state: told.append(state["status"]))
    execute(Job.objects.get().pk)
    assert len(done) == 1 and not Job.objects.exists()
    user_id = get_user_model().objects.get(username="admin").pk
    # Its progress while it ran; then its user's tabs drop it, and no state of a job that
    # is gone follows.
    assert told[-1] == user_id and set(told[:-1]) == {"running"}


def test_the_background_jobs_changelist_hears_of_each_step_and_the_end(
    admin_client, action, monkeypatch
):
    """Job rows are written with update() (no signal): each write is announced."""
    from realtime_admin import bus

    def work(modeladmin, job, queryset):
        for _ in job.track(queryset):
            time.sleep(0.3)

    name = action(work)
    run_action(admin_client, name, [factories.order().pk for _ in range(2)])
    job = Job.objects.get()
    announced = []
    monkeypatch.setattr(
        bus, "publish", lambda changes, by=None: announced.append(changes.get("realtime_admin.job"))
    )
    execute(job.pk)
    told = [rows for rows in announced if rows]
    assert len(told) >= 3 and all(rows == {str(job.pk): "updated"} for rows in told)
    stale = Job.objects.create(description="x", action="x", model="shop.order", status="running")
    Job.objects.filter(pk=stale.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    announced.clear()
    assert Job.objects.fail_stale() == 1
    assert announced == [{str(stale.pk): "updated"}]
