"""What the report says about the run itself: when, on what machine, with which
versions, at which commit and with which configuration."""

import datetime
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from . import backing_services
from .environment import FIXED_SETTINGS, ROOT, Resources, passed_through, without_password
from .processes import StackOptions
from .profiles import Profile

OPTIONAL_SETTINGS = ("EVENTS_RELAY_GRACE_SECONDS", "EVENTS_HANDLER_TIMEOUT", "PAYMENT_GATEWAY")
PACKAGES = ("Django", "djangorestframework", "celery", "kombu", "gunicorn", "psycopg")


@dataclass
class RunFacts:
    profile: str
    command: str
    date: str
    machine: dict
    versions: dict
    git: dict
    configuration: dict
    effective_settings: dict = field(default_factory=dict)

    @classmethod
    def collect(
        cls, *, profile: Profile, res: Resources, options: StackOptions, caller_env: dict, env: dict, run_dir: Path
    ) -> "RunFacts":
        return cls(
            profile=profile.name,
            command=" ".join([Path(sys.executable).name, *sys.argv]),
            date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            machine=machine(),
            versions={"Python": platform.python_version(), **{p: _version(p) for p in PACKAGES}},
            git=git(),
            configuration={
                "broker": res.broker,
                "broker_url": without_password(res.broker_url),
                "database_url": without_password(res.database_url),
                "web": f"gunicorn, {options.web_workers} "
                + ("sync workers (WSGI)" if options.web == "wsgi" else "uvicorn workers (ASGI)"),
                "worker": f"celery worker -c {options.worker_concurrency} (prefork), nice {options.pipeline_nice}",
                "relay": f"relay_events --loop --interval {options.relay_interval:g}, nice {options.pipeline_nice}",
                "set_by_the_bench": {k: v for k, v in FIXED_SETTINGS.items() if k != "PYTHONUNBUFFERED"},
                "from_your_environment": passed_through(caller_env, env),
                "run_dir": str(run_dir),
            },
        )

    def add_servers(self, res: Resources) -> None:
        """The servers' versions and the settings in force (Django set up)."""
        self.versions.update(backing_services.versions(res))
        self.effective_settings = effective_settings()

    def as_dict(self) -> dict:
        return asdict(self)


def machine() -> dict:
    meminfo = Path("/proc/meminfo")
    memory = next((line.split()[1] for line in meminfo.read_text().splitlines() if line.startswith("MemTotal")), "0")
    cpuinfo = Path("/proc/cpuinfo")
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")),
        platform.processor(),
    )
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "memory_gib": round(int(memory) / 2**20, 1),
        "cpu": model,
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def git() -> dict:
    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    commit = run("rev-parse", "HEAD")
    return {
        "commit": commit or "unknown (not a git checkout)",
        "uncommitted_changes": bool(run("status", "--porcelain")),
    }


def effective_settings() -> dict:
    """The settings that shape the figures, as the processes read them."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    cache = settings.CACHES["default"]
    return {
        "DEBUG": settings.DEBUG,
        "database": f"{db['ENGINE'].rsplit('.', 1)[-1]} {db.get('HOST') or 'localhost'}/{db['NAME']}",
        "CONN_MAX_AGE": db.get("CONN_MAX_AGE"),
        "cache": f"{cache['BACKEND'].rsplit('.', 1)[-1]} {cache.get('LOCATION', '')}",
        "throttle rates": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "ORDER_MAX_LINES": settings.ORDER_MAX_LINES,
        "EMAIL_BACKEND": settings.EMAIL_BACKEND,
        "log level": settings.LOGGING["root"]["level"],
        # Knobs of apps being reworked: whatever of them exists.
        **{name: getattr(settings, name) for name in OPTIONAL_SETTINGS if hasattr(settings, name)},
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
