"""The folders the embedded defaults keep their state in (``ORDERFLOW_VAR_DIR``, ``var/``
by default): the SQLite database, the file cache, the sandbox gateway's ledger, the
static files, and the filesystem broker's folders when that broker is in use.

Made when Django starts (``ProjectConfig.ready``), before anything opens a file there,
rather than as a side effect of reading the settings."""

from pathlib import Path

from django.conf import settings


def folders() -> list[Path]:
    """What must exist: the state folder and, on the filesystem broker, its folders."""
    wanted = [Path(settings.VAR_DIR)]
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        wanted += [Path(str(options[key])) for key in ("data_folder_in", "processed_folder", "control_folder")]
    return wanted


def prepare() -> None:
    for folder in folders():
        folder.mkdir(parents=True, exist_ok=True)
