import pytest

from live import db


@pytest.fixture
def live_db(transactional_db):
    """The streams read on threads of their own (``live.db``): the test's rows must be
    committed for them to see, and their connections closed before the database is
    flushed or dropped."""
    yield
    db.close()
