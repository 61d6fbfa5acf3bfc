import pytest

from events.handlers import backoff


@pytest.mark.parametrize(
    ("attempts", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0), (8, 128.0), (9, 256.0), (10, 300.0), (40, 300.0)]
)
def test_retry_delay_doubles_per_attempt_up_to_the_cap_with_jitter(settings, attempts, ceiling):
    settings.EVENTS_RETRY_BACKOFF_BASE = 1.0
    settings.EVENTS_RETRY_BACKOFF_MAX = 300.0

    delays = [backoff(attempts) for _ in range(200)]

    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1  # jitter: runs that failed together do not retry together
