"""Settings for the benchmark's processes: the project's own, with the URL conf that
adds the bare baseline endpoint (``bench.urls``). Everything else, every knob read
from the environment included, is exactly what production runs."""

from project.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
