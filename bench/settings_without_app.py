"""The demo project's settings without realtime_admin: the save-path baseline."""

from demo.settings import *  # noqa: F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "realtime_admin"]  # noqa: F405
# The stock admin would import the demo's admin modules, which use realtime_admin.
INSTALLED_APPS[INSTALLED_APPS.index("django.contrib.admin")] = (
    "django.contrib.admin.apps.SimpleAdminConfig"
)
