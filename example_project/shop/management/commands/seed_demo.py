from django.core.management.base import BaseCommand

from shop import traffic


class Command(BaseCommand):
    help = "Creates the demo users (demo/demo, alice/alice) and demo orders, once."

    def handle(self, *args, **options):
        traffic.seed()
        self.stdout.write("Demo data ready.")
