"""The ASGI application: the whole API, REST and the live order streams (``live``).

Served by uvicorn, on its own (``uvicorn project.asgi:application``) or as gunicorn's
worker class (``gunicorn project.asgi -k uvicorn_worker.UvicornWorker``): each process
runs one event loop, on which a waiting stream holds no thread (see ``live.db``). The
synchronous REST views run on threads as under WSGI.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Read by the settings: under ASGI a connection kept after a request belongs to the
# request's thread, which is not reused, so kept connections pile up until PostgreSQL
# refuses clients ("too many clients", measured by the benchmark); this process
# borrows connections from a pool instead (project.settings, "Database").
os.environ["ORDERFLOW_SERVED_BY"] = "asgi"
application = get_asgi_application()
