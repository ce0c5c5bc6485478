"""System checks name what is wrong with an install."""

import pytest
from django.conf import settings
from django.core import checks
from django.test import override_settings
from shop.models import Order

from realtime_admin.checks import (
    check_installation,
    check_layer_for_deployment,
    check_redis_socket_timeout,
    check_websocket_route,
    check_websocket_stack,
)
from tests import factories

STOCK_APPS = settings.INSTALLED_APPS


def ids(messages):
    return [message.id for message in messages]


def test_a_correct_install_has_no_messages():
    assert check_installation(None) == []


@pytest.mark.django_db  # JSONField's check asks the database
def test_the_project_checks_pass():
    assert [m for m in checks.run_checks() if m.id.startswith("realtime_admin")] == []


@override_settings(INSTALLED_APPS=[a for a in STOCK_APPS if a != "channels"])
def test_channels_missing():
    assert ids(check_installation(None)) == ["realtime_admin.E001"]


@override_settings(
    INSTALLED_APPS=[
        "daphne",
        "channels",
        "django.contrib.admin",
        "realtime_admin.apps.RealtimeAdminConfig",
    ]
)
def test_listed_after_the_admin():
    messages = check_installation(None)
    assert ids(messages) == ["realtime_admin.E002"]
    assert "Move" in messages[0].hint


@override_settings(ASGI_APPLICATION=None)
def test_no_asgi_application():
    assert ids(check_installation(None)) == ["realtime_admin.E003"]


@override_settings(CHANNEL_LAYERS={})
def test_no_channel_layer():
    assert ids(check_installation(None)) == ["realtime_admin.E004"]


@pytest.mark.parametrize(
    "layer, said",
    [
        ({"BACKEND": "channels_redis.core.RedisChannelLayr"}, "Cannot import BACKEND"),
        (
            {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"hosts": ["x"]}},
            "hosts",
        ),
    ],
)
def test_a_channel_layer_that_cannot_be_made(settings, layer, said):
    settings.CHANNEL_LAYERS = {"default": layer}
    [message] = check_installation(None)
    assert message.id == "realtime_admin.E006" and said in message.msg


@pytest.mark.django_db(transaction=True)  # autocommit: each save is published at once
def test_a_broken_channel_layer_never_fails_a_save(settings, caplog):
    """The row is committed before anything is published: a save must not raise for a
    layer that cannot be made (E006 says so at startup); the log says so once."""
    from realtime_admin import bus

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayr"}}
    bus._warned_broken_layer.clear()
    with caplog.at_level("ERROR", logger="realtime_admin"):
        factories.order()
        factories.order()
    assert Order.objects.count() == 2
    said = [r for r in caplog.records if "channel layer cannot be made" in r.getMessage()]
    assert len(said) == 1


@pytest.mark.django_db
def test_the_in_memory_layer_is_flagged_for_deployment(settings):
    settings.CHANNEL_LAYERS = settings.IN_MEMORY_LAYERS
    assert ids(check_layer_for_deployment(None)) == ["realtime_admin.W001"]
    assert "realtime_admin.W001" in ids(checks.run_checks(include_deployment_checks=True))
    settings.CHANNEL_LAYERS = settings.REDIS_LAYERS
    assert check_layer_for_deployment(None) == []


@pytest.mark.parametrize(
    "hosts, warned",
    [
        (["redis://127.0.0.1:6379"], True),
        ([("127.0.0.1", 6379)], True),
        ([{"address": "redis://127.0.0.1:6379"}], True),
        ([{"address": "redis://127.0.0.1:6379", "socket_timeout": 5}], True),
        ([{"address": "redis://127.0.0.1:6379", "socket_timeout": 10}], False),
        ([{"address": "redis://127.0.0.1:6379", "socket_timeout": None}], False),
    ],
)
def test_redis_py_8_needs_a_longer_socket_timeout(settings, monkeypatch, hosts, warned):
    monkeypatch.setattr("realtime_admin.checks._redis_py_major", lambda: 8)
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": hosts}}
    }
    assert ids(check_redis_socket_timeout(None)) == (["realtime_admin.W002"] if warned else [])
    monkeypatch.setattr("realtime_admin.checks._redis_py_major", lambda: 7)
    assert check_redis_socket_timeout(None) == []


def test_the_demo_websocket_stack_is_safe():
    assert check_websocket_stack(None) == []


@override_settings(ASGI_APPLICATION="tests.asgi_variants.without_origin_check")
def test_a_websocket_route_without_origin_check():
    assert ids(check_websocket_stack(None)) == ["realtime_admin.W003"]


@override_settings(
    ASGI_APPLICATION="tests.asgi_variants.with_channels_auth", SECRET_KEY_FALLBACKS=["old"]
)
def test_channels_auth_middleware_with_key_fallbacks():
    assert ids(check_websocket_stack(None)) == ["realtime_admin.W004"]


@override_settings(ASGI_APPLICATION="tests.asgi_variants.with_channels_auth")
def test_channels_auth_middleware_without_fallbacks_is_fine():
    assert check_websocket_stack(None) == []


@pytest.mark.parametrize(
    "application, warned",
    [("demo.asgi.application", False), ("tests.asgi_variants.stock", True)]
    + [("tests.asgi_variants.http_only", True), ("tests.asgi_variants.with_channels_auth", False)],
)
def test_an_asgi_application_that_serves_no_websocket(settings, application, warned):
    settings.ASGI_APPLICATION = application
    messages = check_websocket_route(None)
    assert ids(messages) == (["realtime_admin.W005"] if warned else [])
    if warned:
        assert f"ASGI_APPLICATION ({application}) serves no websockets" in messages[0].msg


def test_the_socket_timeout_warning_names_the_timeout_it_found(settings, monkeypatch):
    monkeypatch.setattr("realtime_admin.checks._redis_py_major", lambda: 8)
    layer = "channels_redis.core.RedisChannelLayer"
    for hosts, said in (
        ([{"address": "redis://x", "socket_timeout": 3}], "a socket_timeout of 3 s"),
        (["redis://x"], "redis-py's default socket_timeout (5 s)"),
    ):
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": layer, "CONFIG": {"hosts": hosts}}}
        assert said in check_redis_socket_timeout(None)[0].msg
