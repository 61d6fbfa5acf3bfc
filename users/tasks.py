from celery import shared_task

from . import services


@shared_task(name="users.purge_expired_tokens", ignore_result=True)
def purge_expired_tokens() -> int:
    """Periodic (daily): delete API tokens long expired."""
    return services.purge_expired_tokens()
