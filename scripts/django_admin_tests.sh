#!/usr/bin/env bash
# Django's own admin test suites with realtime_admin (and channels) installed: installing the
# app must not break any of them. Runs the suites from the sdist of the Django installed in
# the virtualenv, through its tests/runtests.py, on SQLite.
#   VENV      the virtualenv with realtime_admin installed (default: .venv)
#   PARALLEL  test processes (default: the number of cores)
# Extra arguments replace the default list of suites.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON="$PWD/$VENV/bin/python"
PARALLEL=${PARALLEL:-$(nproc)}
SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=(admin_changelist admin_views admin_inlines modeladmin admin_checks)

version=$("$PYTHON" -c 'import django; print(django.get_version())')
work=$(mktemp -d "${TMPDIR:-/tmp}/ra-django-tests-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    --dest "$work" "Django==$version"
tar -xzf "$work"/[Dd]jango-"$version".tar.gz -C "$work"
tests="$work/django-$version/tests"
[ -d "$tests" ] || tests=$(echo "$work"/[Dd]jango-"$version"/tests)

# realtime_admin and channels join the apps every suite runs with, before the admin (as the
# install instructions say); the settings add what realtime_admin's checks require.
"$PYTHON" - "$tests/runtests.py" <<'EOF'
import sys
from pathlib import Path

runtests = Path(sys.argv[1])
source = runtests.read_text()
admin = '"django.contrib.admin.apps.SimpleAdminConfig",'
assert source.count(admin) == 1, "runtests.py changed: update scripts/django_admin_tests.sh"
runtests.write_text(source.replace(admin, f'"channels", "realtime_admin", {admin}'))
EOF
cat > "$tests/realtime_admin_settings.py" <<'EOF'
from test_sqlite import *  # noqa: F403

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
ASGI_APPLICATION = "realtime_admin_asgi.application"
EOF
cat > "$tests/realtime_admin_asgi.py" <<'EOF'
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

from realtime_admin.auth import AuthMiddlewareStack
from realtime_admin.routing import websocket_urlpatterns

application = ProtocolTypeRouter(
    {
        "http": get_asgi_application(),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
EOF

echo "Django $version's ${SUITES[*]} with realtime_admin installed ($PARALLEL processes)"
cd "$tests"
# Nothing from requirements/py3.txt is installed: the suites skip what needs a missing extra.
"$PYTHON" runtests.py --settings=realtime_admin_settings --parallel "$PARALLEL" "${SUITES[@]}"
