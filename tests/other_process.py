"""A second process that writes like a worker or cron job would, driven over stdin/stdout.

Each input line is JSON ``{"do": "create"|"update"|"delete", "model": "shop.order", ...}``;
each output line is JSON with the pk touched and ``committed_at`` (epoch ms after commit).
"""

import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ["RA_TEST_USE_TEST_DB"] = "1"

import django  # noqa: E402

django.setup()

from django.apps import apps  # noqa: E402
from django.db import transaction  # noqa: E402

from tests import factories  # noqa: E402


def handle(command: dict) -> dict:
    action = command.pop("do")
    model = apps.get_model(command.pop("model", "shop.order"))
    with transaction.atomic():
        if action == "create":
            pk = factories.order(**command).pk
        elif action == "update":
            pk = command.pop("pk")
            row = model.objects.get(pk=pk)
            for field, value in command.items():
                setattr(row, field, value)
            row.save()
        elif action == "delete":
            pk = command["pk"]
            model.objects.get(pk=pk).delete()
        else:
            raise ValueError(action)
    return {"pk": pk, "committed_at": time.time() * 1000}


for line in sys.stdin:
    try:
        reply = handle(json.loads(line))
    except Exception as error:  # report, keep serving
        reply = {"error": repr(error)}
    print(json.dumps(reply), flush=True)
