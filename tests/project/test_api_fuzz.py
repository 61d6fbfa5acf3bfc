"""Schemathesis against the live API: the schema at /api/schema/ and the server agree.

The real system runs (gunicorn + celery worker + relay on the test database and broker,
tests/testkit/stack.py); Schemathesis reads the served schema and runs every check
(``--checks all``) on generated requests, valid and invalid (``--mode all``), in all
four phases: the schema's examples, coverage of each input's edges, random fuzzing, and
stateful sequences that follow the schema's links (a new order's id into its detail,
cancel and timeline; a product's SKU into its detail and change; ...). It signs in as
a shopper registered over HTTP, with a staff token for the staff-only product writes
and other shoppers' tokens for signing out and for revoking tokens (schemathesis.toml
beside this file).

Bounded (a fixed seed, ``--max-examples``; no ``--max-time``, which would make fuzzing
repeat until the time is spent) so that it takes a couple of minutes. Its report is
printed to the terminal even under pytest's capture, so it is in the CI log, and kept
in var/test/schemathesis-summary.txt.

It runs on every stack the suite runs on (on SQLite and the filesystem broker it takes
well under a minute here). Run it alone: ``make test PYTEST_ARGS="-m fuzz"``.
"""

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.management import call_command

from tests.factories import StaffUserFactory
from tests.testkit.stack import running_stack, settled
from users.services import create_token

pytestmark = [pytest.mark.fuzz]

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = 20260131
MAX_EXAMPLES = 50  # per operation and phase; the stateful phase has its own in schemathesis.toml
RUN_TIMEOUT = 600  # seconds: a bound on the whole run, far above its usual length
STACK_ENV = {
    # Well above what one fuzzing run sends, so the throttles do not decide its answers.
    "THROTTLE_ANON": "100000/min",
    "THROTTLE_USER": "100000/min",
    "THROTTLE_ORDERS": "100000/min",
    "THROTTLE_AUTH": "100000/min",
    "THROTTLE_SUPPORT": "100000/min",
    # Hundreds of sign-ups and sign-ins: PBKDF2's deliberate slowness would be most of the run.
    "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
    # The fuzzer registers webhooks at whatever URLs it makes up: their attempts must not
    # hold the worker for long.
    "WEBHOOKS_CONNECT_TIMEOUT": "1",
    "WEBHOOKS_READ_TIMEOUT": "1",
}


def schemathesis_command(base_url: str, shopper_token: str) -> list[str]:
    return [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{base_url}/api/schema/",
        "--checks=all",
        "--mode=all",
        "--phases=examples,coverage,fuzzing,stateful",
        f"--seed={SEED}",
        f"--max-examples={MAX_EXAMPLES}",
        # One worker: Hypothesis describing its strategies from two threads at once trips
        # a CPython 3.11 bug in ast.parse ("AST constructor recursion depth mismatch").
        "--workers=1",
        "--request-timeout=30",
        "--generation-database=none",
        f"--header=Authorization: Token {shopper_token}",
    ]


def sign_up(base_url: str, username: str) -> str:
    """A shopper's real token, from the API's own registration and sign-in."""
    credentials = {"username": username, "password": "a long fuzzing passphrase 7"}
    api = f"{base_url}/api/v1/auth"
    answer = requests.post(f"{api}/register", json={**credentials, "email": f"{username}@example.test"}, timeout=30)
    assert answer.status_code == 201, answer.text
    answer = requests.post(f"{api}/token", json=credentials, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


@pytest.mark.timeout(RUN_TIMEOUT + 300)
@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_nothing_wrong_with_the_live_api(capsys):
    if shutil.which("st", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("schemathesis is not installed: pip install -r requirements-dev.txt")
    var = Path(settings.VAR_DIR)
    summary = var / "schemathesis-summary.txt"
    with running_stack(var / "fuzz-logs", extra_env=STACK_ENV) as stack:
        call_command("seed_demo", stdout=io.StringIO())
        shopper_token = sign_up(stack.base_url, "fuzz-shopper")
        tokens = {
            "STAFF_TOKEN": create_token(StaffUserFactory()).key,
            "THROWAWAY_TOKEN": sign_up(stack.base_url, "fuzz-throwaway"),
            "DEVICES_TOKEN": sign_up(stack.base_url, "fuzz-devices"),
        }
        command = schemathesis_command(stack.base_url, shopper_token)
        run = subprocess.run(
            command,
            env={**os.environ, **tokens},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            cwd=var,
        )
        report = f"$ {' '.join(command[:-1])} --header='Authorization: Token ***'\n{run.stdout}{run.stderr}"
        summary.write_text(report)
        with capsys.disabled():
            print(f"\n{report}", flush=True)
        stack.check_alive()
        # The database is flushed next: let the worker finish first.
        stack.wait_for(settled, "every event dispatched and every handler run finished", timeout=120)

    assert run.returncode == 0, (
        f"schemathesis found failures (exit {run.returncode}); the report is above and in {summary}"
    )
