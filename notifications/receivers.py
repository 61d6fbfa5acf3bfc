from events.subscriptions import subscribe
from orders.signals import order_cancelled, order_paid
from support.signals import question_answered, question_handed_over

from . import tasks

subscribe(order_paid, tasks.order_confirmed)
subscribe(order_cancelled, tasks.order_cancelled)
subscribe(question_answered, tasks.support_answered)
subscribe(question_handed_over, tasks.support_handed_over)
