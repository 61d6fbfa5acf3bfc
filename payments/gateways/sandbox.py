"""The sandbox gateway: a stand-in for an outside payment provider.

It decides by token: ``tok_ok`` is captured, ``tok_declined`` declined, ``tok_flaky``
fails with a transient error twice and is then captured. Like a real provider it keeps
its own ledger outside our database (a SQLite file of its own, ``SANDBOX_GATEWAY_DB``),
so a charge survives a rollback of the handler that made it, and it answers a repeated
idempotency key with the first result instead of charging again.
"""

import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from django.conf import settings

from . import ChargeResult, GatewayUnavailable, RefundResult, VoidResult

FLAKY_FAILURES = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (
    idempotency_key TEXT PRIMARY KEY,
    charge_id TEXT NOT NULL,
    token TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    captured INTEGER NOT NULL,
    decline_reason TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS attempts (
    idempotency_key TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS voids (
    idempotency_key TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS refunds (
    idempotency_key TEXT PRIMARY KEY,
    refund_id TEXT NOT NULL,
    charge_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
"""


class SandboxGateway:
    name = "sandbox"

    def __init__(self, path: str | None = None):
        self.path = path or settings.SANDBOX_GATEWAY_DB
        # One connection per process and thread, opened (and the schema made) once:
        # a provider's client keeps its connection too. Keyed by process as well, so a
        # forked worker never shares its parent's.
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        conn, pid = getattr(self._local, "conn", None), getattr(self._local, "pid", None)
        if conn is None or pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # A commit survives the process (WAL), not a power cut: the sandbox's faults
            # are killed processes, and an fsync per charge made it the slowest step.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            conn.row_factory = sqlite3.Row
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def charge(self, *, amount: Decimal, currency: str, token: str, idempotency_key: str) -> ChargeResult:
        with self._transaction() as conn:
            row = conn.execute("SELECT * FROM charges WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
            if row:
                return ChargeResult(bool(row["captured"]), row["charge_id"], row["decline_reason"])
            if conn.execute("SELECT 1 FROM voids WHERE idempotency_key = ?", (idempotency_key,)).fetchone():
                return ChargeResult(False, "", "voided")
            failures = self._count_flaky_attempt(conn, idempotency_key) if token == "tok_flaky" else None
            if failures is None or failures > FLAKY_FAILURES:
                captured = token != "tok_declined"
                result = ChargeResult(captured, f"ch_{uuid.uuid4().hex[:20]}", "" if captured else "card_declined")
                conn.execute(
                    "INSERT INTO charges (idempotency_key, charge_id, token, amount, currency, captured,"
                    " decline_reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        idempotency_key,
                        result.charge_id,
                        token,
                        str(amount),
                        currency,
                        int(captured),
                        result.decline_reason,
                    ),
                )
                return result
        # Committed above: the attempt counts even though the caller will roll back.
        raise GatewayUnavailable(f"sandbox: transient failure {failures} of {FLAKY_FAILURES}")

    @staticmethod
    def _count_flaky_attempt(conn: sqlite3.Connection, idempotency_key: str) -> int:
        conn.execute(
            "INSERT INTO attempts VALUES (?, 1) ON CONFLICT(idempotency_key) DO UPDATE SET count = count + 1",
            (idempotency_key,),
        )
        return conn.execute("SELECT count FROM attempts WHERE idempotency_key = ?", (idempotency_key,)).fetchone()[0]

    def refund(self, *, charge_id: str, amount: Decimal, idempotency_key: str) -> RefundResult:
        with self._transaction() as conn:
            return RefundResult(refund_id=self._refund(conn, charge_id, str(amount), idempotency_key))

    def void(self, *, idempotency_key: str) -> VoidResult:
        with self._transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO voids (idempotency_key) VALUES (?)", (idempotency_key,))
            charge = conn.execute(
                "SELECT charge_id, amount FROM charges WHERE idempotency_key = ? AND captured = 1", (idempotency_key,)
            ).fetchone()
            if charge is None:
                return VoidResult()
            refund_id = self._refund(conn, charge["charge_id"], charge["amount"], f"void:{idempotency_key}")
            return VoidResult(charge_id=charge["charge_id"], refund_id=refund_id)

    @staticmethod
    def _refund(conn: sqlite3.Connection, charge_id: str, amount: str, idempotency_key: str) -> str:
        row = conn.execute("SELECT refund_id FROM refunds WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
        if row:
            return row["refund_id"]
        refund_id = f"re_{uuid.uuid4().hex[:20]}"
        conn.execute(
            "INSERT INTO refunds (idempotency_key, refund_id, charge_id, amount) VALUES (?, ?, ?, ?)",
            (idempotency_key, refund_id, charge_id, amount),
        )
        return refund_id

    # The ledger, as a provider's dashboard would show it: for tests and operators.
    def captured_charges(self) -> list[dict]:
        with self._transaction() as conn:
            return [dict(r) for r in conn.execute("SELECT * FROM charges WHERE captured = 1 ORDER BY created_at")]

    def refunds(self) -> list[dict]:
        with self._transaction() as conn:
            return [dict(r) for r in conn.execute("SELECT * FROM refunds ORDER BY created_at")]
