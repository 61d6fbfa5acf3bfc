from events.subscriptions import subscribe
from orders.signals import order_cancelled, order_placed

from . import tasks

subscribe(order_placed, tasks.charge_order)
subscribe(order_cancelled, tasks.settle_cancelled_order)
