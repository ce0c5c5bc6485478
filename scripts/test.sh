#!/usr/bin/env bash
# Installs realtime_admin with its test extras into a virtualenv and runs ruff and the whole
# test suite, on SQLite and then on PostgreSQL (127.0.0.1:5432, user postgres).
#   PYTHON   the interpreter to build the virtualenv from (default: python3)
#   VENV     the virtualenv's directory (default: .venv)
#   DJANGO   a pip requirement pinning Django (default: the newest your Python allows)
#   BROWSER_DATABASES  the databases the browser tests run on (default: "sqlite postgres";
#            on the others every test but those runs)
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || $PYTHON -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -e ".[test]" ${DJANGO:+"$DJANGO"}
# Django 5.2 has no django.tasks: the tasks runner's tests use the backport there.
if ! "$VENV/bin/python" -c 'import django.tasks' 2>/dev/null; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "django-tasks>=0.12"
fi
"$VENV/bin/python" -c 'import django, sys; print(f"Python {sys.version.split()[0]}, Django {django.get_version()}")'
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
BROWSER_DATABASES=${BROWSER_DATABASES:-sqlite postgres}
for database in sqlite postgres; do
    only=()
    if [[ " $BROWSER_DATABASES " != *" $database "* ]]; then
        only=(-m "not browser")
    fi
    echo "== tests on $database ${only[*]:+(${only[*]})}"
    RA_TEST_DB=$database "$VENV/bin/pytest" "${only[@]}" "$@"
done
