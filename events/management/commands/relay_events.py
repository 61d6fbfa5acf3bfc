from django.core.management.base import BaseCommand

from events.management import relay


class Command(BaseCommand):
    help = (
        "Dispatch events left undispatched and re-send handler runs past their deadline (the same as `events relay`)."
    )

    def add_arguments(self, parser):
        relay.add_arguments(parser)

    def handle(self, *args, loop, interval, verbosity, **options):
        relay.run(self, loop=loop, interval=interval, verbosity=verbosity)
