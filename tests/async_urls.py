"""The example project's URLs, plus tests/async_site.py's admin at /async-admin/."""

from demo.urls import urlpatterns as demo_urlpatterns
from django.urls import path

from tests.async_site import site

urlpatterns = [path("async-admin/", site.urls), *demo_urlpatterns]
