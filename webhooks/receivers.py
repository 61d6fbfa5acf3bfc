from events.public import subscribe_public

from . import selectors, tasks

# Asked by the dispatcher for every public event: a cached "does any endpoint want it",
# so that with no endpoint no handler run is even written.
subscribe_public(tasks.fan_out, when=selectors.someone_wants)
