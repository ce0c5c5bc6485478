from django.core.management.base import BaseCommand

from shop import traffic


class Command(BaseCommand):
    help = (
        "Writes a steady stream of order changes from this process, as a worker or cron job "
        "would. Open admin tabs see them when the channel layer is shared (REDIS_URL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between writes.")
        parser.add_argument("--count", type=int, default=0, help="Stop after N writes (0: never).")

    def handle(self, *args, interval, count, **options):
        traffic.run(interval, count, log=self.stdout.write)
