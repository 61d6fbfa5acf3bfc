from functools import partial

from events.public import subscribe_public

from . import sinks, tasks


def _enabled(name: str, event) -> bool:
    return sinks.is_enabled(name)


# Subscribed whatever the settings say, each asking its setting per event (a settings
# read: cheap for the dispatcher): a sink that is not configured gets no handler runs,
# and the catalog still shows where each public event may go.
for _name, _task in tasks.BY_SINK.items():
    subscribe_public(_task, when=partial(_enabled, _name))
