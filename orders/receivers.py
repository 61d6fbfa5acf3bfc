from events.subscriptions import subscribe
from payments.signals import payment_captured, payment_failed

from . import tasks

subscribe(payment_captured, tasks.mark_paid)
subscribe(payment_failed, tasks.cancel_declined)
