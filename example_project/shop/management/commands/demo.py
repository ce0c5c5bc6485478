import subprocess
import sys
import threading

from channels.routing import get_default_application
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from realtime_admin.checks import IN_MEMORY_LAYER
from shop import traffic


class Command(BaseCommand):
    help = "Migrates, seeds and serves the demo admin with a stream of writes."

    def add_arguments(self, parser):
        parser.add_argument("--port", default="8000")
        parser.add_argument("--interval", type=float, default=1.5)
        parser.add_argument("--no-traffic", action="store_true")

    def handle(self, *args, port, interval, no_traffic, **options):
        # This process serves the websockets, so its in-memory writes reach them.
        get_default_application()
        call_command("migrate", verbosity=0)
        traffic.seed()
        shared_layer = settings.CHANNEL_LAYERS["default"]["BACKEND"] != IN_MEMORY_LAYER
        self.stdout.write(
            self.style.SUCCESS(f"\n  realtime_admin demo: http://127.0.0.1:{port}/admin/\n")
            + "  log in as demo / demo (superuser) or alice / alice (sees her own orders only)\n"
        )
        stop, worker = threading.Event(), None
        if no_traffic:
            pass
        elif shared_layer:
            # A real second process, as a worker or cron job would be.
            worker = subprocess.Popen(
                [
                    sys.executable,
                    str(settings.BASE_DIR / "manage.py"),
                    "make_traffic",
                    "--interval",
                    str(interval),
                ],
                stdout=subprocess.DEVNULL,
            )
            self.stdout.write("  traffic: `manage.py make_traffic` runs as a second process\n")
        else:
            # The in-memory layer only reaches this process, so the writes happen here.
            threading.Thread(
                target=traffic.run, args=(interval, 0, stop, lambda line: None), daemon=True
            ).start()
            self.stdout.write(
                "  traffic: a thread of this server writes orders (set REDIS_URL to run it "
                "as its own process)\n"
            )
        try:
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)
        finally:
            stop.set()
            if worker:
                worker.terminate()
