"""What realtime_admin adds to a changelist page costs nothing it need not: found by running
Django's own admin test suites with the app installed (scripts/django_admin_tests.sh)."""

import logging

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext

from realtime_admin.checks import check_installation

pytestmark = pytest.mark.django_db


def job_queries(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in queries.captured_queries if "realtime_admin_job" in q["sql"]]


def test_a_changelist_without_background_actions_makes_no_job_queries(admin_client):
    assert job_queries(admin_client, "/admin/shop/customer/") == []
    # Orders have background actions: their page shows the user's jobs.
    assert job_queries(admin_client, "/admin/shop/order/")


def test_the_page_reads_the_csp_nonce_without_a_failed_variable_lookup(admin_client, caplog):
    with caplog.at_level(logging.DEBUG, logger="django.template"):
        page = admin_client.get("/admin/shop/order/").content.decode()
    assert "realtime_admin/changelist.js" in page
    assert not [r for r in caplog.records if "csp_nonce" in r.getMessage()]
    tag = Template("{% load realtime_admin %}<script{% realtime_admin_nonce %}>")
    assert tag.render(Context({"csp_nonce": 'a"b'})) == '<script nonce="a&quot;b">'
    assert tag.render(Context({})) == "<script>"


def test_the_installation_check_copes_with_apps_that_leave_realtime_admin_out(settings):
    settings.INSTALLED_APPS = ["django.contrib.admin", "django.contrib.auth", "channels"]
    assert [error.id for error in check_installation(None)] == []


def test_a_changelist_whose_urls_are_not_routed_renders_as_the_stock_page(rf):
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    site = admin.AdminSite(name="unrouted")  # in no URLconf, nor is Permission in any site
    model_admin = admin.ModelAdmin(Permission, site)
    request = rf.get("/")
    request.user = get_user_model().objects.create_superuser("root", "r@example.com", "pw")
    response = model_admin.changelist_view(request)
    page = response.render().content.decode()
    assert 'id="result_list"' in page
    assert "realtime-admin-config" not in page
