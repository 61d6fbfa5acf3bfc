"""The outbox relay in a loop, as a subprocess of the end-to-end tests.

In production ``celery beat`` sends the ``events.relay`` task every few seconds; here
a plain loop runs the same service every half second, in a process whose broker URL
the tests control (it goes through their switchable proxy), and stops on SIGTERM.
"""

import logging
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django

django.setup()

from django.db import connection  # noqa: E402

import project  # noqa: E402, F401  (binds the tasks to the project's Celery app)
from events import services  # noqa: E402

INTERVAL = float(os.environ.get("E2E_RELAY_INTERVAL", "0.5"))
logger = logging.getLogger("e2e.relay_loop")
stopping = False


def stop(signum, frame):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
logger.info("relay loop started (every %ss)", INTERVAL)
while not stopping:
    try:
        services.relay()
    except Exception:
        logger.exception("relay failed")
    finally:
        connection.close()
    time.sleep(INTERVAL)
logger.info("relay loop stopped")
