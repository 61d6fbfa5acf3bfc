from django.core.management.base import BaseCommand, CommandParser

from events.management import relay


class Command(BaseCommand):
    help = (
        "Dispatch events left undispatched and re-send handler runs past their deadline (the same as `events relay`)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        relay.add_arguments(parser)

    def handle(self, *args: str, loop: bool, interval: float, verbosity: int, **options: object) -> None:
        relay.run(self, loop=loop, interval=interval, verbosity=verbosity)
