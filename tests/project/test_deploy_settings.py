"""Production settings: with DEBUG off, ``manage.py check --deploy`` finds nothing to warn
about, a missing SECRET_KEY stops the process with a clear message, plain HTTP is sent
to HTTPS (health probes aside), and the knobs come from the environment by the names
the README gives. Settings are read once per process, so each case is a subprocess
with an environment of its own."""

import json
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

BASE_DIR = django_settings.BASE_DIR
# Names a developer's shell or the test run (pytest-env) may have set.
OURS = {
    "DEBUG",
    "SECRET_KEY",
    "TRUSTED_PROXIES",
    "NUM_PROXIES",
    "SECURE_SSL_REDIRECT",
    "CACHE_URL",
    "THROTTLE_ANON",
    "THROTTLE_USER",
    "THROTTLE_ORDERS",
    "THROTTLE_AUTH",
}


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in OURS}
    environ.update(env)
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=environ, capture_output=True, text=True, timeout=120
    )


def settings_of(names: list[str], **env: str) -> dict:
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}, default=str))"
    )
    done = run(["-c", code], DJANGO_SETTINGS_MODULE="project.settings", **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("proxies", ["none", "1", "10.0.0.5,10.0.1.0/24"])
def test_check_deploy_finds_nothing_to_warn_about_with_debug_off_and_a_strong_key(proxies):
    done = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        TRUSTED_PROXIES=proxies,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_debug_off_without_a_secret_key_refuses_to_start_and_says_why():
    done = run(["manage.py", "check"], DEBUG="false")

    assert done.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off" in done.stderr


def test_debug_off_without_saying_what_stands_in_front_refuses_to_start_and_says_how():
    done = run(["manage.py", "check"], DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50))

    assert done.returncode != 0
    assert (
        "ImproperlyConfigured: TRUSTED_PROXIES must be set when DEBUG is off: `none` when clients connect "
        "to this server directly"
    ) in done.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "TRUSTED_PROXIES='0': a count of proxies is 1 or more"),
        ("10.0.0.300", "TRUSTED_PROXIES: '10.0.0.300' is not an address or network"),
        ("the load balancer", "TRUSTED_PROXIES: 'the load balancer' is not an address or network"),
    ],
)
def test_a_proxy_declaration_that_means_nothing_is_refused_at_start(value, message):
    done = run(["manage.py", "check"], DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50), TRUSTED_PROXIES=value)

    assert done.returncode != 0
    assert message in done.stderr


def test_num_proxies_is_refused_saying_what_replaced_it():
    done = run(["manage.py", "check"], DEBUG="1", NUM_PROXIES="1")

    assert done.returncode != 0
    assert "NUM_PROXIES is replaced by TRUSTED_PROXIES" in done.stderr


def test_a_development_run_needs_no_secret_key_and_no_https():
    values = settings_of(["SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "SECURE_HSTS_SECONDS"], DEBUG="1")

    assert values == {"SECURE_SSL_REDIRECT": False, "SESSION_COOKIE_SECURE": False, "SECURE_HSTS_SECONDS": 0}


def test_throttle_rates_and_the_cache_come_from_the_environment():
    values = settings_of(
        ["REST_FRAMEWORK", "CACHES", "VAR_DIR"],
        DEBUG="1",
        THROTTLE_ANON="7/min",
        THROTTLE_USER="8/hour",
        THROTTLE_ORDERS="9/min",
        THROTTLE_AUTH="3/min",
        THROTTLE_SUPPORT="4/hour",
        CACHE_URL="redis://127.0.0.1:6379/1",
    )
    defaults = settings_of(["REST_FRAMEWORK", "CACHES", "VAR_DIR"], DEBUG="1")

    assert values["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"] == {
        "anon": "7/min",
        "user": "8/hour",
        "orders": "9/min",
        "auth": "3/min",
        "support": "4/hour",
    }
    assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert values["CACHES"]["default"]["LOCATION"] == "redis://127.0.0.1:6379/1"
    assert defaults["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"] == {
        "anon": "120/min",
        "user": "1200/min",
        "orders": "60/min",
        "auth": "10/min",
        "support": "10/min",
    }
    assert defaults["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert defaults["CACHES"]["default"]["LOCATION"] == os.path.join(defaults["VAR_DIR"], "cache")


def test_a_rate_that_is_not_a_rate_is_refused_at_start_naming_the_variable():
    done = run(["manage.py", "check"], DEBUG="1", THROTTLE_ORDERS="lots")

    assert done.returncode != 0
    assert "THROTTLE_ORDERS='lots': expected a rate such as 60/min" in done.stderr


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https_but_health_probes_are_not(client, settings):
    settings.SECURE_SSL_REDIRECT = True  # the production default; the test run turns it off

    redirected = client.get("/api/v1/products?page=2")
    probe = client.get("/healthz")
    secure = client.get("/api/v1/products", secure=True)  # TLS (at a proxy: tests/project/test_trusted_proxies.py)

    assert redirected.status_code == 301
    assert redirected["Location"] == "https://testserver/api/v1/products?page=2"
    assert probe.status_code == 200
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
