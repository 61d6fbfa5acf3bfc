from events.subscriptions import subscribe
from orders.signals import order_cancelled, order_paid

from . import tasks

subscribe(order_paid, tasks.order_confirmed)
subscribe(order_cancelled, tasks.order_cancelled)
