from events.subscriptions import subscribe
from orders.signals import order_cancelled, order_paid

from . import tasks

subscribe(order_paid, tasks.award_points)
subscribe(order_cancelled, tasks.revoke_points)
