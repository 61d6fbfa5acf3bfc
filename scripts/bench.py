#!/usr/bin/env python
"""Benchmark: how fast the API takes orders, and how long an order takes to be paid.

Starts its own web server (gunicorn) and worker (celery) on the configured database
and broker (DATABASE_URL / CELERY_BROKER_URL; embedded defaults in a temporary
folder otherwise), then measures, in one run:

* baseline: GET /api/v1/products/{sku} — a cheap authenticated-free read;
* POST /api/v1/orders — commit the order, record and dispatch order.placed;
* placement → paid: how long until the worker has charged and marked it paid.

and prints the figures with the ratio of order placement to the baseline. Bounded:
``--orders`` requests per phase (default 200), ``--timeout`` seconds to settle.

    .venv/bin/python scripts/bench.py --orders 200
"""

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args()

    env = dict(os.environ)
    env.setdefault("ORDERFLOW_VAR_DIR", tempfile.mkdtemp(prefix="orderflow-bench-"))
    env["DEBUG"] = "0"
    env.setdefault("SECRET_KEY", secrets.token_urlsafe(50))  # DEBUG off needs one; this run's own
    env["SECURE_SSL_REDIRECT"] = "false"  # plain HTTP to gunicorn
    # One client places every order: measure the server, not the throttle.
    for name in ("THROTTLE_ANON", "THROTTLE_USER", "THROTTLE_ORDERS", "THROTTLE_AUTH"):
        env[name] = "1000000/min"
    env["LOG_LEVEL"] = "WARNING"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    manage = [str(BIN / "python"), str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "seed_demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    # Enough stock that the run measures ordering, not running out; through the
    # catalog's service, which counts it as received (stock stays conserved).
    restock = (
        "from catalog import selectors, services\n"
        "for product in selectors.product_list():\n"
        "    services.update_product(product=product, stock=10**9)"
    )
    subprocess.run(
        [*manage, "shell", "-c", restock],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    procs = [
        subprocess.Popen(
            [str(BIN / "gunicorn"), "project.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "--no-control-socket"],
            cwd=ROOT,
            env=env,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [str(BIN / "celery"), "-A", "project", "worker", "-l", "warning", "--concurrency", "2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        session = requests.Session()
        wait_until(lambda: _ok(session, f"{base}/healthz"), 30, "the web server")
        name = f"bench{uuid.uuid4().hex[:8]}"
        session.post(
            f"{base}/api/v1/auth/register",
            json={"username": name, "email": f"{name}@bench.localhost", "password": "bench-Pa55word"},
        ).raise_for_status()
        token = session.post(f"{base}/api/v1/auth/token", json={"username": name, "password": "bench-Pa55word"})
        session.headers["Authorization"] = f"Token {token.json()['token']}"

        started = time.perf_counter()
        for _ in range(args.orders):
            session.get(f"{base}/api/v1/products/MUG-01").raise_for_status()
        read_rate = args.orders / (time.perf_counter() - started)

        placed: dict[int, float] = {}
        latencies = []
        started = time.perf_counter()
        for _ in range(args.orders):
            t0 = time.perf_counter()
            r = session.post(f"{base}/api/v1/orders", json={"items": [{"sku": "MUG-01", "quantity": 1}]})
            r.raise_for_status()
            latencies.append(time.perf_counter() - t0)
            placed[r.json()["id"]] = time.perf_counter()
        order_rate = args.orders / (time.perf_counter() - started)

        paid_after: dict[int, float] = {}
        deadline = time.monotonic() + args.timeout
        while len(paid_after) < len(placed) and time.monotonic() < deadline:
            url = f"{base}/api/v1/orders?page_size=100"
            while url:
                page = session.get(url).json()
                for order in page["results"]:
                    if order["status"] == "paid" and order["id"] in placed and order["id"] not in paid_after:
                        paid_after[order["id"]] = time.perf_counter() - placed[order["id"]]
                url = page["next"]
            time.sleep(0.2)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)

    to_paid = list(paid_after.values())
    print(f"database: {env.get('DATABASE_URL', 'sqlite (embedded)')}")
    print(f"broker:   {env.get('CELERY_BROKER_URL', 'filesystem:// (embedded)')}")
    print(f"requests per phase: {args.orders}, sequential, one client")
    print(f"{'baseline GET product':32} {read_rate:8.1f} req/s")
    print(f"{'POST order':32} {order_rate:8.1f} req/s   ratio to baseline {order_rate / read_rate:.2f}")
    print(
        f"{'POST order latency':32} p50 {statistics.median(latencies) * 1000:6.1f} ms"
        f"   p95 {percentile(latencies, 0.95) * 1000:6.1f} ms"
    )
    if to_paid:
        print(
            f"{'placed -> paid':32} p50 {statistics.median(to_paid):6.2f} s    p95 {percentile(to_paid, 0.95):6.2f} s"
            f"   ({len(to_paid)}/{len(placed)} paid within {args.timeout:.0f} s)"
        )
    else:
        print(f"placed -> paid: none of {len(placed)} orders paid within {args.timeout:.0f} s")
    if len(to_paid) < len(placed):
        raise SystemExit(1)


def _ok(session: requests.Session, url: str) -> bool:
    try:
        return session.get(url, timeout=1).ok
    except requests.RequestException:
        return False


if __name__ == "__main__":
    main()
