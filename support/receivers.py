from events.subscriptions import subscribe

from . import tasks
from .signals import question_asked

subscribe(question_asked, tasks.answer_question)
