"""Setting a run up: its broker, its database and schema, Django in the bench process,
the seed data.

The bench process itself runs Django on the run's environment (``bench.settings``, the
run's database and broker), to read progress from the database and ping the worker;
it never serves requests.
"""

import hashlib
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from . import backing_services
from .environment import ROOT, Resources
from .profiles import Profile
from .workload import Workload

FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


def prepare_broker(res: Resources) -> None:
    backing_services.prepare_broker(res)


def prepare_database(res: Resources, env: dict[str, str], log_dir: Path) -> str:
    """The run's database, migrated; says whether it started as a copy of the template."""
    fingerprint = migrations_fingerprint()
    copied = backing_services.recreate_database(res, fingerprint)
    _run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], env, log_dir / "migrate.log")
    if not copied:
        backing_services.save_template(res, fingerprint)
    return "copied from the template database, then migrate (nothing to do)" if copied else "migrated"


def migrations_fingerprint() -> str:
    """SHA-256 over every migration file of the project and the installed packages'
    versions (Django's and the third-party apps' migrations come with them)."""
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    for package in ("Django", "djangorestframework", "django-celery-beat"):
        digest.update(f"{package}=={metadata.version(package)}".encode())
    return digest.hexdigest()


def setup_django(env: dict[str, str]) -> None:
    """Django in this process, on the run's environment."""
    os.environ.update(env)
    import django

    django.setup()


def seed(env: dict[str, str], profile: Profile, run_dir: Path) -> Workload:
    """Run ``bench.seed`` with a fast password hasher of its own; returns the workload."""
    out = run_dir / "workload.json"
    args = [sys.executable, "-m", "bench.seed", "--products", str(profile.products)]
    args += ["--customers", str(profile.customers), "--out", str(out)]
    _run(args, {**env, "PASSWORD_HASHERS": FAST_HASHER}, run_dir / "logs" / "seed.log")
    return Workload.load(out)


def _run(args: list[str], env: dict[str, str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        done = subprocess.run(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{' '.join(args[1:4])} failed with {done.returncode}; {log}:\n{tail}")


def purge_leftovers() -> None:
    """A killed run may have left messages in the run's vhost: they name events of a
    database that no longer exists."""
    backing_services.purge_task_queues()
