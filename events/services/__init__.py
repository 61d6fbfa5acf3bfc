"""Every write of the events app, one module per job:

* ``outbox``: ``record`` an event in the transaction of the change it announces;
* ``dispatch``: send recorded events to their handlers, in batches (``dispatch_pending``);
* ``recovery``: the relay's second job, sending again handler runs whose message was
  lost, and giving up on those no worker ever takes (``relay`` does both jobs);
* ``dead_letters``: staff's two answers to a run that failed for good;
* ``retention``: deleting old, completely handled events.
"""

from .dead_letters import retry_failed, skip_failed
from .dispatch import DispatchReport, dispatch_events, dispatch_pending
from .outbox import record
from .recovery import RelayReport, give_up, relay, resend, resend_now
from .retention import PruneReport, prunable_events, prune

__all__ = [
    "DispatchReport",
    "PruneReport",
    "RelayReport",
    "dispatch_events",
    "dispatch_pending",
    "give_up",
    "prunable_events",
    "prune",
    "record",
    "relay",
    "resend",
    "resend_now",
    "retry_failed",
    "skip_failed",
]
